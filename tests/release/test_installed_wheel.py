"""The package as a user installs it: a wheel in a fresh virtualenv, not this editable checkout.

The wheel is ``$SELFTEST_WHEEL`` when set (CI passes the one it rebuilt from the sdist), else one
built here. The virtualenv is made once for the module; Python there writes bytecode, as a user's
does, and every run treats warnings as errors, as many repositories do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def _user_environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environment.pop("VIRTUAL_ENV", None)
    return environment


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtualenv with the released wheel installed."""
    work = tmp_path_factory.mktemp("release")
    wheel = os.environ.get("SELFTEST_WHEEL")
    if not wheel:
        # Built from a copy of the tracked files: a build in the checkout leaves build/ behind,
        # whose stale modules a later wheel would ship.
        source = work / "source"
        tracked = (
            subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\0")
        )
        for name in filter(None, tracked):
            if (ROOT / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, source / name)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(source)],
            check=True,
            capture_output=True,
        )
        wheel = str(next(work.glob("pytest_selftest-*.whl")))
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    subprocess.run(
        [str(bin_dir / "pip"), "install", "-q", wheel],
        check=True,
        capture_output=True,
        env=_user_environment(),
    )
    return bin_dir


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    """A copy of examples/quickstart whose pytest configuration turns warnings into errors."""
    target = tmp_path / "quickstart"
    shutil.copytree(ROOT / "examples" / "quickstart", target)
    pyproject = target / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'filterwarnings = ["error"]\n')
    return target


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=_user_environment(), timeout=120
    )


def test_the_wheel_holds_no_module_from_the_checkout(installed: Path) -> None:
    done = run(
        [str(installed / "python"), "-c", "import pytest_selftest as p; print(p.__file__)"],
        cwd=installed,
    )
    assert done.returncode == 0, done.stderr
    assert str(ROOT) not in done.stdout
    assert "site-packages" in done.stdout


def test_selftest_run_passes_with_warnings_as_errors(installed: Path, quickstart: Path) -> None:
    """The console script imports the package before pytest starts: no rewrite warning."""
    done = run([str(installed / "selftest"), "run", "--env", "dev"], cwd=quickstart)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr
    assert "Verdict: PASS (exit code 0: ok)" in done.stdout.splitlines()


def test_pytest_with_the_plugin_passes_with_warnings_as_errors(
    installed: Path, quickstart: Path
) -> None:
    done = run([str(installed / "pytest"), "--selftest-env=dev"], cwd=quickstart)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Status: DEGRADED" in done.stdout.splitlines()


def test_the_kernel_smoke_runs_from_the_wheel(installed: Path, quickstart: Path) -> None:
    done = run([str(installed / "selftest"), "smoke"], cwd=quickstart)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == "Status: HEALTHY"


def test_the_alert_rules_and_dashboard_ship_in_the_package(installed: Path) -> None:
    """docs/observability.md tells users to copy them out of the installed package."""
    code = (
        "import importlib.resources as r;"
        "print(sorted(p.name for p in (r.files('pytest_selftest') / 'observability').iterdir()))"
    )
    done = run([str(installed / "python"), "-c", code], cwd=installed)
    assert done.stdout.strip() == "['alerts.test.yml', 'alerts.yml', 'grafana-dashboard.json']"


def test_the_readme_links_work_on_a_package_index_page() -> None:
    """A package index renders the README away from the repository: no relative links."""
    readme = (ROOT / "README.md").read_text()
    assert "](docs/" not in readme
    assert "](https://github.com/pytest-selftest/pytest-selftest/blob/main/docs/usage.md)" in readme


def write_project(root: Path, steps: str) -> Path:
    (root / "steps").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.selftest]\n")
    (root / "steps" / "s.yaml").write_text(steps)
    return root


PLAIN_STEPS = """\
- {id: build, tier: kernel, description: Build, run: "python -c 'print(1)'"}
- {id: lint, tier: governance, description: Lint, run: "true"}
"""
GHERKIN_STEP = """\
- {id: build, tier: kernel, description: Build, run: "true"}
- id: bdd
  tier: governance
  description: Features parse
  check: gherkin
  with: {paths: [features]}
"""


def test_the_core_install_brings_only_pytest_and_pyyaml(installed: Path) -> None:
    code = (
        "import importlib.util as u;"
        "print([m for m in ('jsonschema', 'gherkin', 'coverage', 'markdown_it', "
        "'prometheus_client', 'xdist') if u.find_spec(m)])"
    )
    done = run([str(installed / "python"), "-c", code], cwd=installed)
    assert done.stdout.strip() == "[]"


def test_run_steps_pass_on_the_core_install(installed: Path, tmp_path: Path) -> None:
    project = write_project(tmp_path / "plain", PLAIN_STEPS)
    done = run([str(installed / "selftest"), "run", "--env", "prod"], cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Verdict: PASS (exit code 0: ok)" in done.stdout.splitlines()


def test_a_check_whose_extra_is_missing_is_a_configuration_error_with_the_fix(
    installed: Path, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "bdd", GHERKIN_STEP)
    expected = (
        "ERROR: steps/s.yaml:5: step 'bdd': check 'gherkin' needs gherkin, which is not "
        "installed: run pip install 'pytest-selftest[checks]'"
    )
    for command in (["run"], ["smoke"], ["plan"]):
        done = run([str(installed / "selftest"), *command], cwd=project)
        assert done.returncode == 2, (command, done.stdout + done.stderr)
        assert expected in (done.stdout + done.stderr).splitlines(), command
        assert "Traceback" not in done.stderr


def test_the_doctor_lists_the_missing_extras(installed: Path, tmp_path: Path) -> None:
    project = write_project(tmp_path / "doctor", GHERKIN_STEP)
    done = run([str(installed / "selftest"), "doctor", "--json"], cwd=project)
    assert done.returncode == 2
    harness = {f["check"]: f for f in json.loads(done.stdout)["harness"]}
    assert harness["catalogue"]["message"] == (
        "steps/s.yaml:5: step 'bdd': check 'gherkin' needs gherkin, which is not installed: "
        "run pip install 'pytest-selftest[checks]'"
    )
    assert harness["extras"]["message"] == "extras not installed: checks, metrics, xdist, rego"
