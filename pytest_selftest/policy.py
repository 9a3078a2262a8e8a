"""Environment policies (SPEC §4) and the verdict of each step result (SPEC §5, §7).

Pure: the same :class:`Ledger` decides in a serial run and on the xdist controller. It is fed
results one by one (plan order serially, arrival order under xdist); the counts, the exit code and
every verdict come out the same either way, except *which* step is named over budget.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from pytest_selftest.catalogue import FAILING_STATUSES
from pytest_selftest.settings import TableError, suggestion

if TYPE_CHECKING:  # only a type here; the smoke validates the env without the waiver store
    from pytest_selftest.waivers.model import Waiver

PASSED, FAILED, WAIVED, TOLERATED, INFORMATIONAL, SKIPPED = (
    "passed",
    "failed",
    "waived",
    "tolerated",
    "informational",
    "skipped",
)
NON_BLOCKING = frozenset({WAIVED, TOLERATED, INFORMATIONAL})
POLICY_KEYS = (
    "governance_budget",
    "require_waiver",
    "honour_waivers",
    "optional_blocks",
    "allow_user_skips",
    "cache",
    "extends",
)
_BOOLEAN_KEYS = ("require_waiver", "honour_waivers", "optional_blocks", "allow_user_skips", "cache")
USER_SKIP = "skipped_by_user"
COMMAND_NOT_FOUND = "command_not_found"
# How a governance failure that reached the budget counts: it used a slot, or found none left.
USED_BUDGET, OVER_BUDGET = "used_budget", "over_budget"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class PolicyError(TableError):
    """An unknown env or a malformed ``[tool.selftest.envs.NAME]`` table.

    ``keys`` is where the problem sits below ``[tool.selftest]`` (``envs, team, cache``); empty
    when it is not in the file (an unknown env given by an option or a variable).
    """


@dataclass(frozen=True)
class Policy:
    """The rules of one environment; ``governance_budget`` None means unlimited."""

    env: str
    governance_budget: int | None
    require_waiver: bool
    honour_waivers: bool
    optional_blocks: bool
    allow_user_skips: bool = True
    source: str = "default"

    def to_report(self, non_blocking: int) -> dict[str, Any]:
        return {
            "env": self.env,
            "governance_budget": self.governance_budget,
            "governance_non_blocking": non_blocking,
            "require_waiver": self.require_waiver,
            "honour_waivers": self.honour_waivers,
            "optional_blocks": self.optional_blocks,
            "allow_user_skips": self.allow_user_skips,
        }

    def describe(self) -> str:
        """One phrase for the header line."""
        budget = "unlimited" if self.governance_budget is None else str(self.governance_budget)
        if not self.honour_waivers:  # whether one is "needed" means nothing when none counts
            waivers = "waivers not honoured"
        elif self.require_waiver:
            waivers = "waiver required, waivers honoured"
        else:
            waivers = "no waiver needed, waivers honoured"
        optional = "optional blocks" if self.optional_blocks else "optional informational"
        skips = "" if self.allow_user_skips else ", user skips block"
        return f"governance budget {budget}, {waivers}, {optional}{skips}"


PRESETS: Mapping[str, Policy] = {
    "strict": Policy(
        "strict", None, require_waiver=True, honour_waivers=True, optional_blocks=False
    ),
    "degraded": Policy(
        "degraded", None, require_waiver=False, honour_waivers=True, optional_blocks=False
    ),
    "dev": Policy("dev", 3, require_waiver=False, honour_waivers=True, optional_blocks=False),
    "staging": Policy(
        "staging", 1, require_waiver=True, honour_waivers=True, optional_blocks=False
    ),
    "prod": Policy(
        "prod",
        0,
        require_waiver=False,
        honour_waivers=False,
        optional_blocks=True,
        allow_user_skips=False,
    ),
}
DEFAULT_ENV = "strict"
_POLICY_FIELDS = frozenset(f.name for f in fields(Policy))


def resolve_policy(
    choices: Iterable[tuple[str | None, str]], custom: Mapping[str, Any] | None = None
) -> Policy:
    """Pick the env from ``(value, source)`` pairs in precedence order and build its policy.

    ``custom`` is the ``[tool.selftest.envs]`` table: a preset name overrides only the keys it
    sets; a new name starts from ``strict`` unless it says ``extends = "<env>"``.
    """
    env, source = next(((v, s) for v, s in choices if v), (DEFAULT_ENV, "default"))
    if custom is not None and not isinstance(custom, Mapping):
        raise PolicyError("[tool.selftest.envs] must be a table of env tables", ("envs",))
    envs = dict(custom or {})
    for name in envs:  # a typo in an env not used today must not wait for the day it is
        _build(name, envs, ())
    if env not in PRESETS and env not in envs:
        raise PolicyError(_unknown_env(env, source, sorted({*PRESETS, *envs})))
    return replace(_build(env, envs, ()), source=source)


def _unknown_env(env: str, source: str, known: list[str]) -> str:
    hint = suggestion(env, known, "known")
    return f"unknown selftest env {_quoted(env)} (from {source}; {hint[2:]}"


def _build(env: str, envs: Mapping[str, Any], seen: tuple[str, ...]) -> Policy:
    if env in seen:
        raise PolicyError(
            f"{_table(env)}: 'extends' cycle: {' -> '.join(map(_key, (*seen, env)))}",
            ("envs", env, "extends"),
        )
    table = envs.get(env)
    if table is None:
        return PRESETS[env]
    if not isinstance(table, Mapping):
        raise PolicyError(f"{_table(env)} must be a table", ("envs", env))
    base_name = table.get("extends", env if env in PRESETS else DEFAULT_ENV)
    if not isinstance(base_name, str) or (base_name not in PRESETS and base_name not in envs):
        hint = (
            suggestion(base_name, sorted({*PRESETS, *envs})) if isinstance(base_name, str) else ""
        )
        raise PolicyError(
            f"{_table(env)}: 'extends' names unknown env {base_name!r}{hint}",
            ("envs", env, "extends"),
        )
    if base_name == env and env in PRESETS:
        base = PRESETS[env]
    else:  # a custom env extending itself is a cycle
        base = _build(base_name, envs, (*seen, env))
    return replace(base, env=env, **_overrides(env, table))


def _key(name: str) -> str:
    """An env name as a TOML key: bare when it can be, else quoted, on one line."""
    return name if _BARE_KEY.match(name) else json.dumps(name)


def _table(env: str) -> str:
    """Where the env's settings live: ``[tool.selftest.envs.dev]``."""
    return f"[tool.selftest.envs.{_key(env)}]"


def _quoted(name: str) -> str:
    """A name as messages show it, ``'dev'``; odd characters escaped, so it stays on one line."""
    return f"'{name}'" if _BARE_KEY.match(name) else repr(name)


def _overrides(env: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The policy fields ``table`` sets, each checked; a bad key or value is a PolicyError."""
    where = _table(env)
    values: dict[str, Any] = {}
    for key, value in table.items():
        keys = ("envs", env, key)
        if key not in POLICY_KEYS:
            raise PolicyError(
                f"{where}: unknown key {_quoted(key)}{suggestion(key, POLICY_KEYS)}", keys
            )
        if key == "governance_budget":
            values[key] = _budget(where, value, keys)
        elif key in _BOOLEAN_KEYS and not isinstance(value, bool):
            raise PolicyError(f"{where}: '{key}' must be true or false, got {value!r}", keys)
        elif key in _BOOLEAN_KEYS:
            values[key] = value
    # A valid key whose behaviour lives elsewhere (allow_user_skips, cache) until Policy has
    # a field of that name: it is checked above and applied as soon as the field exists.
    return {key: value for key, value in values.items() if key in _POLICY_FIELDS}


def _budget(where: str, value: object, keys: tuple[str, ...]) -> int | None:
    if value == "unlimited":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(
            f"{where}: 'governance_budget' must be a whole number >= 0 or "
            f'"unlimited", got {value!r}',
            keys,
        )
    return value


@dataclass(frozen=True)
class Decision:
    """The verdict of one result, and the text that explains it (xfail reason or failure note).

    ``budget_use`` (:data:`USED_BUDGET` or :data:`OVER_BUDGET`) and ``count`` record how a
    governance failure met the budget, so that :meth:`Ledger.recount` can word it again.
    """

    verdict: str
    message: str = ""
    waiver: Waiver | None = None
    waiver_unused: bool = False
    budget_use: str | None = None
    count: int = 0
    runxfail_of: str | None = None


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
        status: str,
        reason: str | None = None,
        skipped_via: str | None = None,
    ) -> Decision:
        """The verdict for a step's raw ``status`` (PASS, FAIL, TIMEOUT, SKIP) and ``reason``.

        ``skipped_via`` names the option or variable behind a ``skipped_by_user`` skip.
        """
        honoured = self.policy.honour_waivers and tier != "kernel"
        waiver = self.waivers.get(step_id) if honoured else None
        if status == "SKIP":
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
        verdict = TOLERATED if waiver is None else WAIVED
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


def run_status(results: Iterable[Mapping[str, Any]]) -> str:
    """BROKEN (a kernel step failed, or its skip blocks) > DEGRADED (any other failure, or a
    kernel step skipped by the user) > HEALTHY."""
    results = list(results)
    failing = [r for r in results if r["status"] in FAILING_STATUSES or r["verdict"] == FAILED]
    if any(r["tier"] == "kernel" for r in failing):
        return "BROKEN"
    if failing or any(r["tier"] == "kernel" for r in user_skipped(results)):
        return "DEGRADED"
    return "HEALTHY"


def user_skipped(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The results of steps the user skipped (``--selftest-skip``, ``$SELFTEST_SKIP_STEPS``)."""
    return [r for r in results if r["status"] == "SKIP" and r.get("reason") == USER_SKIP]


def unstartable(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Kernel and governance results whose command could not start (SPEC §5): exit 2."""
    return [
        r
        for r in results
        if r.get("reason") == COMMAND_NOT_FOUND
        and r["status"] in FAILING_STATUSES
        and r["tier"] != "optional"
    ]


MISSING_COMMAND_NOTE = "missing_command:"


def unstartable_exit_reason(results: Iterable[Mapping[str, Any]]) -> str | None:
    """``command_not_found:<step>:<command>`` for the first unstartable step, else None."""
    found = unstartable(results)
    if not found:
        return None
    return f"{COMMAND_NOT_FOUND}:{found[0]['step_id']}:{missing_command(found[0])}"


def missing_command(result: Mapping[str, Any]) -> str:
    """The command a ``command_not_found`` result could not start, as its notes record it."""
    notes = [n for n in result.get("notes") or [] if str(n).startswith(MISSING_COMMAND_NOTE)]
    return str(notes[0])[len(MISSING_COMMAND_NOTE) :] if notes else str(result.get("command"))
