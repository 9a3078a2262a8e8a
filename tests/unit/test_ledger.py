"""The pure verdict rules of :mod:`pytest_selftest.policy`: plan-order wording, user skips and
commands that cannot start, without pytest runs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_selftest.ledger import Ledger, in_plan_order
from pytest_selftest.policy import PRESETS
from pytest_selftest.verdict import run_status, unstartable_exit_reason

PLAN = ["g1", "g2", "g3"]  # as many as dev allows: every order gives the same verdicts


def messages_in_plan_order(arrival: list[str], env: str, runxfail: bool = False) -> list[str]:
    """Feed governance failures in ``arrival`` order; word them in plan order."""
    ledger = Ledger(PRESETS[env], runxfail=runxfail)
    decided = {step_id: ledger.decide(step_id, "governance", "FAIL") for step_id in arrival}
    return [d.message for d in in_plan_order(ledger, [decided[s] for s in PLAN])]


@pytest.mark.parametrize("env", ["dev", "degraded"])
def test_any_arrival_order_words_the_budget_as_plan_order_does(env: str) -> None:
    """The texts of a reversed arrival equal those of plan-order arrival."""
    assert messages_in_plan_order(list(reversed(PLAN)), env) == messages_in_plan_order(PLAN, env)


def test_over_budget_counts_continue_after_the_budget() -> None:
    """With a budget of 1, the others are over budget as '2', '3', '4', in any order."""
    plan = [*PLAN, "g4"]
    ledger = Ledger(replace(PRESETS["dev"], governance_budget=1))
    decided = {s: ledger.decide(s, "governance", "FAIL") for s in reversed(plan)}
    messages = [d.message for d in in_plan_order(ledger, [decided[s] for s in plan])]
    assert sorted(messages) == [
        "over dev budget: 2 governance failures, 1 allowed",
        "over dev budget: 3 governance failures, 1 allowed",
        "over dev budget: 4 governance failures, 1 allowed",
        "tolerated in dev: governance failure 1 of 1 allowed",
    ]


def test_runxfail_wording_is_renumbered_too() -> None:
    """--runxfail keeps its prefix; the count inside follows plan order."""
    messages = messages_in_plan_order(list(reversed(PLAN)), "dev", runxfail=True)
    assert messages[0] == (
        "--runxfail: would have been tolerated: tolerated in dev: governance failure 1 of 3 allowed"
    )


def test_a_user_skip_blocks_only_where_the_policy_forbids_it() -> None:
    """prod forbids a kernel or governance skip; dev allows it; an optional skip never blocks."""
    prod, dev = Ledger(PRESETS["prod"]), Ledger(PRESETS["dev"])
    blocked = prod.decide("unit", "kernel", "SKIP", "skipped_by_user", "--selftest-skip")
    assert (blocked.verdict, blocked.message) == (
        "failed",
        "prod does not allow skipping 'unit' (--selftest-skip)",
    )
    assert prod.decide("x", "optional", "SKIP", "skipped_by_user").verdict == "skipped"
    assert dev.decide("unit", "kernel", "SKIP", "skipped_by_user").verdict == "skipped"
    assert prod.decide("unit", "kernel", "SKIP", "dependency_skipped:a").verdict == "skipped"
    assert prod.non_blocking == prod.eligible == 0


def test_a_user_skipped_kernel_step_degrades_the_run_status() -> None:
    """HEALTHY is not possible with a kernel step skipped by the user."""
    skipped = {"tier": "kernel", "status": "SKIP", "reason": "skipped_by_user"}
    assert run_status([{**skipped, "verdict": "skipped"}]) == "DEGRADED"
    assert run_status([{**skipped, "verdict": "failed"}]) == "BROKEN"
    assert run_status([{**skipped, "tier": "governance", "verdict": "skipped"}]) == "HEALTHY"


def test_an_unstartable_command_blocks_unless_optional() -> None:
    """command_not_found: failed in every env for kernel and governance, whatever the budget."""
    ledger = Ledger(PRESETS["degraded"])
    assert ledger.decide("t", "governance", "FAIL", "command_not_found").verdict == "failed"
    assert ledger.non_blocking == 0
    assert ledger.decide("o", "optional", "FAIL", "command_not_found").verdict == "informational"


def test_the_exit_reason_names_the_first_unstartable_step_and_its_command() -> None:
    """The reason is stable: command_not_found:<step>:<command>."""
    results = [
        {"step_id": "o", "tier": "optional", "status": "FAIL", "reason": "command_not_found"},
        {
            "step_id": "t",
            "tier": "governance",
            "status": "FAIL",
            "reason": "command_not_found",
            "notes": ["missing_command:mypy"],
        },
    ]
    assert unstartable_exit_reason(results) == "command_not_found:t:mypy"
    assert unstartable_exit_reason(results[:1]) is None
