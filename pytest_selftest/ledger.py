"""The verdict of each step result (SPEC §5, §7): the :class:`Ledger` and its decisions.

Pure: the same :class:`Ledger` decides in a serial run, on the xdist controller, in the smoke and
in ``selftest merge``. It is fed results one by one (plan order serially, arrival order under
xdist); the counts, the exit code and every verdict come out the same either way, except *which*
step is named over budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pytest_selftest.outcome import (
    COMMAND_NOT_FOUND,
    FAILED,
    FAILING_STATUSES,
    INFORMATIONAL,
    NON_BLOCKING,
    PASSED,
    RUNXFAIL_NOTE,
    SKIP,
    SKIPPED,
    TOLERATED,
    USER_SKIP,
    WAIVED,
    Status,
    Verdict,
)
from pytest_selftest.policy import Policy

if TYPE_CHECKING:  # only a type here; the smoke decides without the waiver store
    from pytest_selftest.waivers import Waiver

# How a governance failure that reached the budget counts: it used a slot, or found none left.
USED_BUDGET, OVER_BUDGET = "used_budget", "over_budget"


@dataclass(frozen=True)
class Decision:
    """The verdict of one result, and the text that explains it (xfail reason or failure note).

    ``budget_use`` (:data:`USED_BUDGET` or :data:`OVER_BUDGET`) and ``count`` record how a
    governance failure met the budget, so that :meth:`Ledger.recount` can word it again.
    """

    verdict: Verdict
    message: str = ""
    waiver: Waiver | None = None
    waiver_unused: bool = False
    budget_use: str | None = None
    count: int = 0
    runxfail_of: Verdict | None = None


@dataclass
class Ledger:
    """Decides verdicts result by result, keeping the governance budget across the run."""

    policy: Policy
    waivers: Mapping[str, Waiver] = field(default_factory=dict)
    runxfail: bool = False
    # step id -> why its waiver record was skipped (malformed), told where a waiver is missing
    skipped_waivers: Mapping[str, str] = field(default_factory=dict)
    eligible: int = 0
    non_blocking: int = 0

    def decide(
        self,
        step_id: str,
        tier: str,
        status: Status,
        reason: str | None = None,
        skipped_via: str | None = None,
    ) -> Decision:
        """The verdict for a step's raw ``status`` (PASS, FAIL, TIMEOUT, SKIP) and ``reason``.

        ``skipped_via`` names the option or variable behind a ``skipped_by_user`` skip.
        """
        honoured = self.policy.honour_waivers and tier != "kernel"
        waiver = self.waivers.get(step_id) if honoured else None
        if status == SKIP:
            return self._skip(step_id, tier, reason, skipped_via, waiver)
        if status not in FAILING_STATUSES:
            return Decision(PASSED, waiver=waiver, waiver_unused=waiver is not None)
        if reason == COMMAND_NOT_FOUND and tier != "optional":
            return Decision(FAILED, _UNSTARTABLE, waiver=waiver)
        decision = replace(self._failure(step_id, tier, waiver), waiver=waiver)
        if self.runxfail and decision.verdict in NON_BLOCKING:
            return replace(
                decision,
                verdict=FAILED,
                message=f"--runxfail: would have been {decision.verdict}: {decision.message}",
                runxfail_of=decision.verdict,
            )
        return decision

    def _skip(
        self,
        step_id: str,
        tier: str,
        reason: str | None,
        skipped_via: str | None,
        waiver: Waiver | None,
    ) -> Decision:
        if reason == USER_SKIP and tier != "optional" and not self.policy.allow_user_skips:
            via = f" ({skipped_via})" if skipped_via else ""
            message = f"{self.policy.env} does not allow skipping '{step_id}'{via}"
            return Decision(FAILED, message, waiver=waiver)
        return Decision(SKIPPED, waiver=waiver)

    def _failure(self, step_id: str, tier: str, waiver: Waiver | None) -> Decision:
        env = self.policy.env
        if tier == "kernel":
            return Decision(FAILED, "kernel failure: blocks in every environment")
        if tier == "optional":
            if self.policy.optional_blocks:
                return Decision(FAILED, f"optional failure: blocks in {env}")
            return Decision(
                INFORMATIONAL, f"informational: optional failure does not block in {env}"
            )
        if self.policy.require_waiver and waiver is None:
            skipped = self.skipped_waivers.get(step_id)
            why = f" (its waiver was skipped: {skipped})" if skipped else ""
            return Decision(
                FAILED,
                f"{env} requires a waiver for a governance failure: none active for "
                f"'{step_id}'{why}",
            )
        self.eligible += 1
        budget = self.policy.governance_budget
        if budget is not None and self.non_blocking >= budget:
            return self._worded(Decision(FAILED, budget_use=OVER_BUDGET, count=self.eligible))
        self.non_blocking += 1
        verdict: Verdict = TOLERATED if waiver is None else WAIVED
        return self._worded(
            Decision(verdict, waiver=waiver, budget_use=USED_BUDGET, count=self.non_blocking)
        )

    def recount(self, decision: Decision, count: int) -> Decision:
        """``decision`` worded with another ``count``: the report numbers in plan order (§13)."""
        if decision.budget_use is None:
            return decision
        inner = replace(decision, verdict=decision.runxfail_of or decision.verdict, count=count)
        worded = self._worded(inner)
        if decision.runxfail_of is None:
            return worded
        message = f"--runxfail: would have been {inner.verdict}: {worded.message}"
        return replace(worded, verdict=decision.verdict, message=message)

    def _worded(self, decision: Decision) -> Decision:
        env, budget = self.policy.env, self.policy.governance_budget
        if decision.budget_use == OVER_BUDGET:
            message = f"over {env} budget: {decision.count} governance failures, {budget} allowed"
        elif decision.waiver is not None:
            message = decision.waiver.describe()
        else:
            allowed = "unlimited" if budget is None else str(budget)
            message = (
                f"tolerated in {env}: governance failure {decision.count} of {allowed} allowed"
            )
        return replace(decision, message=message)


_UNSTARTABLE = "its command could not start: no trustworthy verdict, in every environment"


def in_plan_order(ledger: Ledger, decisions: Iterable[Decision]) -> list[Decision]:
    """The decisions, given in plan order, with budget counts numbered in that order.

    Under xdist the ledger decides in arrival order, so counts follow arrival; the report's
    texts must equal a serial run's (SPEC §13). Verdicts stay as decided: only which step is
    named over budget may differ from a serial run.
    """
    used, over = 0, 0
    budget = ledger.policy.governance_budget or 0
    renumbered = []
    for decision in decisions:
        if decision.budget_use == USED_BUDGET:
            used += 1
            decision = ledger.recount(decision, used)
        elif decision.budget_use == OVER_BUDGET:
            over += 1
            decision = ledger.recount(decision, budget + over)
        renumbered.append(decision)
    return renumbered


def with_runxfail_note(notes: Sequence[str], decision: Decision) -> list[str]:
    """A result's ``notes`` recording whether ``--runxfail`` made its verdict ``failed``.

    The merge reads this note, not the wording of ``verdict_reason``, to know a shard ran so.
    """
    kept = [note for note in notes if not note.startswith(RUNXFAIL_NOTE)]
    if decision.runxfail_of is None:
        return kept
    return [*kept, f"{RUNXFAIL_NOTE}{decision.runxfail_of}"]
