"""Fixtures for the built-in check tests: real files in tmp_path and a way to run a check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_selftest.checks.base import Check, CheckContext, Finding

WriteFile = Callable[[str, str], Path]


@pytest.fixture
def write(tmp_path: Path) -> WriteFile:
    """Write a text file under tmp_path (creating folders) and return its path."""

    def _write(relative: str, text: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., list[Finding]]:
    """Run a check with tmp_path as rootdir and the keyword arguments as its ``with:``."""

    def _run(check: Check, **params: Any) -> list[Finding]:
        return list(check(CheckContext(rootdir=tmp_path, step_id="a-step", params=params)))

    return _run
