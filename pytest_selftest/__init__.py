"""pytest-selftest: a repository's tiered selftest as pytest items with environment policies.

Kept import-light on purpose: the kernel smoke imports this package and must not pay for pytest.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
