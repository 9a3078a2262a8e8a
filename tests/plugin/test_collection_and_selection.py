"""SPEC §3: activation, collection, node ids, reportinfo, and every way to select steps."""

from __future__ import annotations

import pytest
from selftest_repo import SelftestRepo, step


@pytest.fixture
def chain(repo: SelftestRepo) -> SelftestRepo:
    """build (kernel) <- lint <- docs (governance), and an independent optional step."""
    repo.steps(
        step("build", "kernel"),
        step("lint", "governance", depends_on=["build"]),
        step("docs", "governance", depends_on=["lint"]),
        step("extra", "optional"),
    )
    return repo


def ran(repo: SelftestRepo) -> dict[str, str]:
    """Step id -> status of the last run's report."""
    return {r["step_id"]: r["status"] for r in repo.report()["results"]}


def test_a_repository_that_did_not_opt_in_is_never_touched(pytester: pytest.Pytester) -> None:
    """Dormant: steps/ with other YAML is not collected, and no report is written."""
    pytester.makefile(".yaml", **{"steps/deploy": "- name: not a selftest step\n"})
    pytester.makepyfile(test_one="def test_one(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "selftest_report.json").exists()


@pytest.mark.parametrize(
    ("opt_in", "args"),
    [
        ("pyproject", ()),
        ("selftest.yaml", ()),
        ("ini selftest_env", ()),
        ("option", ("--selftest-env=dev",)),
    ],
)
def test_each_opt_in_activates_the_plugin(
    pytester: pytest.Pytester, opt_in: str, args: tuple[str, ...]
) -> None:
    """A [tool.selftest] table, a root selftest.yaml, an ini key or an option activates it."""
    repo = SelftestRepo(pytester)
    repo.steps(step("build", "kernel"))
    if opt_in == "pyproject":
        repo.opt_in()
    elif opt_in == "selftest.yaml":
        pytester.makefile(
            ".yaml", selftest="steps:\n  - {id: root, tier: kernel, command: 'true'}\n"
        )
    elif opt_in == "ini selftest_env":
        pytester.makeini("[pytest]\nselftest_env = dev\n")
    result = repo.run(*args)
    assert result.ret == 0
    assert "build" in ran(repo)


def test_steps_outside_testpaths_run_when_a_selftest_option_is_given(
    pytester: pytest.Pytester,
) -> None:
    """With testpaths = tests, --selftest-env adds steps; plain pytest and `pytest tests` don't."""
    repo = SelftestRepo(pytester)
    repo.steps(step("build", "kernel"))
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n[tool.selftest]\n'
    )
    pytester.makepyfile(**{"tests/test_unit": "def test_unit(): pass"})
    result = repo.run("--selftest-env=dev")
    result.assert_outcomes(passed=2)
    assert ran(repo) == {"build": "PASS"}
    repo.run().assert_outcomes(passed=1)
    repo.run("tests", "--selftest-env=dev").assert_outcomes(passed=1)


def test_pytest_tests_never_runs_steps_even_with_options(chain: SelftestRepo) -> None:
    """Explicit paths are respected: a step that runs the unit tests never recurses."""
    chain.pytester.makepyfile(**{"tests/test_unit": "def test_unit(): pass"})
    result = chain.run("tests", "--selftest-env=prod")
    result.assert_outcomes(passed=1)
    assert chain.report()["results"] == []


def test_steps_are_items_with_node_ids_markers_and_file_order(chain: SelftestRepo) -> None:
    """--collect-only lists each step as path::id in plan order."""
    result = chain.run("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["steps/s.yaml::build", "steps/s.yaml::lint", "steps/s.yaml::docs", "steps/s.yaml::extra"]
    )


def test_reportinfo_points_at_the_step_line(chain: SelftestRepo) -> None:
    """Each item's location is its step file and the 0-based line of its mapping."""
    items, _ = chain.pytester.inline_genitems("-p", "no:hypothesispytest")
    assert [(item.location[0], item.location[1]) for item in items] == [
        ("steps/s.yaml", 0),
        ("steps/s.yaml", 4),
        ("steps/s.yaml", 10),
        ("steps/s.yaml", 16),
    ]
    assert items[1].location[2] == "selftest step lint [governance]"


def test_keyword_selects_steps_by_id(chain: SelftestRepo) -> None:
    """-k lint runs only lint; its unselected dependency does not block it."""
    result = chain.run("-k", "lint")
    result.assert_outcomes(passed=1, deselected=3)
    report = chain.report()
    assert ran(chain) == {"lint": "PASS"}
    assert report["results"][0]["notes"] == ["dependency_not_selected:build"]
    assert report["metadata"]["partial"] is True


def test_marker_selects_a_tier(chain: SelftestRepo) -> None:
    """-m kernel runs the kernel steps only."""
    chain.run("-m", "kernel").assert_outcomes(passed=1, deselected=3)
    assert ran(chain) == {"build": "PASS"}


def test_node_ids_select_single_steps(chain: SelftestRepo) -> None:
    """A node id runs that step, and plan order holds whatever the argument order."""
    result = chain.run("steps/s.yaml::docs", "steps/s.yaml::build", "-v")
    result.stdout.fnmatch_lines(["steps/s.yaml::build PASSED*", "steps/s.yaml::docs PASSED*"])
    assert list(ran(chain)) == ["build", "docs"]


def test_selftest_step_runs_exact_ids(chain: SelftestRepo) -> None:
    """--selftest-step takes a comma list of exact ids."""
    chain.run("--selftest-step", "docs,extra").assert_outcomes(passed=2, deselected=2)
    assert ran(chain) == {"docs": "PASS", "extra": "PASS"}


def test_selftest_until_runs_the_plan_prefix(chain: SelftestRepo) -> None:
    """--selftest-until lint runs build and lint."""
    chain.run("--selftest-until", "lint").assert_outcomes(passed=2, deselected=2)
    assert ran(chain) == {"build": "PASS", "lint": "PASS"}


def test_with_deps_adds_the_dependencies_of_selected_steps(chain: SelftestRepo) -> None:
    """--selftest-with-deps with --selftest-step or -k also runs what the steps depend on."""
    chain.run("--selftest-step", "docs", "--selftest-with-deps").assert_outcomes(passed=3)
    assert list(ran(chain)) == ["build", "lint", "docs"]
    chain.run("-k", "lint", "--selftest-with-deps").assert_outcomes(passed=2, deselected=2)
    assert list(ran(chain)) == ["build", "lint"]


def test_skip_option_and_variable_skip_steps_by_user(
    chain: SelftestRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--selftest-skip and $SELFTEST_SKIP_STEPS merge; skipped steps skip their dependents."""
    monkeypatch.setenv("SELFTEST_SKIP_STEPS", "extra")
    result = chain.run("--selftest-skip", "lint", "-rs")
    assert result.ret == 0
    result.assert_outcomes(passed=1, skipped=3)
    reasons = {r["step_id"]: r["reason"] for r in chain.report()["results"]}
    assert reasons == {
        "build": None,
        "lint": "skipped_by_user",
        "docs": "dependency_skipped:lint",
        "extra": "skipped_by_user",
    }


def test_a_failed_dependency_skips_its_dependents(repo: SelftestRepo) -> None:
    """A failed (even waived) dependency makes its dependent SKIP dependency_failed:<id>."""
    repo.steps(
        step("lint", "governance", "false"),
        step("docs", "governance", depends_on=["lint"]),
    )
    repo.waive("lint")
    result = repo.run("--selftest-env=staging")
    assert result.ret == 0
    results = {
        r["step_id"]: (r["status"], r["reason"], r["verdict"]) for r in repo.report()["results"]
    }
    assert results == {
        "lint": ("FAIL", "nonzero_exit", "waived"),
        "docs": ("SKIP", "dependency_failed:lint", "skipped"),
    }


def test_a_kernel_failure_does_not_stop_independent_steps(repo: SelftestRepo) -> None:
    """Independent steps still run after a kernel failure; -x stops the run."""
    repo.steps(step("core", "kernel", "false"), step("docs", "governance"))
    result = repo.run()
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 1
    result = repo.run("-x")
    result.assert_outcomes(failed=1)
    assert result.ret == 1
    assert repo.report()["summary"]["exit_code"] == 1


def test_plan_option_prints_the_plan_and_runs_nothing(chain: SelftestRepo) -> None:
    """--selftest-plan prints the text plan with waves; =json prints only JSON."""
    result = chain.run("--selftest-plan")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "[[]1] build                [[]KERNEL    ] [[]CRITICAL] [[]CORRECTNESS ] build check",
            "[[]2] lint                 [[]GOVERNANCE] [[]WARNING ] [[]GOVERNANCE  ] lint check "
            "(depends: build)",
            "Wave 1: build, extra",
            "Wave 2: lint",
            "Wave 3: docs",
            "Total steps: 4",
        ]
    )
    assert not (chain.path / "selftest_report.json").exists()
    result = chain.run("--selftest-plan=json", "--selftest-until=lint")
    import json

    plan = json.loads(result.stdout.str())
    assert [s["id"] for s in plan["steps"]] == ["build", "lint"]
    assert plan["summary"] == {"total": 2, "by_tier": {"kernel": 1, "governance": 1, "optional": 0}}


def planned(repo: SelftestRepo, *args: str) -> list[str]:
    """The step ids of ``pytest --selftest-plan=json`` with ``args``."""
    import json

    result = repo.run("--selftest-plan=json", *args)
    assert result.ret == 0
    return [s["id"] for s in json.loads(result.stdout.str())["steps"]]


def test_the_plan_of_dash_m_kernel_lists_only_kernel_steps(chain: SelftestRepo) -> None:
    """`pytest --selftest-plan -m kernel` lists what `pytest -m kernel` runs, not everything."""
    assert planned(chain, "-m", "kernel") == ["build"]


@pytest.mark.parametrize(
    "args",
    [
        ("-m", "kernel"),
        ("-m", "governance and not kernel"),
        ("-k", "LINT or extra"),
        ("-k", "s.yaml and not docs"),
        ("-m", "governance", "--selftest-with-deps"),
        ("steps/s.yaml::docs", "steps/s.yaml::build"),
        ("steps",),
        ("-m", "selftest", "--selftest-until=lint"),
        ("-k", "build or docs", "--selftest-step=docs,extra"),
    ],
)
def test_the_plan_lists_exactly_what_the_command_line_runs(
    chain: SelftestRepo, args: tuple[str, ...]
) -> None:
    """For -m, -k, node ids, folders and the --selftest-* options: plan == the steps run."""
    expected = planned(chain, *args)
    assert chain.run("--selftest-env=dev", *args).ret == 0
    assert list(ran(chain)) == expected
