"""Shared fixtures. The outer run loads this plugin only inside pytester runs (``-p no:selftest``
in addopts), so the test suite never writes this repository's own state files."""

from __future__ import annotations

from pathlib import Path

import hygiene
import hypothesis  # noqa: F401 - imported once here so in-process pytester runs reuse it
import pytest
from selftest_repo import SelftestRepo

CHECKOUT = Path(__file__).resolve().parent.parent

_SELFTEST_VARIABLES = (
    "SELFTEST_ENV",
    "SELFTEST_SKIP_STEPS",
    "SELFTEST_ENVIRONMENT",
    "SELFTEST_METRICS_BACKEND",
    "GITHUB_STEP_SUMMARY",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see none of the machine's selftest variables and a fixed terminal width."""
    for name in _SELFTEST_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("PY_COLORS", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)


@pytest.fixture
def repo(pytester: pytest.Pytester) -> SelftestRepo:
    """A throwaway repository that opted in with an empty ``[tool.selftest]`` table."""
    repository = SelftestRepo(pytester)
    repository.opt_in()
    return repository


class _CheckoutHygiene:
    """Fails the session when the tests changed the checkout or left bytecode that cannot load.

    Registered on the process that owns the session (never on an xdist worker), so the check
    runs once, after every test. A test that writes into the source tree, or a subprocess that
    leaves a truncated ``.pyc`` (say, under a file-size limit), would break a user's next import.
    """

    def __init__(self) -> None:
        self.before = hygiene.changes(CHECKOUT)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        problems = [f"left in the checkout: {c}" for c in hygiene.changes(CHECKOUT) - self.before]
        problems += [f"bytecode that does not load: {b}" for b in hygiene.broken_bytecode(CHECKOUT)]
        if problems:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_sep("=", "the tests changed the checkout", red=True)
                for problem in problems:
                    reporter.write_line(problem, red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and (CHECKOUT / ".git").exists():
        config.pluginmanager.register(_CheckoutHygiene(), "selftest-checkout-hygiene")
