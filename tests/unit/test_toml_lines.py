"""Finding a key's line in a TOML file, for configuration messages (SPEC §4)."""

from __future__ import annotations

import pytest

from pytest_selftest.config.pyproject import ini_key_line, key_line

PYPROJECT = '''\
[project]
name = "x"
description = """
[tool.selftest.envs.team]
governance_budgt = 1
"""

[tool.selftest]
"max_waiver_hours" = 24
envs.dev.cache = false

[tool.selftest.envs.team]
extends = 'staging'
  governance_budgt = 2

[[tool.other]]
x = 1
'''


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("tool", "selftest", "envs", "team", "governance_budgt"), 14),
        (("tool", "selftest", "envs", "team", "extends"), 13),
        (("tool", "selftest", "max_waiver_hours"), 9),
        (("tool", "selftest", "envs", "dev", "cache"), 10),
        (("tool", "selftest", "envs", "team", "not_there"), 12),
        (("tool", "selftest", "bogus"), 8),
        (("tool", "other", "x"), 17),
        (("nothing",), None),
    ],
)
def test_the_line_of_a_key_or_else_of_its_nearest_table(
    path: tuple[str, ...], line: int | None
) -> None:
    """Quoted, dotted and indented keys are found; text inside a multi-line string is not."""
    assert key_line(PYPROJECT, path) == line


def test_a_key_inside_an_inline_table_is_on_the_inline_tables_line() -> None:
    """An inline table's line stands for every key inside it."""
    text = "[tool.selftest]\nenvs = { team = { require_waiver = 1 } }\n"
    assert key_line(text, ("tool", "selftest", "envs", "team", "require_waiver")) == 2


def test_ini_key_line_finds_the_last_setting_of_a_key_in_either_form() -> None:
    """``key = value`` or ``key: value``; configparser keeps the last, so the line is that one."""
    text = "[pytest]\nselftest_history_max_runs = 5\naddopts = -q\nSELFTEST_HISTORY_MAX_RUNS: x\n"
    assert ini_key_line(text, "selftest_history_max_runs") == 4
    assert ini_key_line(text, "addopts") == 3
    assert ini_key_line(text, "selftest_cache_max_mb") is None
    assert (
        ini_key_line("selftest_history_max_runs_extra = 1\n", "selftest_history_max_runs") is None
    )
