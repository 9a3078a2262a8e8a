"""The check loader: built-in names, entry-point checks and helpful unknown-name errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_selftest.checks import loader
from pytest_selftest.checks.loader import (
    BUILTIN_CHECKS,
    UnknownCheckError,
    available_check_names,
    is_known_check,
    load_check,
)

BUILTIN_NAMES = [
    "gherkin", "schema", "registry", "ac-trace", "forbid", "graph", "coverage", "rego",
    "python-compile",
]  # fmt: skip


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution (a real dist-info on sys.path) registering two checks."""
    site = tmp_path / "site"
    dist_info = site / "selftest_extra-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: selftest-extra\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        "[pytest_selftest.checks]\n"
        "spelling = selftest_extra_mod:check\n"
        "broken-value = selftest_extra_mod:NOT_CALLABLE\n",
        encoding="utf-8",
    )
    (site / "selftest_extra_mod.py").write_text(
        "NOT_CALLABLE = 3\n\ndef check(ctx):\n    return []\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_the_builtin_names_are_exactly_those_of_the_spec() -> None:
    """The nine names of SPEC §12, each pointing at a module function."""
    assert list(BUILTIN_CHECKS) == BUILTIN_NAMES
    assert all(":" in target for target in BUILTIN_CHECKS.values())


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_each_builtin_loads_to_the_check_function_of_its_module(name: str) -> None:
    """``load_check`` imports the module named in the table and returns its ``check``."""
    loaded = load_check(name)
    module_name = BUILTIN_CHECKS[name].partition(":")[0]
    assert loaded.__module__ == module_name
    assert loaded.__name__ == "check"
    assert is_known_check(name)


def without_coverage() -> dict[str, str]:
    """The environment minus coverage's own variables: a measured run would import it."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}


def test_importing_the_loader_imports_no_heavy_library() -> None:
    """The libraries the checks use are imported only when a check runs."""
    heavy = ["yaml", "jsonschema", "gherkin", "markdown_it", "coverage", "regorus",
             "importlib.metadata"]  # fmt: skip
    code = (
        "import sys, pytest_selftest.checks.loader\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=without_coverage(),
    )
    assert done.stdout.strip() == "[]"


def test_an_unknown_name_suggests_the_closest_one() -> None:
    """A typo gets a did-you-mean suggestion."""
    with pytest.raises(UnknownCheckError) as error:
        load_check("gherkn")
    assert str(error.value) == "unknown check 'gherkn' (did you mean 'gherkin'?)"
    assert error.value.name == "gherkn"
    assert error.value.suggestion == "gherkin"
    assert isinstance(error.value, ValueError)


def test_an_unknown_name_without_a_close_match_lists_the_known_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nothing similar, the message lists every available check."""
    monkeypatch.setattr(loader, "_entry_points", lambda: [])
    with pytest.raises(UnknownCheckError) as error:
        load_check("zzz")
    assert str(error.value) == (
        "unknown check 'zzz' (known checks: ac-trace, coverage, forbid, gherkin, graph, "
        "python-compile, registry, rego, schema)"
    )
    assert not is_known_check("zzz")


def test_a_check_registered_by_an_installed_package_is_found(third_party: Path) -> None:
    """Entry points in the ``pytest_selftest.checks`` group extend the built-in checks."""
    loaded = load_check("spelling")
    assert loaded.__module__ == "selftest_extra_mod"
    assert is_known_check("spelling")
    names = available_check_names()
    assert names[: len(BUILTIN_NAMES)] == sorted(BUILTIN_NAMES)
    assert names[len(BUILTIN_NAMES) :] == ["broken-value", "spelling"]


def test_an_entry_point_that_is_not_callable_is_refused(third_party: Path) -> None:
    """A registered object that cannot be called is an error naming the entry point."""
    with pytest.raises(TypeError) as error:
        load_check("broken-value")
    assert str(error.value) == (
        "check 'broken-value' from entry point 'selftest_extra_mod:NOT_CALLABLE' is not callable"
    )
