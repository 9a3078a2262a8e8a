"""Shared fixtures. The outer run loads this plugin only inside pytester runs (``-p no:selftest``
in addopts), so the test suite never writes this repository's own state files."""

from __future__ import annotations

import hypothesis  # noqa: F401 - imported once here so in-process pytester runs reuse it
import pytest
from selftest_repo import SelftestRepo

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
