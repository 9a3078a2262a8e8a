"""pytest-selftest: a repository's tiered selftest as pytest items with environment policies.

Kept import-light on purpose: the kernel smoke imports this package and must not pay for pytest
or YAML, so the public names below are loaded on first use.

PYTEST_DONT_REWRITE: the ``selftest`` console script imports this package before pytest starts;
pytest would then warn that it "cannot be rewritten" (an error under ``filterwarnings = error``).
The package holds no test assertions, so it asks pytest not to rewrite it at all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "Catalogue": "pytest_selftest.catalogue",
    "CatalogueError": "pytest_selftest.catalogue",
    "Step": "pytest_selftest.catalogue",
    "load_catalogue": "pytest_selftest.catalogue",
    "CheckContext": "pytest_selftest.checks.base",
    "CheckSkipped": "pytest_selftest.checks.base",
    "Finding": "pytest_selftest.checks.base",
    "Policy": "pytest_selftest.policy",
    "PRESETS": "pytest_selftest.policy",
}

__all__ = [
    "PRESETS",
    "Catalogue",
    "CatalogueError",
    "CheckContext",
    "CheckSkipped",
    "Finding",
    "Policy",
    "Step",
    "__version__",
    "load_catalogue",
]

if TYPE_CHECKING:
    from pytest_selftest.catalogue import Catalogue, CatalogueError, Step, load_catalogue
    from pytest_selftest.checks.base import CheckContext, CheckSkipped, Finding
    from pytest_selftest.policy import PRESETS, Policy


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'pytest_selftest' has no attribute {name!r}")
