"""Whether a run uses the result cache, and where its store is (SPEC §15).

Precedence: ``--selftest-cache``/``--selftest-no-cache`` > the env policy's ``cache`` key (the
``prod`` preset says false) > ini ``selftest_cache`` > off. Resolved once by the controller
(:mod:`pytest_selftest.config.run`) and handed to xdist workers with the rest of the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_selftest.config.errors import whole_number

DEFAULT_DIR = ".selftest/cache"
DEFAULT_MAX_MB = 512
STAT_CACHE = ".selftest/stat-cache.json"


@dataclass(frozen=True)
class CacheSettings:
    """The cache of one run: on or off, the store folder, its size cap."""

    enabled: bool
    directory: Path
    max_mb: int = DEFAULT_MAX_MB

    def to_json(self) -> dict[str, object]:
        return {"enabled": self.enabled, "directory": str(self.directory), "max_mb": self.max_mb}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> CacheSettings:
        return cls(
            bool(data["enabled"]),
            Path(str(data["directory"])),
            int(str(data["max_mb"])),
        )


def resolve_cache(
    *,
    cli_on: bool,
    cli_off: bool,
    policy_cache: bool | None,
    ini_value: object,
) -> bool:
    """On or off, in the precedence of SPEC §15."""
    if cli_off:
        return False
    if cli_on:
        return True
    if policy_cache is not None:
        return policy_cache
    return ini_value if isinstance(ini_value, bool) else False


def store_directory(rootdir: Path, option: str | None, ini_value: str | None) -> Path:
    """``--selftest-cache-dir`` (from the current folder), ini ``selftest_cache_dir`` (from the
    rootdir), else ``.selftest/cache`` at the rootdir."""
    if option:
        return Path(option).resolve()
    return (rootdir / (ini_value or DEFAULT_DIR)).resolve()


def max_megabytes(value: object) -> int:
    """ini ``selftest_cache_max_mb``, else the default when unset (a bad value is a configuration
    error, found by :mod:`pytest_selftest.config.validate` before the cache is set up)."""
    return whole_number(value) or DEFAULT_MAX_MB
