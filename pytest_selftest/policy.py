"""Environment policies (SPEC §4): the presets, and resolving the env of a run with its overrides.

Pure. Called by the run's configuration (:mod:`pytest_selftest.config.run`), validation, the smoke
and the merge; the verdicts a policy gives are decided by :mod:`pytest_selftest.ledger`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from pytest_selftest.config.errors import ConfigError as TableError
from pytest_selftest.config.errors import suggestion

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
    allow_user_skips: bool = True
    cache: bool | None = None  # None: the env says nothing, the ini key decides (SPEC §15)
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
        cache=False,
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
