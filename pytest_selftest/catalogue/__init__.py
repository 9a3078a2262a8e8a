"""The step catalogue (SPEC §2): load step files, validate every step, order them into a plan.

Pure: no pytest here. Every problem becomes one line naming the file, the line and the step, and
all of them are collected before :class:`CatalogueError` is raised, so a user fixes them in one go.

Who calls what: the plugin, the ``selftest`` commands, the waiver store and the doctor call
:func:`load_catalogue` (through :mod:`pytest_selftest.config.validate` where pytest's rules
apply) and read the :class:`Catalogue` it returns; the report, policy and metrics use the
vocabularies (``TIERS``, ``SEVERITIES``, ``CATEGORIES``). The modules by role:

- :mod:`.model`: the constants, :class:`Step`, :class:`Catalogue` and :class:`CatalogueError`;
- :mod:`.yaml_lines`: YAML documents whose mappings and sequences remember their line numbers;
- :mod:`.validate`: one step mapping into a :class:`Step`, every problem recorded with its line;
- :mod:`.plan`: the plan order, the parallel waves and the catalogue's digest;
- :mod:`.load`: :func:`load_catalogue`, which reads the files and runs the other three.
"""

from __future__ import annotations

from pytest_selftest.catalogue.load import load_catalogue
from pytest_selftest.catalogue.model import (
    CATEGORIES,
    DEFAULT_SEVERITY,
    KNOWN_KEYS,
    SEVERITIES,
    STEP_ID,
    TIERS,
    Catalogue,
    CatalogueError,
    Step,
)

__all__ = [
    "CATEGORIES",
    "DEFAULT_SEVERITY",
    "KNOWN_KEYS",
    "SEVERITIES",
    "STEP_ID",
    "TIERS",
    "Catalogue",
    "CatalogueError",
    "Step",
    "load_catalogue",
]
