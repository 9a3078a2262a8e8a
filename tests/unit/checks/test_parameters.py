"""The ``with:`` parameter table (the shipped steps.json) agrees with the checks' code (SPEC §2)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_selftest.checks.loader import BUILTIN_CHECKS
from pytest_selftest.checks.parameters import builtin_parameters, describe, parameter_problems

# What a check reads: str_param(ctx, "x"), existing_file(ctx, "x"), ctx.params.get("x").
READS = re.compile(r'(?:\w+_param|existing_file)\(ctx, "(\w+)"|params\.get\("(\w+)"')
# Filled in by the plugin, never written by users (see ac_trace.py).
PLUGIN_FILLED = {"step_ac_ids"}


def parameters_read_by(check: str) -> set[str]:
    module = BUILTIN_CHECKS[check].partition(":")[0]
    source = Path(__file__).parents[3].joinpath(*module.split(".")).with_suffix(".py")
    names = {a or b for a, b in READS.findall(source.read_text())}
    return names - PLUGIN_FILLED


def test_the_schema_describes_every_built_in_check_and_no_other() -> None:
    """One table: a check added to the loader must get its parameters in steps.json."""
    assert sorted(builtin_parameters()) == sorted(BUILTIN_CHECKS)


@pytest.mark.parametrize("check", sorted(BUILTIN_CHECKS))
def test_the_schema_declares_exactly_the_parameters_the_check_reads(check: str) -> None:
    """A parameter the code reads but the schema lacks would be refused at load; the reverse
    would be accepted and ignored."""
    declared = builtin_parameters()[check]
    assert set(declared.properties) == parameters_read_by(check)
    assert set(declared.required) <= set(declared.properties)


def test_valid_parameters_have_no_problems() -> None:
    """A single string stands for a list of one; optional parameters may be left out."""
    assert parameter_problems("forbid", {"files": "*.py", "pattern": "x", "allow": ["y"]}) == []
    assert parameter_problems("coverage", {"data_file": ".coverage", "fail_under": 80.5}) == []
    assert parameter_problems("schema", {"files": ["a"], "schema": {"type": "object"}}) == []


def test_a_third_party_check_is_not_validated() -> None:
    """Only the built-in checks have a parameter table."""
    assert parameter_problems("spelling", {"anything": 1}) == []


@pytest.mark.parametrize(
    ("check", "parameter", "words"),
    [
        ("python-compile", "paths", "a non-empty string or a non-empty list of non-empty strings"),
        ("coverage", "fail_under", "a number from 0 to 100"),
        ("schema", "frontmatter", "true or false"),
        ("schema", "schema", "a non-empty string or a mapping"),
    ],
)
def test_each_parameter_type_is_described_in_words(check: str, parameter: str, words: str) -> None:
    """Type errors say what the parameter accepts."""
    assert describe(builtin_parameters()[check].properties[parameter]) == words


def test_a_boolean_is_not_a_number() -> None:
    """``fail_under: true`` is a mistake although Python counts True as 1."""
    [problem] = parameter_problems("coverage", {"data_file": ".coverage", "fail_under": True})
    assert problem.message == (
        "check 'coverage': 'fail_under' must be a number from 0 to 100, got True"
    )


def test_validating_every_built_in_check_imports_none_of_their_libraries(tmp_path: Path) -> None:
    """Loading a catalogue checks names and parameters from JSON alone: the smoke stays light."""
    steps = [
        f"- {{id: s{i}, tier: optional, description: d, check: {name}, with: {{}}}}"
        for i, name in enumerate(sorted(BUILTIN_CHECKS))
    ]
    (tmp_path / "steps.yaml").write_text("\n".join(steps) + "\n")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pytest_selftest.catalogue import CatalogueError, load_catalogue\n"
        "try:\n"
        f"    load_catalogue([Path({str(tmp_path / 'steps.yaml')!r})], Path({str(tmp_path)!r}))\n"
        "except CatalogueError as error:\n"
        "    print(len(error.messages))\n"
        "heavy = ['jsonschema', 'gherkin', 'markdown_it', 'coverage', 'regorus', 'pytest']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=clean
    )
    missing_required = sum(len(p.required) for p in builtin_parameters().values())
    assert done.stdout.splitlines() == [str(missing_required), "[]"]
