"""Waivers (SPEC §10): the store ``.selftest/overrides.json`` and its audit trail.

The run reads the active waivers with :func:`read_waiver_file`; ``selftest waiver`` creates,
revokes and lists them; ``selftest merge``, the degradation log and the policy use
:class:`Waiver` and the time helpers. The modules by role:

- :mod:`.model`: :class:`Waiver`, parsing the store's records, the time format (pure);
- :mod:`.raw`: the store's JSON as raw pieces, so untouched records are rewritten byte-for-byte;
- :mod:`.store`: reading the store and changing it, atomically, locked and audited;
- :mod:`.audit`: the audit trail's lines, and which records it does not account for.
"""

from __future__ import annotations

from pytest_selftest.waivers.audit import CREATE, REVOKE, SUPERSEDE
from pytest_selftest.waivers.model import (
    ACTIVE,
    APPROVED,
    EXPIRED,
    REVOKED,
    Waiver,
    WaiverFile,
    format_time,
    parse_record,
    parse_time,
)
from pytest_selftest.waivers.raw import OVERRIDES_KEY
from pytest_selftest.waivers.store import (
    NoActiveWaiver,
    WaiverError,
    WaiverListing,
    WaiverStoreError,
    create_waiver,
    list_waivers,
    read_waiver_file,
    read_waiver_store,
    revoke_waiver,
    unaudited,
)

__all__ = [
    "ACTIVE",
    "APPROVED",
    "CREATE",
    "EXPIRED",
    "OVERRIDES_KEY",
    "REVOKE",
    "REVOKED",
    "SUPERSEDE",
    "NoActiveWaiver",
    "Waiver",
    "WaiverError",
    "WaiverFile",
    "WaiverListing",
    "WaiverStoreError",
    "create_waiver",
    "format_time",
    "list_waivers",
    "parse_record",
    "parse_time",
    "read_waiver_file",
    "read_waiver_store",
    "revoke_waiver",
    "unaudited",
]
