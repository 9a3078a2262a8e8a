"""Merging shard reports into one report with the policy applied across them (SPEC §10, §13).

Each shard of a CI matrix decided its verdicts with its own governance budget: two shards with
one waived governance failure each both pass in staging, although the whole run has two and
staging allows one. The merge therefore keeps each step's raw status and re-decides every verdict
with a fresh :class:`~pytest_selftest.policy.Ledger` — the same logic a run uses — fed in plan
order when the catalogue is known, so the merged report says what one serial run would have said.

Reports that cannot be merged honestly are refused with :class:`MergeError`: other catalogues,
other policies, a step in two reports, or something that is not a v2 report.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from pytest_selftest.ledger import Ledger, with_runxfail_note
from pytest_selftest.outcome import (
    RUNXFAIL_NOTE,
    USER_SKIP,
    ResultRecord,
    RunVerdictWord,
    result_record,
)
from pytest_selftest.policy import Policy
from pytest_selftest.report import REPORT_VERSION, build_report
from pytest_selftest.runinfo import new_run_id
from pytest_selftest.sharding import parse_shard
from pytest_selftest.verdict import NO_TESTS_EXIT, UNTRUSTED_EXIT, RunVerdict, run_verdict
from pytest_selftest.waivers import APPROVED, Waiver, parse_time

# Verdicts that leave no trustworthy outcome: any input with one hands it to the merge (exit 2).
UNTRUSTED_VERDICTS: tuple[RunVerdictWord, ...] = ("CONFIG_ERROR", "INTERRUPTED")
_POLICY_RULES = (
    "env",
    "governance_budget",
    "require_waiver",
    "honour_waivers",
    "optional_blocks",
    "allow_user_skips",
)
_RESULT_REQUIRED = ("step_id", "tier", "status")


class MergeError(Exception):
    """Reports that must not be merged; the message names the reports and the values at odds."""


def merge_reports(
    reports: Sequence[Mapping[str, Any]],
    catalogue_order: Sequence[str] | None = None,
    *,
    names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One v2 report from shard reports, with every verdict decided again across all of them.

    ``catalogue_order`` (the step ids in plan order) orders the results and the budget decisions
    like a serial run, and tells whether the union covers the catalogue (``metadata.partial``).
    ``names`` (file names, by default ``report 1``, ``report 2``...) are used in error messages.
    """
    if not reports:
        raise MergeError("no reports to merge")
    labels = list(names or (f"report {number}" for number in range(1, len(reports) + 1)))
    for report, label in zip(reports, labels, strict=True):
        _check_v2(report, label)
    base = _check_compatible(reports, labels)
    results = _ordered(_combined_results(reports, labels), catalogue_order)
    policy = policy_from_report(base["summary"]["policy"])
    ledger = Ledger(policy, _waivers(results), runxfail=_ran_with_runxfail(results))
    decided = [_decide(ledger, result) for result in results]
    verdict, exit_code, exit_reason = _overall(reports, decided)
    return build_report(
        decided,
        metadata=_metadata(base, reports, decided, catalogue_order),
        policy=policy,
        non_blocking=ledger.non_blocking,
        verdict=verdict,
        exit_code=exit_code,
        exit_reason=exit_reason,
        wall_duration_ms=max(int(r["summary"].get("wall_duration_ms", 0)) for r in reports),
        errors=_unique(e for r in reports for e in r.get("errors") or []),
        warnings=_unique(w for r in reports for w in r.get("warnings") or []),
    )


def policy_from_report(policy: Mapping[str, Any]) -> Policy:
    """The :class:`Policy` a report's ``summary.policy`` describes."""
    return Policy(
        env=str(policy["env"]),
        governance_budget=policy["governance_budget"],
        require_waiver=bool(policy["require_waiver"]),
        honour_waivers=bool(policy["honour_waivers"]),
        optional_blocks=bool(policy["optional_blocks"]),
        allow_user_skips=bool(policy.get("allow_user_skips", True)),
        source="merged shard reports",
    )


# --- refusals ------------------------------------------------------------------------------------


def _check_v2(report: Mapping[str, Any], label: str) -> None:
    """Refuse anything the merge would have to guess about: the v2 shape, down to each result."""
    if report.get("version") != REPORT_VERSION:
        raise MergeError(
            f"{label}: not a v2 selftest report (version {report.get('version')!r}, "
            f"expected {REPORT_VERSION!r})"
        )
    for key, kind in (("metadata", dict), ("summary", dict), ("results", list)):
        if not isinstance(report.get(key), kind):
            raise MergeError(f"{label}: not a v2 selftest report (no '{key}' {kind.__name__})")
    summary = report["summary"]
    policy = summary.get("policy")
    if not isinstance(policy, dict) or any(k not in policy for k in _POLICY_RULES):
        raise MergeError(f"{label}: not a v2 selftest report (no complete summary.policy)")
    if summary.get("verdict") is None:
        raise MergeError(f"{label}: not a v2 selftest report (no summary.verdict)")
    for number, result in enumerate(report["results"], start=1):
        missing = [k for k in _RESULT_REQUIRED if not isinstance(result, dict) or k not in result]
        if missing:
            raise MergeError(
                f"{label}: not a v2 selftest report (result {number} has no {', '.join(missing)})"
            )


def _check_compatible(
    reports: Sequence[Mapping[str, Any]], labels: Sequence[str]
) -> Mapping[str, Any]:
    """Same catalogue and same policy everywhere; returns the report the others are held to.

    A CONFIG_ERROR report is exempt: its run never loaded the catalogue or resolved the env, so
    it carries neither; it still makes the merge a CONFIG_ERROR.
    """
    comparable = [
        (report, label)
        for report, label in zip(reports, labels, strict=True)
        if report["summary"]["verdict"] != "CONFIG_ERROR"
    ]
    if not comparable:
        return reports[0]
    base, base_label = comparable[0]
    for report, label in comparable[1:]:
        _same_catalogue(base, base_label, report, label)
        _same_policy(base, base_label, report, label)
    return base


def _same_catalogue(
    first: Mapping[str, Any], first_label: str, other: Mapping[str, Any], other_label: str
) -> None:
    expected = first["metadata"].get("catalogue_digest")
    found = other["metadata"].get("catalogue_digest")
    if found != expected:
        raise MergeError(
            f"reports of different catalogues: {first_label} has catalogue {_short(expected)}; "
            f"{other_label} has catalogue {_short(found)} (the steps changed between the runs: "
            "run every shard on the same commit)"
        )


def _same_policy(
    first: Mapping[str, Any], first_label: str, other: Mapping[str, Any], other_label: str
) -> None:
    expected = first["summary"]["policy"]
    found = other["summary"]["policy"]
    differing = [key for key in _POLICY_RULES if expected.get(key) != found.get(key)]
    if differing:
        raise MergeError(
            f"reports of different policies: {first_label} has "
            f"{_values(expected, differing)}; {other_label} has {_values(found, differing)} "
            "(run every shard with the same --selftest-env)"
        )


def _short(digest: object) -> str:
    return digest[:12] if isinstance(digest, str) else "none"


def _values(policy: Mapping[str, Any], keys: Sequence[str]) -> str:
    return ", ".join(f"{key} {policy.get(key)!r}" for key in keys)


# --- results -------------------------------------------------------------------------------------


def _combined_results(
    reports: Sequence[Mapping[str, Any]], labels: Sequence[str]
) -> list[dict[str, Any]]:
    """Every result once, in report order, with its report's label and clock; refuse doubles."""
    seen: dict[str, str] = {}
    combined = []
    for report, label in zip(reports, labels, strict=True):
        clock = report["metadata"].get("policy_clock")
        for result in report["results"]:
            step_id = result["step_id"]
            if step_id in seen:
                raise MergeError(
                    f"step '{step_id}' appears in both {seen[step_id]} and {label} (each step "
                    "must run in exactly one shard: use the same K/N split on every shard)"
                )
            seen[step_id] = label
            combined.append({**result, "_clock": clock, "_from": label})
    return combined


def _ordered(
    results: list[dict[str, Any]], catalogue_order: Sequence[str] | None
) -> list[dict[str, Any]]:
    """Catalogue steps in plan order, then everything else (marked pytest tests) as it came."""
    if catalogue_order is None:
        return results
    rank = {step_id: index for index, step_id in enumerate(catalogue_order)}
    steps = sorted((r for r in results if r["step_id"] in rank), key=lambda r: rank[r["step_id"]])
    return steps + [r for r in results if r["step_id"] not in rank]


def _waivers(results: Sequence[Mapping[str, Any]]) -> dict[str, Waiver]:
    """The active waivers the shards saw, rebuilt from the results' ``waiver`` fields.

    Each shard evaluated expiry at its own policy clock, so every waiver here counts as active.
    """
    found = {}
    for result in results:
        waiver = result.get("waiver")
        if not waiver:
            continue
        try:
            expires_at = parse_time(waiver["expires_at"])
            found[result["step_id"]] = Waiver(
                step_id=result["step_id"],
                reason=str(waiver["reason"]),
                approver=str(waiver["approver"]),
                created_at=parse_time(result["_clock"]) if result["_clock"] else expires_at,
                expires_at=expires_at,
                status=APPROVED,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MergeError(
                f"{result['_from']}: step '{result['step_id']}': malformed waiver {waiver!r}"
            ) from exc
    return found


def _ran_with_runxfail(results: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a shard ran with ``--runxfail``: then no failure may be non-blocking globally.

    Read from the note the run put on each result ``--runxfail`` made ``failed``.
    """
    return any(
        str(note).startswith(RUNXFAIL_NOTE) for r in results for note in r.get("notes") or []
    )


def _decide(ledger: Ledger, result: Mapping[str, Any]) -> ResultRecord:
    if result.get("reason") == USER_SKIP:  # decided by the same policy, using no budget
        return result_record(result)
    decision = ledger.decide(
        result["step_id"], result["tier"], result["status"], result.get("reason")
    )
    return result_record(
        {
            **result,
            "verdict": decision.verdict,
            "verdict_reason": decision.message,
            "waiver_unused": decision.waiver_unused,
            "notes": with_runxfail_note(result.get("notes") or [], decision),
        }
    )


# --- the run as a whole --------------------------------------------------------------------------


def _overall(reports: Sequence[Mapping[str, Any]], results: Sequence[ResultRecord]) -> RunVerdict:
    """The merged run's verdict, by the rule a run uses, from the reports' fields."""
    return run_verdict(
        results,
        untrusted=_untrusted(reports),
        test_failures=any(r["summary"].get("exit_reason") == "test_failures" for r in reports),
        nothing_ran=None if results else RunVerdict("PASS", NO_TESTS_EXIT, "no_tests_collected"),
    )


def _untrusted(reports: Sequence[Mapping[str, Any]]) -> RunVerdict | None:
    """The first input without a trustworthy outcome hands its verdict to the merge (exit 2)."""
    for verdict in UNTRUSTED_VERDICTS:
        for report in reports:
            if report["summary"]["verdict"] == verdict:
                return RunVerdict(
                    verdict, UNTRUSTED_EXIT, str(report["summary"].get("exit_reason"))
                )
    return None


def _metadata(
    base: Mapping[str, Any],
    reports: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    catalogue_order: Sequence[str] | None,
) -> dict[str, Any]:
    """The base report's metadata, as one run: a new run id, no shard, the shards' run ids."""
    ran = {r["step_id"] for r in results}
    partial = (
        not set(catalogue_order) <= ran
        if catalogue_order is not None
        else _partial_without_catalogue(reports, results)
    )
    return {
        **base["metadata"],
        "run_id": new_run_id(datetime.now(timezone.utc)),
        "workers": sum(int(r["metadata"].get("workers") or 0) for r in reports),
        "partial": partial,
        "shard": None,
        "merged_from": [r["metadata"].get("run_id") for r in reports],
    }


def _partial_without_catalogue(
    reports: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> bool:
    """Without the catalogue: complete only when the reports are shards 1..N of one N (or one
    complete report) and no result names a dependency missing from the union.

    A shard narrowed further (``-k``, ``--selftest-step``) cannot be told from its report alone;
    run ``selftest merge`` inside the project to compare with the catalogue itself.
    """
    ran = {r["step_id"] for r in results}
    if any(dep not in ran for r in results for dep in r.get("depends_on") or []):
        return True
    if len(reports) == 1 and reports[0]["metadata"].get("shard") is None:
        return bool(reports[0]["metadata"].get("partial", True))
    shards = list(_shards(reports))
    if len(shards) != len(reports) or len({total for _, total in shards}) != 1:
        return True
    return sorted(index for index, _ in shards) != list(range(1, shards[0][1] + 1))


def _shards(reports: Sequence[Mapping[str, Any]]) -> Iterator[tuple[int, int]]:
    for report in reports:
        try:
            yield parse_shard(str(report["metadata"].get("shard")))
        except ValueError:
            continue


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
