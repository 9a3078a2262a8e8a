"""Bad input through real pytest runs (SPEC §2, §3, §7): exit 2, one exact ``ERROR:`` line per
problem on stderr, no traceback, and a CONFIG_ERROR report; warnings where SPEC says warn."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from bad_inputs import BAD_INPUTS, BDD, gov
from selftest_repo import validate_report

KNOWN_ENVS = "known: degraded, dev, prod, staging, strict"
ENV_KEYS = (
    "expected: governance_budget, require_waiver, honour_waivers, optional_blocks, "
    "allow_user_skips, cache, extends"
)
TEAM = "[tool.selftest.envs.team]"
EMPTY_TABLE = "[tool.selftest]\n"


@pytest.fixture(autouse=True)
def _no_machine_selftest_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The outer shell's SELFTEST_ENV / SELFTEST_SKIP_STEPS must not leak into these runs."""
    monkeypatch.delenv("SELFTEST_ENV", raising=False)
    monkeypatch.delenv("SELFTEST_SKIP_STEPS", raising=False)


def make_repo(pytester: pytest.Pytester, files: dict[str, str], toml: str = EMPTY_TABLE) -> None:
    pytester.makepyprojecttoml(toml)
    for name, text in files.items():
        stem, _, suffix = name.rpartition(".")
        pytester.makefile(f".{suffix}", **{stem: text})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # A config error returns 2 from pytest_cmdline_main, before pytest_configure. The in-process
    # pytester takes 2 for a Ctrl-C and asks its hook recorder (made in pytest_configure) for
    # the KeyboardInterrupt, crashing with exit 3; no_reraise_ctrlc skips that question.
    return pytester.runpytest("-p", "no:cacheprovider", *args, no_reraise_ctrlc=True)


def literal(line: str) -> str:
    """An fnmatch pattern matching exactly ``line`` (messages hold ``[...]``)."""
    return re.sub(r"([*?[])", r"[\1]", line)


def assert_config_error(
    pytester: pytest.Pytester, result: pytest.RunResult, messages: list[str]
) -> None:
    """Exit 2, the exact ERROR lines, no traceback, and a CONFIG_ERROR report of the messages."""
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    assert result.ret == 2
    result.stderr.fnmatch_lines([literal(f"ERROR: {m}") for m in messages], consecutive=True)
    assert [line for line in result.errlines if line.startswith("ERROR: ")] == [
        f"ERROR: {m}" for m in messages
    ]
    report = json.loads((pytester.path / "selftest_report.json").read_text())
    validate_report(report)
    assert (report["summary"]["verdict"], report["summary"]["exit_code"]) == ("CONFIG_ERROR", 2)
    assert report["summary"]["exit_reason"] == "config_error"
    assert (report["errors"], report["results"]) == (messages, [])


# (files, extra pytest arguments, exact messages): every bad input of the issue.
# Every bad step file of the pure catalogue tests, and one with several problems at once.
STEP_FILE_ERRORS: dict[str, tuple[dict[str, str], list[str]]] = {
    **BAD_INPUTS,
    "several problems at once": (
        gov(BDD + "  tmeout: 30\n  severity: high\n"),
        [
            "steps/gov.yaml:9: step 'bdd': unknown key 'tmeout' (did you mean 'timeout'?)",
            "steps/gov.yaml:10: step 'bdd': unknown severity 'high' "
            "(expected one of: critical, warning, info)",
        ],
    ),
}


@pytest.mark.parametrize(
    ("files", "messages"), STEP_FILE_ERRORS.values(), ids=STEP_FILE_ERRORS.keys()
)
def test_a_bad_step_file_is_a_configuration_error_with_exit_2(
    pytester: pytest.Pytester, files: dict[str, str], messages: list[str]
) -> None:
    """Each bad step file gives exit 2, its exact message(s) and a CONFIG_ERROR report."""
    make_repo(pytester, files)
    assert_config_error(pytester, run(pytester), messages)


def test_a_bad_root_selftest_yaml_is_a_configuration_error_without_pyproject(
    pytester: pytest.Pytester,
) -> None:
    """A root selftest.yaml activates the plugin by itself, and its problems are reported too."""
    pytester.makefile(".yaml", selftest="steps:\n  - id: core\n    tier: kernal\n    run: make\n")
    assert_config_error(
        pytester,
        run(pytester),
        [
            "selftest.yaml:3: step 'core': unknown tier 'kernal' "
            "(expected one of: kernel, governance, optional)"
        ],
    )


OPTION_ERRORS: dict[str, tuple[tuple[str, ...], dict[str, str], str, list[str]]] = {
    "unknown env option": (
        ("--selftest-env=nope",),
        {},
        EMPTY_TABLE,
        [f"unknown selftest env 'nope' (from --selftest-env; {KNOWN_ENVS})"],
    ),
    "unknown env from SELFTEST_ENV": (
        (),
        {"SELFTEST_ENV": "nope"},
        EMPTY_TABLE,
        [f"unknown selftest env 'nope' (from $SELFTEST_ENV; {KNOWN_ENVS})"],
    ),
    "unknown env from the ini key": (
        (),
        {},
        EMPTY_TABLE + "[tool.pytest.ini_options]\nselftest_env = 'stagin'\n",
        ["unknown selftest env 'stagin' (from ini selftest_env; did you mean 'staging'?)"],
    ),
    "an env name in the wrong case": (
        ("--selftest-env=Prod",),
        {},
        EMPTY_TABLE,
        ["unknown selftest env 'Prod' (from --selftest-env; did you mean 'prod'?)"],
    ),
    "unknown id in --selftest-step": (
        ("--selftest-step=lint,nope",),
        {},
        EMPTY_TABLE,
        ["Unknown step id: nope"],
    ),
    "unknown id in --selftest-until": (
        ("--selftest-until=nope",),
        {},
        EMPTY_TABLE,
        ["Unknown step id: nope"],
    ),
    "unknown id in --selftest-skip": (
        ("--selftest-skip=nope,lint",),
        {},
        EMPTY_TABLE,
        ["Unknown step id: nope"],
    ),
    "a custom env with a bad key": (
        ("--selftest-env=dev",),
        {},
        "[tool.selftest.envs.dev]\nbudget = 2\n",
        [f"pyproject.toml:2: [tool.selftest.envs.dev]: unknown key 'budget' ({ENV_KEYS})"],
    ),
    "a bad key in a custom env that is not in use": (
        (),
        {},
        "[tool.selftest.envs.nightly]\nextends = 'staging'\noptional_block = true\n",
        [
            "pyproject.toml:3: [tool.selftest.envs.nightly]: unknown key 'optional_block' "
            "(did you mean 'optional_blocks'?)"
        ],
    ),
    "envs that is not a table": (
        (),
        {},
        "[tool.selftest]\nenvs = 'dev'\n",
        ["pyproject.toml:2: [tool.selftest.envs] must be a table of env tables"],
    ),
    "a misspelt env key, below other tables": (
        (),
        {},
        "[project]\nname = 'x'\n\n[tool.selftest]\nmax_waiver_hours = 24\n\n"
        f"{TEAM}\nextends = 'staging'\ngovernance_budgt = 2\n",
        [
            f"pyproject.toml:9: {TEAM}: unknown key 'governance_budgt' "
            "(did you mean 'governance_budget'?)"
        ],
    ),
    "a budget that is not a number": (
        (),
        {},
        f"{TEAM}\ngovernance_budget = 'lots'\n",
        [
            f"pyproject.toml:2: {TEAM}: 'governance_budget' must be a whole number >= 0 "
            "or \"unlimited\", got 'lots'"
        ],
    ),
    "a flag that is not a boolean": (
        (),
        {},
        f"{TEAM}\nrequire_waiver = 'sometimes'\n",
        [f"pyproject.toml:2: {TEAM}: 'require_waiver' must be true or false, got 'sometimes'"],
    ),
    "allow_user_skips that is not a boolean": (
        (),
        {},
        f"{TEAM}\ncache = false\nallow_user_skips = 'no'\n",
        [f"pyproject.toml:3: {TEAM}: 'allow_user_skips' must be true or false, got 'no'"],
    ),
    "extends naming an unknown env": (
        (),
        {},
        f"{TEAM}\nextends = 'stagin'\n",
        [
            f"pyproject.toml:2: {TEAM}: 'extends' names unknown env 'stagin' "
            "(did you mean 'staging'?)"
        ],
    ),
    "a misspelt key inside an inline table": (
        (),
        {},
        "[tool.selftest]\nenvs = { team = { governance_budgt = 2 } }\n",
        [
            f"pyproject.toml:2: {TEAM}: unknown key 'governance_budgt' "
            "(did you mean 'governance_budget'?)"
        ],
    ),
    "a bad value under a dotted key": (
        (),
        {},
        "[tool.selftest]\nmax_waiver_hours = 24\nenvs.team.require_waiver = 1\n",
        [f"pyproject.toml:3: {TEAM}: 'require_waiver' must be true or false, got 1"],
    ),
    "an unknown key in [tool.selftest]": (
        (),
        {},
        "[tool.selftest]\nbogus = 1\n",
        [
            "pyproject.toml:2: [tool.selftest]: unknown key 'bogus' "
            "(expected: max_waiver_hours, envs)"
        ],
    ),
    "a misspelt key in [tool.selftest]": (
        (),
        {},
        "[tool.selftest]\nmax_wavier_hours = 5\n",
        [
            "pyproject.toml:2: [tool.selftest]: unknown key 'max_wavier_hours' "
            "(did you mean 'max_waiver_hours'?)"
        ],
    ),
    "max_waiver_hours that is not a number": (
        (),
        {},
        "[tool.selftest]\nmax_waiver_hours = 'lots'\n",
        [
            "pyproject.toml:2: [tool.selftest]: 'max_waiver_hours' must be a whole number "
            ">= 1, got 'lots'"
        ],
    ),
    "max_waiver_hours zero": (
        (),
        {},
        "[tool.selftest]\nmax_waiver_hours = 0\n",
        [
            "pyproject.toml:2: [tool.selftest]: 'max_waiver_hours' must be a whole number >= 1, "
            "got 0"
        ],
    ),
    "a bad table key and an unknown env at once": (
        ("--selftest-env=stagin",),
        {},
        "[tool.selftest]\nbogus = 1\n",
        [
            "pyproject.toml:2: [tool.selftest]: unknown key 'bogus' "
            "(expected: max_waiver_hours, envs)",
            "unknown selftest env 'stagin' (from --selftest-env; did you mean 'staging'?)",
        ],
    ),
}


@pytest.mark.parametrize(
    ("args", "environ", "toml", "messages"), OPTION_ERRORS.values(), ids=OPTION_ERRORS.keys()
)
def test_an_unknown_env_step_id_or_env_table_key_is_a_configuration_error_with_exit_2(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    environ: dict[str, str],
    toml: str,
    messages: list[str],
) -> None:
    """Unknown env (naming its source), unknown step id, bad env table: exit 2, exact lines."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    make_repo(pytester, gov(BDD), toml)
    assert_config_error(pytester, run(pytester, *args), messages)


def test_pyproject_problems_come_before_step_file_problems_in_one_go(
    pytester: pytest.Pytester,
) -> None:
    """Every problem at once: pyproject.toml's first (it is read first), then the catalogue's."""
    make_repo(pytester, gov(BDD + "  tmeout: 30\n"), f"{TEAM}\nrequire_waiver = 'yes'\n")
    messages = [
        f"pyproject.toml:2: {TEAM}: 'require_waiver' must be true or false, got 'yes'",
        "steps/gov.yaml:9: step 'bdd': unknown key 'tmeout' (did you mean 'timeout'?)",
    ]
    assert_config_error(pytester, run(pytester), messages)


def test_an_env_table_may_set_allow_user_skips_and_cache(pytester: pytest.Pytester) -> None:
    """Both are env keys of SPEC §4: accepted, the run goes on to its verdict."""
    make_repo(
        pytester,
        gov(BDD),
        f"{TEAM}\nextends = 'dev'\nallow_user_skips = false\ncache = false\n",
    )
    result = run(pytester, "--selftest-env=team")
    assert result.ret == 0
    result.assert_outcomes(passed=2)


def test_an_unknown_id_in_selftest_skip_steps_is_only_a_warning(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$SELFTEST_SKIP_STEPS is often set machine-wide: an unknown id there warns, exit 0."""
    monkeypatch.setenv("SELFTEST_SKIP_STEPS", "nope, lint")
    make_repo(pytester, gov(BDD))
    result = run(pytester)
    assert result.ret == 0
    result.assert_outcomes(passed=1, skipped=1)
    warning = "$SELFTEST_SKIP_STEPS names unknown step 'nope' (ignored)"
    result.stdout.fnmatch_lines([literal(f"Warning: {warning}")])
    report = json.loads((pytester.path / "selftest_report.json").read_text())
    validate_report(report)
    assert report["warnings"] == [warning]
    assert (report["summary"]["verdict"], report["summary"]["exit_code"]) == ("PASS", 0)
    statuses = {r["step_id"]: (r["status"], r["reason"]) for r in report["results"]}
    assert statuses == {"lint": ("SKIP", "skipped_by_user"), "bdd": ("PASS", None)}


def waiver(step_id: str, **changes: Any) -> dict[str, Any]:
    record = {
        "step_id": step_id,
        "reason": "flaky upstream",
        "approver": "alice",
        "created_at": "2020-01-01T00:00:00Z",
        "expires_at": "2999-01-01T00:00:00Z",
        "status": "APPROVED",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def test_a_malformed_waiver_record_is_skipped_with_a_warning_and_the_others_apply(
    pytester: pytest.Pytester,
) -> None:
    """Staging: the valid waiver still waives the failing governance step; exit 0."""
    make_repo(pytester, gov(BDD.replace('run: "true"', "run: exit 1")))
    records = [waiver("docs", approver=None), waiver("bdd")]
    pytester.makefile(".json", **{".selftest/overrides": json.dumps({"overrides": records})})
    result = run(pytester, "--selftest-env=staging")
    assert result.ret == 0
    result.assert_outcomes(passed=1, xfailed=1)
    store = pytester.path / ".selftest" / "overrides.json"
    warning = f"{store}: waiver for 'docs' skipped: missing approver"
    result.stdout.fnmatch_lines(
        [
            "*WAIVED*",
            literal(f"Warning: {warning}"),
            "Verdict: PASS (exit code 0: ok)",
        ]
    )
    report = json.loads((pytester.path / "selftest_report.json").read_text())
    validate_report(report)
    assert report["warnings"] == [warning]
    verdicts = {r["step_id"]: (r["status"], r["verdict"]) for r in report["results"]}
    assert verdicts == {"lint": ("PASS", "passed"), "bdd": ("FAIL", "waived")}
    assert json.loads(store.read_text())["overrides"] == records


def test_a_malformed_waiver_is_named_in_the_warning_and_in_the_failure_it_left(
    pytester: pytest.Pytester,
) -> None:
    """SPEC §10: the warning and the step's failure name the file, the step and the field."""
    make_repo(pytester, gov(BDD.replace('run: "true"', "run: exit 1")))
    records = [waiver("bdd", expires_at="2026-13-45T00:00:00Z")]
    pytester.makefile(".json", **{".selftest/overrides": json.dumps({"overrides": records})})
    result = run(pytester, "--selftest-env=staging")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    store = pytester.path / ".selftest" / "overrides.json"
    problem = "expires_at: month must be in 1..12"
    warning = f"{store}: waiver for 'bdd' skipped: {problem}"
    reason = (
        "staging requires a waiver for a governance failure: none active for 'bdd' "
        f"(its waiver was skipped: {store}: {problem})"
    )
    result.stdout.fnmatch_lines([f"*{literal(reason)}*"])
    result.stdout.fnmatch_lines([literal(f"Warning: {warning}")])
    report = json.loads(store.parent.parent.joinpath("selftest_report.json").read_text())
    validate_report(report)
    assert report["warnings"] == [warning]
    [bdd] = [r for r in report["results"] if r["step_id"] == "bdd"]
    assert (bdd["verdict"], bdd["verdict_reason"]) == ("failed", reason)
    assert json.loads(store.read_text())["overrides"] == records


@pytest.mark.parametrize(
    ("args", "files", "message"),
    [
        (
            (),
            gov(BDD + "  tmeout: 30\n"),
            "steps/gov.yaml:9: step 'bdd': unknown key 'tmeout' (did you mean 'timeout'?)",
        ),
        (
            ("--selftest-env=nope",),
            gov(BDD),
            f"unknown selftest env 'nope' (from --selftest-env; {KNOWN_ENVS})",
        ),
    ],
    ids=["bad step file", "unknown env"],
)
def test_a_configuration_error_exits_2_under_xdist_too(
    pytester: pytest.Pytester, args: tuple[str, ...], files: dict[str, str], message: str
) -> None:
    """SPEC §7: the exit code is the same with ``-n 2`` (checked before workers start)."""
    make_repo(pytester, files)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", *args)
    assert_config_error(pytester, result, [message])


WHOLE_NUMBER = "must be a whole number >= 1, got"
# (ini file name, its text, extra pytest arguments, the exact message)
BAD_INI_VALUES = {
    "history size in pytest.ini": (
        "pytest.ini",
        "[pytest]\naddopts = -q\nselftest_history_max_runs = abc\n",
        (),
        f"pytest.ini:3: selftest_history_max_runs {WHOLE_NUMBER} 'abc'",
    ),
    "cache size in pytest.ini": (
        "pytest.ini",
        "[pytest]\nselftest_cache_max_mb = -5\n",
        (),
        f"pytest.ini:2: selftest_cache_max_mb {WHOLE_NUMBER} '-5'",
    ),
    "history size in pyproject.toml": (
        "pyproject.toml",
        '[tool.selftest]\n\n[tool.pytest.ini_options]\nselftest_history_max_runs = "0"\n',
        (),
        f"pyproject.toml:4: selftest_history_max_runs {WHOLE_NUMBER} '0'",
    ),
    "cache size in tox.ini": (
        "tox.ini",
        "[pytest]\nselftest_cache_max_mb = 1.5\n",
        (),
        f"tox.ini:2: selftest_cache_max_mb {WHOLE_NUMBER} '1.5'",
    ),
    "history size given with -o": (
        "pytest.ini",
        "[pytest]\nselftest_history_max_runs = 5\n",
        ("-o", "selftest_history_max_runs=none"),
        f"-o (command line): selftest_history_max_runs {WHOLE_NUMBER} 'none'",
    ),
}


@pytest.mark.parametrize(
    ("name", "text", "args", "message"), BAD_INI_VALUES.values(), ids=BAD_INI_VALUES.keys()
)
def test_a_size_ini_key_that_is_no_whole_number_is_a_configuration_error(
    pytester: pytest.Pytester, name: str, text: str, args: tuple[str, ...], message: str
) -> None:
    """selftest_history_max_runs and selftest_cache_max_mb: exit 2 naming the file and line."""
    make_repo(pytester, gov(BDD))
    (pytester.path / name).write_text(text)
    assert_config_error(pytester, run(pytester, *args), [message])


@pytest.mark.parametrize("value", ["1", "250", " 7 "])
def test_whole_number_sizes_are_accepted(pytester: pytest.Pytester, value: str) -> None:
    """Valid sizes, surrounding spaces aside, keep the run going to its verdict."""
    make_repo(pytester, gov(BDD))
    ini = f"[pytest]\nselftest_history_max_runs ={value}\nselftest_cache_max_mb ={value}\n"
    (pytester.path / "pytest.ini").write_text(ini)
    result = run(pytester)
    assert result.ret == 0
    result.assert_outcomes(passed=2)
