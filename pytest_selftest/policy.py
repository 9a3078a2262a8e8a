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
    from pytest_selftest.waivers import Waiver

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
    source: str = "default"

    def to_report(self, non_blocking: int) -> dict[str, Any]:
        return {
            "env": self.env,
            "governance_budget": self.governance_budget,
            "governance_non_blocking": non_blocking,
            "require_waiver": self.require_waiver,
            "honour_waivers": self.honour_waivers,
            "optional_blocks": self.optional_blocks,
        }

    def describe(self) -> str:
        """One phrase for the header line."""
        budget = "unlimited" if self.governance_budget is None else str(self.governance_budget)
        waiver = "waiver required" if self.require_waiver else "no waiver needed"
        honour = "waivers honoured" if self.honour_waivers else "waivers ignored"
        optional = "optional blocks" if self.optional_blocks else "optional informational"
        return f"governance budget {budget}, {waiver}, {honour}, {optional}"


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
    "prod": Policy("prod", 0, require_waiver=False, honour_waivers=False, optional_blocks=True),
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
    """The verdict of one result, and the text that explains it (xfail reason or failure note)."""

    verdict: str
    message: str = ""
    waiver: Waiver | None = None
    waiver_unused: bool = False


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

    def decide(self, step_id: str, tier: str, status: str) -> Decision:
        """The verdict for a step's raw ``status`` (PASS, FAIL, TIMEOUT, SKIP)."""
        honoured = self.policy.honour_waivers and tier != "kernel"
        waiver = self.waivers.get(step_id) if honoured else None
        if status == "SKIP":
            return Decision(SKIPPED, waiver=waiver)
        if status not in FAILING_STATUSES:
            return Decision(PASSED, waiver=waiver, waiver_unused=waiver is not None)
        decision = replace(self._failure(step_id, tier, waiver), waiver=waiver)
        if self.runxfail and decision.verdict in NON_BLOCKING:
            return Decision(
                FAILED, f"--runxfail: would have been {decision.verdict}: {decision.message}"
            )
        return decision

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
            return Decision(
                FAILED, f"over {env} budget: {self.eligible} governance failures, {budget} allowed"
            )
        self.non_blocking += 1
        if waiver is not None:
            return Decision(WAIVED, waiver.describe(), waiver=waiver)
        allowed = "unlimited" if budget is None else str(budget)
        return Decision(
            TOLERATED,
            f"tolerated in {env}: governance failure {self.non_blocking} of {allowed} allowed",
        )


def run_status(results: Iterable[Mapping[str, Any]]) -> str:
    """BROKEN (a kernel step failed) > DEGRADED (any other failure) > HEALTHY."""
    failing_tiers = {r["tier"] for r in results if r["status"] in FAILING_STATUSES}
    if "kernel" in failing_tiers:
        return "BROKEN"
    return "DEGRADED" if failing_tiers else "HEALTHY"
