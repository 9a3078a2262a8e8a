"""Built-in checks (SPEC §12) and the registry that finds them and third-party ones."""

from __future__ import annotations

from pytest_selftest.checks.base import Check, CheckContext, CheckSkipped, Finding

__all__ = ["Check", "CheckContext", "CheckSkipped", "Finding"]
