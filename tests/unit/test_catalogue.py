"""load_catalogue (SPEC §2) without pytest runs: plan order, the selftest-core root format,
defaults, waves and selections, and every bad input as the exact lines a user reads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from bad_inputs import BAD_INPUTS, BDD, LINT, gov

from pytest_selftest.catalogue import Catalogue, CatalogueError, load_catalogue
from pytest_selftest.config.project import ProjectConfig, step_sources


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def load(root: Path, files: dict[str, str]) -> Catalogue:
    """Write ``files`` under ``root`` and load the default sources, as a run would."""
    write(root, files)
    return load_catalogue(step_sources(ProjectConfig(rootdir=root)), root)


def problems(root: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(CatalogueError) as info:
        load(root, files)
    assert str(info.value) == "\n".join(info.value.messages)
    return info.value.messages


@pytest.mark.parametrize(("files", "expected"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_each_bad_input_is_one_exact_line_naming_file_line_and_step(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    """Every bad input is reported as the exact message of SPEC §2, with file, line and step."""
    assert problems(tmp_path, files) == expected


def test_all_problems_of_all_files_are_reported_at_once_in_declaration_order(
    tmp_path: Path,
) -> None:
    """A user fixes every problem in one go: nothing stops at the first one."""
    files = {
        "selftest.yaml": "steps:\n  - id: core\n    tier: kernel\n    run: make\n    tmeout: 1\n",
        "steps/a.yaml": LINT + "  severity: high\n" + BDD + "  timeout: 0\n",
    }
    assert problems(tmp_path, files) == [
        "selftest.yaml:5: step 'core': unknown key 'tmeout' (did you mean 'timeout'?)",
        "steps/a.yaml:5: step 'lint': unknown severity 'high' "
        "(expected one of: critical, warning, info)",
        "steps/a.yaml:10: step 'bdd': 'timeout' must be greater than 0, got 0",
    ]


def test_depending_on_a_step_rejected_for_another_problem_is_not_also_unknown(
    tmp_path: Path,
) -> None:
    """One typo gives one message: its dependents are not told the step does not exist."""
    files = gov(BDD + "  tmeout: 30\n- id: docs\n  tier: optional\n  description: D\n  run: mk\n")
    files["steps/gov.yaml"] += "  depends_on: [bdd]\n"
    assert problems(tmp_path, files) == [
        "steps/gov.yaml:9: step 'bdd': unknown key 'tmeout' (did you mean 'timeout'?)"
    ]


def test_a_root_only_key_is_unknown_in_a_steps_file(tmp_path: Path) -> None:
    """``allow_fail_in_degraded`` (selftest-core) is accepted only in the root selftest.yaml."""
    files = gov(BDD + "  allow_fail_in_degraded: true\n")
    assert problems(tmp_path, files) == [
        "steps/gov.yaml:9: step 'bdd': unknown key 'allow_fail_in_degraded'"
    ]


def test_plan_order_takes_the_first_declared_ready_step(tmp_path: Path) -> None:
    """SPEC §2's example: ``a.yaml: [x (depends on y), z]``, ``b.yaml: [y]`` gives ``z, y, x``."""
    x = "- id: x\n  tier: kernel\n  description: X\n  run: 'true'\n  depends_on: [y]\n"
    z = "- id: z\n  tier: kernel\n  description: Z\n  run: 'true'\n"
    y = "- id: y\n  tier: kernel\n  description: Y\n  run: 'true'\n"
    catalogue = load(tmp_path, {"steps/a.yaml": x + z, "steps/b.yaml": y})
    assert catalogue.ids == ("z", "y", "x")
    assert [(s.source, s.line) for s in catalogue.steps] == [
        ("steps/a.yaml", 6),
        ("steps/b.yaml", 1),
        ("steps/a.yaml", 1),
    ]


def test_the_root_selftest_yaml_is_declared_before_the_steps_folder(tmp_path: Path) -> None:
    """Declaration order is the root selftest.yaml first, then steps/ files sorted by path."""
    root = "steps:\n  - id: r\n    tier: kernel\n    run: 'true'\n"
    catalogue = load(
        tmp_path,
        {
            "steps/b.yml": BDD,
            "steps/a/nested.yaml": LINT,
            "selftest.yaml": root,
        },
    )
    assert catalogue.ids == ("r", "lint", "bdd")
    assert catalogue.sources == (
        tmp_path / "selftest.yaml",
        tmp_path / "steps" / "a" / "nested.yaml",
        tmp_path / "steps" / "b.yml",
    )


def test_the_selftest_core_root_format_is_understood(tmp_path: Path) -> None:
    """Root file: ``steps:`` mapping, ``command`` list joined with ``&&``, ``dependencies``."""
    root = """\
        mode: strict
        verbose: true
        steps:
          - id: core
            tier: KERNEL
            command:
              - python -m compileall -q src
              - pytest -q
            dependencies: [lint]
            allow_fail_in_degraded: false
          - id: lint
            tier: governance
            description: Ruff
            command: ruff check .
        """
    catalogue = load(tmp_path, {"selftest.yaml": root})
    lint, core = catalogue.steps
    assert (core.id, core.description, core.tier) == ("core", "core", "kernel")
    assert core.run == ("python -m compileall -q src && pytest -q",)
    assert core.command_text == "python -m compileall -q src && pytest -q"
    assert core.depends_on == ("lint",)
    assert (core.source, core.line, core.nodeid) == ("selftest.yaml", 4, "selftest.yaml::core")
    assert (lint.description, lint.run, lint.line) == ("Ruff", ("ruff check .",), 11)


def test_an_unknown_top_level_key_in_the_root_file_is_an_error(tmp_path: Path) -> None:
    """Only selftest-core's own top-level keys are accepted in the root file."""
    root = "mode: strict\nsteps: []\nparallel: 4\n"
    assert problems(tmp_path, {"selftest.yaml": root}) == [
        "selftest.yaml:3: unknown top-level key 'parallel'"
    ]


@pytest.mark.parametrize(
    ("tier", "severity", "category"),
    [
        ("kernel", "critical", "correctness"),
        ("governance", "warning", "governance"),
        ("optional", "info", "governance"),
    ],
)
def test_a_step_with_only_required_keys_gets_the_defaults_of_its_tier(
    tmp_path: Path, tier: str, severity: str, category: str
) -> None:
    """Severity and category default by tier; timeout 300 s, no retries, no dependencies."""
    text = f"- id: s\n  tier: {tier}\n  description: S\n  run: make check\n"
    (step,) = load(tmp_path, {"steps/s.yaml": text}).steps
    assert (step.severity, step.category) == (severity, category)
    assert (step.timeout, step.retries, step.depends_on, step.ac_ids) == (300.0, 0, (), ())
    assert (step.remediation, step.cwd, dict(step.env), dict(step.params)) == (None, None, {}, {})
    assert step.requires == ("make",)


def test_explicit_values_override_the_defaults(tmp_path: Path) -> None:
    """Given keys win; case-insensitive choices are lower-cased; env numbers become strings."""
    text = """\
        - id: s
          tier: Governance
          description: S
          check: gherkin
          with: {paths: [features]}
          severity: CRITICAL
          category: security
          timeout: 2.5
          retries: 2
          ac_ids: [AC-1]
          remediation: make fix
          env: {N: 3, F: 1.5, NAME: x}
          cwd: sub
          requires: [docker]
        """
    (step,) = load(tmp_path, {"steps/s.yaml": text}).steps
    assert (step.tier, step.severity, step.category) == ("governance", "critical", "security")
    assert (step.timeout, step.retries, step.ac_ids) == (2.5, 2, ("AC-1",))
    assert dict(step.env) == {"N": "3", "F": "1.5", "NAME": "x"}
    assert (step.check, dict(step.params), step.command_text) == (
        "gherkin",
        {"paths": ["features"]},
        "check: gherkin",
    )
    assert (step.remediation, step.cwd, step.requires) == ("make fix", "sub", ("docker",))


@pytest.mark.parametrize(
    ("run", "requires"),
    [
        ("ruff check .", ("ruff",)),
        ("./scripts/check.sh --fast", ("./scripts/check.sh",)),
        ("cd docs", ()),
        ("echo hello", ()),
        ("test -f setup.cfg", ()),
        ("if true; then make; fi", ()),
        ("FOO=1 make test", ()),
        ("$PYTHON -m pytest", ()),
        ("${PYTHON} -m pytest", ()),
        ('["ruff check .", "ruff format --check .", "mypy src"]', ("ruff", "mypy")),
    ],
)
def test_requires_defaults_to_the_first_word_of_each_command_except_shell_words(
    tmp_path: Path, run: str, requires: tuple[str, ...]
) -> None:
    """SPEC §2: shell builtins and keywords, assignments and ``$VAR`` are not executables."""
    value = run if run.startswith("[") else repr(run)
    text = f"- id: s\n  tier: kernel\n  description: S\n  run: {value}\n"
    (step,) = load(tmp_path, {"steps/s.yaml": text}).steps
    assert step.requires == requires


def diamond(root: Path) -> Catalogue:
    """a; b and c depend on a; d on b and c; e stands alone."""
    text = ""
    for step_id, deps in (("a", ""), ("b", "a"), ("c", "a"), ("d", "b, c"), ("e", "")):
        text += f"- id: {step_id}\n  tier: kernel\n  description: {step_id}\n  run: 'true'\n"
        text += f"  depends_on: [{deps}]\n"
    return load(root, {"steps/s.yaml": text})


def test_waves_group_steps_after_the_wave_of_their_dependencies(tmp_path: Path) -> None:
    """A step's wave is one past its latest dependency's; waves keep plan order."""
    catalogue = diamond(tmp_path)
    assert catalogue.ids == ("a", "b", "c", "d", "e")
    assert catalogue.waves() == [["a", "e"], ["b", "c"], ["d"]]


def test_waves_of_a_selection_ignore_dependencies_that_are_not_selected(tmp_path: Path) -> None:
    """Unselected dependencies do not hold a step back."""
    assert diamond(tmp_path).waves(["b", "d"]) == [["b"], ["d"]]
    assert diamond(tmp_path).waves([]) == []


def test_dependency_closure_adds_every_transitive_dependency(tmp_path: Path) -> None:
    """``--selftest-with-deps`` adds what the selected steps need, transitively."""
    catalogue = diamond(tmp_path)
    assert catalogue.dependency_closure(["d"]) == {"a", "b", "c", "d"}
    assert catalogue.dependency_closure(["b", "e"]) == {"a", "b", "e"}
    assert catalogue.dependency_closure([]) == set()


def test_until_is_the_plan_prefix_up_to_and_including_the_step(tmp_path: Path) -> None:
    """``--selftest-until`` follows the plan order."""
    catalogue = diamond(tmp_path)
    assert catalogue.until("c") == ["a", "b", "c"]
    assert catalogue.until("a") == ["a"]
    assert catalogue.until("e") == ["a", "b", "c", "d", "e"]


def test_an_empty_step_file_is_an_empty_catalogue(tmp_path: Path) -> None:
    """A blank file adds no steps and no problem."""
    catalogue = load(tmp_path, {"steps/empty.yaml": "# nothing yet\n"})
    assert catalogue.steps == ()
