"""The step result cache in real runs (SPEC §15): what hits, what misses, and that a hit changes
no verdict. Each step appends its id to ``ran.log`` (outside every input), so a test sees which
commands really executed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from selftest_repo import SelftestRepo, step

CACHE = "--selftest-cache"


def logged(step_id: str, then: str = "true") -> str:
    return f"echo {step_id} >> ran.log && {then}"


def ran(repo: SelftestRepo) -> list[str]:
    log = repo.path / "ran.log"
    executed = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return executed


def cached_pytest(cwd: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real pytest process with the cache on and the store at ``store``."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", CACHE]
    return subprocess.run(
        [*command, f"--selftest-cache-dir={store}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def cache_of(repo: SelftestRepo) -> dict[str, str | None]:
    return {r["step_id"]: (r["cache"] or {}).get("status") for r in repo.report()["results"]}


@pytest.fixture
def project(repo: SelftestRepo) -> SelftestRepo:
    for path, text in {
        "src/app.py": "print('app')\n",
        "src/util.py": "X = 1\n",
        "docs/index.md": "# docs\n",
        "docs/draft.tmp": "scratch\n",
    }.items():
        (repo.path / path).parent.mkdir(parents=True, exist_ok=True)
        (repo.path / path).write_text(text)
    repo.steps(
        step("code", "kernel", logged("code"), inputs=["src/**"]),
        step("docs", "governance", logged("docs"), inputs=["docs/**", "!**/*.tmp"]),
        step("both", "governance", logged("both"), inputs=["src/app.py", "docs/index.md"]),
        step("always", "optional", logged("always")),
    )
    return repo


def test_nothing_changed_is_a_hit_and_runs_nothing_cacheable(project: SelftestRepo) -> None:
    first = project.run("--selftest-env=dev", CACHE, "-v")
    assert first.ret == 0
    assert sorted(ran(project)) == ["always", "both", "code", "docs"]
    assert cache_of(project) == {
        "code": "miss",
        "docs": "miss",
        "both": "miss",
        "always": "uncacheable",
    }
    second = project.run("--selftest-env=dev", CACHE, "-v")
    assert second.ret == 0
    assert ran(project) == ["always"]
    second.stdout.fnmatch_lines(["*::code PASSED (cached)*", "*::always PASSED *"])
    report = project.report()
    assert cache_of(project) == {
        "code": "hit",
        "docs": "hit",
        "both": "hit",
        "always": "uncacheable",
    }
    hit = report["results"][0]
    assert (hit["status"], hit["verdict"], hit["attempts"], hit["notes"]) == (
        "PASS",
        "passed",
        0,
        ["cached"],
    )
    assert hit["cache"]["from_run"] != report["metadata"]["run_id"]
    assert report["summary"]["cache"]["hits"] == 3
    assert report["summary"]["cache"]["uncacheable"] == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda root: (root / "src/util.py").write_text("X = 2\n"), ["always", "code"]),
        (lambda root: (root / "src/new.py").write_text(""), ["always", "code"]),
        (lambda root: (root / "src/util.py").unlink(), ["always", "code"]),
        (lambda root: (root / "docs/index.md").write_text("# new\n"), ["always", "both", "docs"]),
        (lambda root: (root / "docs/draft.tmp").write_text("excluded\n"), ["always"]),
        (lambda root: (root / "README.md").write_text("no step reads it\n"), ["always"]),
    ],
    ids=["changed", "added", "deleted", "shared input", "excluded", "unrelated"],
)
def test_a_changed_input_reruns_exactly_the_steps_whose_globs_match_it(
    project: SelftestRepo, change: Any, expected: list[str]
) -> None:
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    ran(project)
    change(project.path)
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    assert sorted(ran(project)) == expected


@pytest.mark.parametrize(
    ("before", "after", "hit"),
    [
        ({"STAGE": "a"}, {"STAGE": "b"}, False),
        ({"STAGE": "a"}, {}, False),
        ({"STAGE": ""}, {}, False),  # unset is not empty
        ({"STAGE": "a"}, {"STAGE": "a", "UNDECLARED": "x"}, True),
    ],
    ids=["changed", "unset", "empty then unset", "undeclared variable"],
)
def test_env_inputs_decide_as_declared(
    repo: SelftestRepo,
    monkeypatch: pytest.MonkeyPatch,
    before: dict[str, str],
    after: dict[str, str],
    hit: bool,
) -> None:
    repo.steps(step("env", "governance", logged("env"), inputs=["steps/**"], inputs_env=["STAGE"]))
    for name in ("STAGE", "UNDECLARED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in before.items():
        monkeypatch.setenv(name, value)
    assert repo.run(CACHE).ret == 0
    for name in before:
        monkeypatch.delenv(name)
    for name, value in after.items():
        monkeypatch.setenv(name, value)
    ran(repo)
    assert repo.run(CACHE).ret == 0
    assert ran(repo) == ([] if hit else ["env"])


@pytest.mark.parametrize(
    ("key", "value", "hit"),
    [
        ("run", "echo s >> ran.log && true", False),
        ("env", {"MODE": "fast"}, False),
        ("cwd", "sub", False),
        ("timeout", 99, False),
        ("description", "Reworded", True),
        ("remediation", "Do it differently", True),
        ("severity", "info", True),
    ],
)
def test_what_a_step_runs_is_in_the_key_and_what_it_says_is_not(
    repo: SelftestRepo, key: str, value: object, hit: bool
) -> None:
    (repo.path / "sub").mkdir()
    (repo.path / "data.txt").write_text("input\n")
    command = f"echo s >> {repo.path / 'ran.log'}"  # the same file whatever the cwd
    repo.steps(step("s", "governance", command, inputs=["data.txt"]))
    assert repo.run(CACHE).ret == 0
    ran(repo)
    changed: dict[str, Any] = {"inputs": ["data.txt"], "run": command, key: value}
    repo.steps(step("s", "governance", **changed))
    assert repo.run(CACHE).ret == 0
    assert ran(repo) == ([] if hit else ["s"])


def test_a_check_parameter_change_is_a_miss(repo: SelftestRepo) -> None:
    (repo.path / "a.py").write_text("x = 1\n")
    compile_step = {
        "id": "compiles",
        "tier": "governance",
        "description": "Compiles",
        "check": "python-compile",
        "with": {"paths": ["a.py"]},
    }
    repo.steps(compile_step)
    assert repo.run(CACHE).ret == 0
    assert repo.run(CACHE).ret == 0
    assert cache_of(repo) == {"compiles": "hit"}  # a check's inputs come from its parameters
    (repo.path / "b.py").write_text("y = 2\n")
    repo.steps({**compile_step, "with": {"paths": ["a.py", "b.py"]}})
    assert repo.run(CACHE).ret == 0
    assert cache_of(repo) == {"compiles": "miss"}


def test_failures_and_flaky_passes_are_never_stored(repo: SelftestRepo) -> None:
    (repo.path / "in.txt").write_text("x")
    flaky = "test -f once || { touch once; exit 1; }"
    repo.steps(
        step("fails", "governance", logged("fails", "false"), inputs=["in.txt"]),
        step("flaky", "governance", logged("flaky", flaky), inputs=["in.txt"], retries=1),
    )
    assert repo.run("--selftest-env=dev", CACHE).ret == 0
    assert repo.report()["results"][1]["flaky"] is True
    ran(repo)
    assert repo.run("--selftest-env=dev", CACHE).ret == 0
    assert sorted(ran(repo)) == ["fails", "flaky"]
    assert cache_of(repo) == {"fails": "miss", "flaky": "miss"}


def test_outputs_are_restored_byte_for_byte_for_a_dependent(repo: SelftestRepo) -> None:
    (repo.path / "in.txt").write_text("source\n")
    build = "printf '\\000\\377binary' > out.bin && " + logged("build")
    repo.steps(
        step("build", "kernel", build, inputs=["in.txt"], outputs=["out.bin"]),
        step("use", "governance", logged("use", "test -s out.bin"), depends_on=["build"]),
    )
    assert repo.run(CACHE).ret == 0
    content = (repo.path / "out.bin").read_bytes()
    (repo.path / "out.bin").unlink()
    ran(repo)
    assert repo.run(CACHE, "-v").ret == 0
    assert ran(repo) == ["use"]
    assert (repo.path / "out.bin").read_bytes() == content == b"\x00\xffbinary"


def test_a_dependency_that_now_fails_still_skips_its_cached_dependent(repo: SelftestRepo) -> None:
    (repo.path / "a.txt").write_text("ok")
    repo.steps(
        step("dep", "kernel", "grep -q ok a.txt", inputs=["a.txt"]),
        step(
            "dependent", "governance", logged("dependent"), depends_on=["dep"], inputs=["steps/**"]
        ),
    )
    assert repo.run(CACHE).ret == 0
    (repo.path / "a.txt").write_text("bad")
    assert repo.run(CACHE).ret == 1
    report = repo.report()
    assert [(r["step_id"], r["status"], r["reason"]) for r in report["results"]] == [
        ("dep", "FAIL", "nonzero_exit"),
        ("dependent", "SKIP", "dependency_failed:dep"),
    ]
    assert report["results"][1]["cache"] is None


def test_prod_runs_fresh_unless_the_cache_is_asked_for(project: SelftestRepo) -> None:
    (project.path / "pyproject.toml").write_text(
        "[tool.selftest]\n[tool.pytest.ini_options]\nselftest_cache = true\n"
    )
    assert project.run("--selftest-env=dev").ret == 0
    ran(project)
    assert project.run("--selftest-env=prod").ret == 0
    assert sorted(ran(project)) == ["always", "both", "code", "docs"]
    assert set(cache_of(project).values()) == {"off"}
    assert project.run("--selftest-env=prod", CACHE).ret == 0
    assert ran(project) == ["always"]
    assert project.run("--selftest-env=dev", "--selftest-no-cache").ret == 0
    assert sorted(ran(project)) == ["always", "both", "code", "docs"]


@pytest.mark.parametrize("damage", [b"", b'{"format": "pytest-selftest-cache/1"', b"\x00" * 64])
def test_a_damaged_store_is_a_miss_with_a_warning_and_is_rewritten(
    project: SelftestRepo, damage: bytes
) -> None:
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    store = project.path / ".selftest" / "cache"
    for path in store.rglob("*"):
        if path.is_file():
            path.write_bytes(damage)
    ran(project)
    result = project.run("--selftest-env=dev", CACHE)
    assert result.ret == 0
    assert "Traceback" not in result.stdout.str()
    assert sorted(ran(project)) == ["always", "both", "code", "docs"]
    result.stdout.fnmatch_lines(["Warning: cache entry *entries* is damaged or foreign: a miss"])
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    assert ran(project) == ["always"]


def test_two_checkouts_share_a_cache_dir(pytester: pytest.Pytester, tmp_path: Path) -> None:
    store = tmp_path / "shared"
    for name in ("one", "two"):
        root = pytester.mkdir(name)
        (root / "pyproject.toml").write_text("[tool.selftest]\n")
        (root / "src").mkdir()
        (root / "src" / "a.py").write_text("same content\n")
        (root / "steps").mkdir()
        (root / "steps" / "s.yaml").write_text(
            "- {id: s, tier: kernel, description: S, run: 'echo ran >> ran.log', inputs: [src]}\n"
        )
    for name in ("one", "two"):
        done = cached_pytest(pytester.path / name, store)
        assert done.returncode == 0, done.stdout
    assert (pytester.path / "one" / "ran.log").exists()
    assert not (pytester.path / "two" / "ran.log").exists()


def test_xdist_workers_and_concurrent_runs_share_one_store(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Four workers in each of two concurrent runs write one store: every entry stays whole."""
    store = tmp_path / "store"
    roots = []
    for name in ("a", "b"):
        root = pytester.mkdir(name)
        (root / "pyproject.toml").write_text("[tool.selftest]\n")
        (root / "in.txt").write_text(name)
        steps = "".join(
            f"- {{id: s{i}, tier: governance, description: S{i}, run: 'sleep 0.2', "
            f"inputs: [in.txt], env: {{N: '{i}'}}}}\n"
            for i in range(12)
        )
        (root / "steps").mkdir()
        (root / "steps" / "s.yaml").write_text(steps)
        roots.append(root)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-n",
        "4",
        CACHE,
        f"--selftest-cache-dir={store}",
    ]
    runs = [subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL) for root in roots]
    assert [run.wait(timeout=120) for run in runs] == [0, 0]
    entries = list((store / "entries").glob("*/*.json"))
    assert len(entries) == 24
    assert all(json.loads(e.read_text())["format"] == "pytest-selftest-cache/1" for e in entries)
    for root in roots:
        again = cached_pytest(root, store)
        assert again.returncode == 0
        report = json.loads((root / "selftest_report.json").read_text())
        assert report["summary"]["cache"]["hits"] == 12


ENVS = ("dev", "staging", "prod", "strict", "degraded")


@pytest.mark.parametrize("env", ENVS)
def test_the_exit_code_with_and_without_the_cache_is_the_same(repo: SelftestRepo, env: str) -> None:
    (repo.path / "in.txt").write_text("x")
    repo.steps(
        step("k", "kernel", inputs=["in.txt"]),
        step("g1", "governance", "false", inputs=["in.txt"]),
        step("g2", "governance", inputs=["in.txt"]),
        step("o", "optional", "false", inputs=["in.txt"]),
    )
    fresh = repo.run(f"--selftest-env={env}").ret
    verdicts = repo.verdicts()
    assert repo.run(f"--selftest-env={env}", CACHE).ret == fresh
    cached = repo.run(f"--selftest-env={env}", CACHE)
    assert cached.ret == fresh
    assert repo.verdicts() == verdicts
    assert cache_of(repo)["g2"] == "hit"


def test_cache_why_names_what_changed(
    project: SelftestRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Files added, removed and changed, env inputs and definition keys; never a value."""
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    (project.path / "src/util.py").write_text("X = 2\n")
    (project.path / "src/extra.py").write_text("")
    (project.path / "src/app.py").unlink()
    from pytest_selftest.cli import main

    monkeypatch.chdir(project.path)
    capsys.readouterr()
    assert main(["cache", "why", "code"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("code: newest entry ")
    assert lines[1:] == [
        "input added: src/extra.py",
        "input removed: src/app.py",
        "input changed: src/util.py",
    ]
    assert main(["cache", "why", "docs"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["unchanged: the next run is a hit"]
    assert main(["cache", "why", "always"]) == 1
    assert capsys.readouterr().out == (
        "always: no stored entry (it never passed with the cache on, or is uncacheable)\n"
    )


def test_cache_why_names_env_inputs_and_definition_keys_without_values(
    repo: SelftestRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "first-secret")
    repo.steps(step("s", "governance", inputs=["steps/**"], inputs_env=["DEPLOY_TOKEN"]))
    assert repo.run(CACHE).ret == 0
    monkeypatch.setenv("DEPLOY_TOKEN", "second-secret")
    from pytest_selftest.cli import main

    monkeypatch.chdir(repo.path)
    (repo.path / "steps" / "s.yaml").write_text(
        "- {id: s, tier: governance, description: s, run: 'true', timeout: 5,"
        " inputs: [pyproject.toml], inputs_env: [DEPLOY_TOKEN]}\n"
    )
    capsys.readouterr()
    assert main(["cache", "why", "s"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == [
        "input added: pyproject.toml",
        "input removed: steps/s.yaml",
        "env input changed: DEPLOY_TOKEN",
        "definition changed: timeout",
    ]
    assert "secret" not in out


def test_plan_cache_marks_each_step(
    project: SelftestRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    ran(project)
    (project.path / "docs/index.md").write_text("# changed\n")
    from pytest_selftest.cli import main

    monkeypatch.chdir(project.path)
    capsys.readouterr()
    assert main(["plan", "--cache", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert {s["id"]: s["cache"] for s in plan["steps"]} == {
        "code": "hit",
        "docs": "miss",
        "both": "miss",
        "always": "uncacheable",
    }
    assert ran(project) == []  # the plan runs nothing


def test_cache_stats_and_clear(
    project: SelftestRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    run_id = project.report()["metadata"]["run_id"]
    from pytest_selftest.cli import main

    monkeypatch.chdir(project.path)
    capsys.readouterr()
    assert main(["cache", "stats"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Store: {project.path / '.selftest' / 'cache'}"
    assert lines[1].startswith("Entries: 3 (")
    assert lines[2].startswith(
        f"Last run {run_id}: 3 hits, 0 misses, 1 uncacheable (hit rate 100%), "
    )
    assert main(["cache", "clear"]) == 0
    assert (
        capsys.readouterr().out
        == f"Removed 3 entries from {project.path / '.selftest' / 'cache'}\n"
    )
    assert main(["cache", "stats"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Entries: 0 (0.0 MB)",
        "Last run: none recorded",
    ]


def test_a_step_that_skips_itself_has_no_cache_object(repo: SelftestRepo) -> None:
    """A cacheable ``python:`` step that raises CheckSkipped is SKIP: its ``cache`` is null."""
    (repo.path / "skipper.py").write_text(
        "from pytest_selftest import CheckSkipped\n\n"
        "def check(ctx):\n    raise CheckSkipped('no engine here')\n"
    )
    repo.steps(
        {
            "id": "policy",
            "tier": "optional",
            "description": "Policy",
            "python": "skipper:check",
            "inputs": ["skipper.py"],
        }
    )
    assert repo.run(CACHE).ret == 0
    result = repo.report()["results"][0]
    assert (result["status"], result["cache"]) == ("SKIP", None)
    assert repo.report()["summary"]["cache"] == {
        "hits": 0,
        "misses": 0,
        "uncacheable": 0,
        "saved_ms": 0,
    }


def test_a_store_whose_upkeep_fails_says_so_and_keeps_the_exit_code(project: SelftestRepo) -> None:
    """The run's counts cannot be recorded where the store's last-run file is a folder."""
    assert project.run("--selftest-env=dev", CACHE).ret == 0
    (project.path / ".selftest" / "cache" / "last-run.json").unlink()
    (project.path / ".selftest" / "cache" / "last-run.json").mkdir()
    result = project.run("--selftest-env=dev", CACHE)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["Warning: cache: cannot write *last-run.json*"])
