"""Counting fuzz cases: each fuzz test adds the cases it ran to ``fuzz_counts`` under its target's
name. The totals are printed in a "fuzz cases" section of the terminal summary (serial runs: under
xdist the section stays on the workers) and written to ``<basetemp>/fuzz_counts.json``;
docs/reliability.md quotes them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

COUNTS = pytest.StashKey[Counter[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[COUNTS] = Counter()


@pytest.fixture(scope="session")
def fuzz_counts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Counter[str]]:
    """Cases per target (``target`` and ``target: outcome``), written out at the end."""
    counts = request.config.stash[COUNTS]
    yield counts
    path = tmp_path_factory.getbasetemp() / "fuzz_counts.json"
    path.write_text(json.dumps(dict(sorted(counts.items())), indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    counts = terminalreporter.config.stash.get(COUNTS, None)
    if not counts:
        return
    terminalreporter.write_sep("=", "fuzz cases")
    for target, number in sorted(counts.items()):
        terminalreporter.write_line(f"{target}: {number}")
