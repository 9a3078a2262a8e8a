"""The authoritative side of a run: final verdicts, the v2 report, the exit code, the summary.

:class:`ControllerPlugin` is registered in the process that owns the session (the only process of
a serial run, the xdist controller otherwise), never on a worker. Its ``pytest_runtest_logreport``
wrapper runs before the session's failure count, the terminal, junitxml and every other reporter,
so they all see the same final outcome.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Mapping
from typing import Any

import pytest

from pytest_selftest import interrupts, summary
from pytest_selftest.config.run import SelftestRun
from pytest_selftest.decided import (
    TEST_STATUS_WORDS,
    apply_to_report,
    verdict_properties,
    waiver_dict,
)
from pytest_selftest.items import tier_of
from pytest_selftest.ledger import Decision, Ledger, in_plan_order, with_runxfail_note
from pytest_selftest.outcome import (
    FAILED,
    FAILING_STATUSES,
    USER_SKIP,
    ResultRecord,
    result_record,
)
from pytest_selftest.outputs import OptionalOutputs
from pytest_selftest.report import build_report, write_report
from pytest_selftest.runinfo import run_metadata
from pytest_selftest.statefiles import StateFileError
from pytest_selftest.verdict import (
    NO_TESTS_EXIT,
    UNTRUSTED_EXIT,
    RunVerdict,
    missing_command,
    run_verdict,
    unstartable,
)
from pytest_selftest.worker import step_identity


class ControllerPlugin:
    """Decides every verdict and writes the outputs at session end (controller only)."""

    def __init__(self, run: SelftestRun, config: pytest.Config) -> None:
        self.run = run
        self.config = config
        self.ledger = Ledger(
            run.policy,
            run.waivers,
            runxfail=bool(config.option.runxfail),
            skipped_waivers=run.skipped_waivers,
        )
        self.records: dict[str, ResultRecord] = {}
        self.decisions: dict[str, Decision] = {}
        # Node ids in collection order, and whether a step or tier-marked test was selected:
        # from session.items in a serial run, from the workers' collections under xdist.
        self.collection_order: dict[str, int] = {}
        self.selected = False
        self.collection_errors = 0
        self.started = time.perf_counter()
        self.report: dict[str, Any] | None = None
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.previous_handlers: dict[int, Any] = {}
        self.teardown_properties: dict[str, list[tuple[str, str]]] = {}
        self.outputs = OptionalOutputs(config, run, self.warnings)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, None, None]:
        info = getattr(report, "selftest", None)
        if isinstance(info, dict) and "verdict" not in info:
            self._finalise(report, info)
        elif report.when == "teardown":  # junitxml and json-report read this report's properties
            report.user_properties.extend(self.teardown_properties.pop(report.nodeid, []))
        return (yield)

    def _finalise(self, report: pytest.TestReport, info: dict[str, Any]) -> None:
        if info.pop("crashed", False):  # the crash report names the step only: add its identity
            step = self.run.catalogue.by_id[info["step_id"]]
            info.update(step_identity(step, info["nodeid"]))
        self.warnings.extend(w for w in info.pop("cache_warnings", []) if w not in self.warnings)
        decision = self._decide(info)
        self.decisions[info["step_id"]] = decision
        info["verdict"] = decision.verdict
        info["waiver_unused"] = decision.waiver_unused
        info["verdict_reason"] = decision.message
        info["waiver"] = waiver_dict(decision)
        info["notes"] = with_runxfail_note(info.get("notes") or [], decision)
        if info["status"] in FAILING_STATUSES or decision.verdict == FAILED:
            apply_to_report(report, decision)
        none: list[tuple[str, str]] = []
        properties = self.outputs.guard(
            "the JUnit properties", lambda: verdict_properties(info, report.user_properties), none
        )
        report.user_properties.extend(properties)
        self.teardown_properties[report.nodeid] = properties
        self.records[info["step_id"]] = result_record(info)

    def _decide(self, info: Mapping[str, Any]) -> Decision:
        reason = info.get("reason")
        via = self.run.user_skips.get(info["step_id"]) if reason == USER_SKIP else None
        return self.ledger.decide(info["step_id"], info["tier"], info["status"], reason, via)

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> tuple[str, str, tuple[str, Mapping[str, bool]]] | None:
        info = getattr(report, "selftest", None)
        verdict = info.get("verdict") if isinstance(info, dict) else None
        if verdict in TEST_STATUS_WORDS and report.skipped:
            letter, word = TEST_STATUS_WORDS[verdict]
            return "xfailed", letter, (word, {"yellow": True})
        if verdict == FAILED and report.when == "setup" and report.failed:
            return "failed", "F", ("FAILED", {"red": True})  # a blocking skip, not a setup error
        cache = info.get("cache") if isinstance(info, dict) else None
        if report.passed and isinstance(cache, dict) and cache.get("status") == "hit":
            return "passed", ".", ("PASSED (cached)", {"green": True})
        return None

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._collected(item.nodeid for item in session.items)
        self.selected = self.selected or any(tier_of(item) for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        """Under xdist the controller collects nothing: the workers' collections tell it."""
        self._collected(ids)
        steps = {step.nodeid for step in self.run.catalogue.steps}
        self.selected = self.selected or any(nodeid in steps for nodeid in ids)

    def _collected(self, nodeids: Iterable[str]) -> None:
        for nodeid in nodeids:
            self.collection_order.setdefault(nodeid, len(self.collection_order))

    @pytest.hookimpl
    def pytest_sessionstart(self) -> None:
        """SIGTERM ends the run like Ctrl-C: step processes killed, an INTERRUPTED report."""
        self.previous_handlers = interrupts.install()

    @pytest.hookimpl
    def pytest_unconfigure(self) -> None:
        interrupts.restore(self.previous_handlers)

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors += 1

    @pytest.hookimpl
    def pytest_report_header(self) -> str:
        return summary.header_line(self.run)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, None, None]:
        if not self.config.option.collectonly:
            session.exitstatus = self._finish(session, int(exitstatus))
        return (yield)

    def _finish(self, session: pytest.Session, exitstatus: int) -> int:
        if not (self.selected or self.records or self.run.options_given):
            return exitstatus  # SPEC §8: nothing to judge, so no section and no file
        results = self._ordered_results()
        self._word_in_plan_order(results)
        verdict = self._verdict(session, exitstatus, results)
        self.problems.extend(_unstartable_problems(results))
        report = self._build(results, verdict)
        code = self._write_outputs(report, verdict.exit_code)
        self.report = report
        self.config.hook.pytest_selftest_report_ready(config=self.config, report=report)
        return code

    def _word_in_plan_order(self, results: list[ResultRecord]) -> None:
        """Budget counts in the report follow plan order, as in a serial run (SPEC §13)."""
        decisions = [self.decisions[r["step_id"]] for r in results]
        for record, decision in zip(results, in_plan_order(self.ledger, decisions), strict=True):
            record["verdict_reason"] = decision.message

    def _verdict(
        self, session: pytest.Session, exitstatus: int, results: list[ResultRecord]
    ) -> RunVerdict:
        test_failures = bool(session.testsfailed) or exitstatus in (
            pytest.ExitCode.TESTS_FAILED,
            pytest.ExitCode.INTERRUPTED,
        )
        return run_verdict(
            results,
            untrusted=self._untrusted(session, exitstatus),
            test_failures=test_failures,
            nothing_ran=self._nothing_ran(exitstatus),
        )

    def _untrusted(self, session: pytest.Session, exitstatus: int) -> RunVerdict | None:
        """The session's own ending when it leaves no trustworthy outcome, else None."""
        if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
            return RunVerdict("INTERRUPTED", exitstatus, "internal_error")
        if exitstatus == pytest.ExitCode.USAGE_ERROR:
            return RunVerdict("INTERRUPTED", exitstatus, "usage_error")
        if self.collection_errors:
            return RunVerdict("CONFIG_ERROR", UNTRUSTED_EXIT, "collection_error")
        if exitstatus == pytest.ExitCode.INTERRUPTED and not session.shouldfail:
            return RunVerdict("INTERRUPTED", UNTRUSTED_EXIT, "interrupted")
        return None

    def _nothing_ran(self, exitstatus: int) -> RunVerdict | None:
        if exitstatus != pytest.ExitCode.NO_TESTS_COLLECTED:
            return None
        if self.run.shard:  # more shards than dependency components: nothing to do here
            return RunVerdict("PASS", 0, "empty_shard")
        return RunVerdict("PASS", NO_TESTS_EXIT, "no_tests_collected")

    def _ordered_results(self) -> list[ResultRecord]:
        rank = {step_id: index for index, step_id in enumerate(self.run.catalogue.ids)}
        steps = sorted(
            (r for r in self.records.values() if r["step_id"] in rank),
            key=lambda r: rank[r["step_id"]],
        )
        tests = [r for r in self.records.values() if r["step_id"] not in rank]
        last = len(self.collection_order)
        tests.sort(key=lambda r: self.collection_order.get(r["nodeid"], last))
        return steps + tests

    def _build(self, results: list[ResultRecord], verdict: RunVerdict) -> dict[str, Any]:
        ran = {r["step_id"] for r in results}
        workers = getattr(self.config.option, "numprocesses", None) or 0
        metadata = run_metadata(
            rootdir=self.run.project.rootdir,
            env=self.run.policy.env,
            run_id=self.run.run_id,
            clock=self.run.clock,
            workers=int(workers) if isinstance(workers, int) else 0,
            partial=not set(self.run.catalogue.ids) <= ran,
            pytest_version=pytest.__version__,
            catalogue_digest=self.run.catalogue.digest,
            shard=self.run.shard,
        )
        return build_report(
            results,
            metadata=metadata,
            policy=self.run.policy,
            non_blocking=self.ledger.non_blocking,
            verdict=verdict.verdict,
            exit_code=verdict.exit_code,
            exit_reason=verdict.reason,
            wall_duration_ms=int((time.perf_counter() - self.started) * 1000),
            warnings=self.run.warnings,
        )

    def _write_outputs(self, report: dict[str, Any], code: int) -> int:
        """The degradation log, the report (with the final exit code), then the extras.

        A log or report that cannot be written means no trustworthy record: exit 2. Metrics
        and the GitHub step summary only warn: monitoring must not change the verdict.
        """
        from pytest_selftest.degradations import (
            DegradationLogError,
            append_entries,
            entries_for_report,
        )

        entries = entries_for_report(report)
        if entries:
            try:
                append_entries(self.run.project.degradation_log_path, entries)
            except DegradationLogError as exc:
                code = self._cannot_write(report, str(exc), "degradation_log_write_failed")
        try:
            write_report(self.run.report_path, report)
        except StateFileError as exc:
            code = self._cannot_write(report, str(exc), "report_write_failed")
        self.outputs.emit(report)
        return code

    def _cannot_write(self, report: dict[str, Any], problem: str, reason: str) -> int:
        self.problems.append(problem)
        report["summary"].update(exit_code=2, exit_reason=reason)
        return 2

    @pytest.hookimpl(optionalhook=True)
    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        """pytest-json-report's file gets the v2 summary under ``selftest``.

        json-report builds its file in its own ``pytest_sessionfinish``, inside our wrapper of that
        hook, so the report is already decided (``None`` only under ``--collect-only``).
        """
        if self.report is not None:
            json_report["selftest"] = dict(self.report["summary"])

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.report is None:
            return
        terminalreporter.write_sep("=", "selftest")
        lines = summary.summary_lines(self.report, self.run, self.problems, self.warnings)
        for line in lines:
            terminalreporter.write_line(line)
        if self.outputs.html_path is not None:
            terminalreporter.write_line(f"HTML: {self.outputs.html_path}")


def _unstartable_problems(results: Iterable[Mapping[str, Any]]) -> list[str]:
    return [
        f"step '{r['step_id']}' could not start its command '{missing_command(r)}' "
        f"(exit {r['exit_code']}): no trustworthy verdict; install it or fix the step's run"
        for r in unstartable(results)
    ]
