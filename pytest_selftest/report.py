"""The v2 JSON report (SPEC §8) and the plan (SPEC §9): building, writing atomically, rendering.

Pure: results come in as report rows (:class:`~pytest_selftest.outcome.ResultRecord`, built by
:func:`~pytest_selftest.outcome.result_record`), one per step in plan order. Called by the
controller, the merge, the configuration-error report and the plan commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_selftest.catalogue import CATEGORIES, SEVERITIES, TIERS, Catalogue
from pytest_selftest.outcome import (
    FAILED,
    FAILING_STATUSES,
    INFORMATIONAL,
    NON_BLOCKING,
    PASS,
    SKIP,
    TOLERATED,
    WAIVED,
    ResultRecord,
)
from pytest_selftest.policy import Policy
from pytest_selftest.statefiles import write_atomic
from pytest_selftest.verdict import run_status, user_skipped

REPORT_VERSION = "2.0"
PLAN_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).parent / "schema" / "report-v2.json"
_AC_RANK = ("PASS", "INFO", "WARNING", "FAILURE", "CRITICAL")


def _bucket(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    items = list(results)
    return {
        "passed": sum(r["status"] == PASS for r in items),
        "failed": sum(r["status"] in FAILING_STATUSES for r in items),
        "total": len(items),
    }


def _tier_bucket(results: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = _bucket(results)
    counts["waived"] = sum(r["verdict"] == WAIVED for r in results)
    counts["tolerated"] = sum(r["verdict"] == TOLERATED for r in results)
    counts["skipped"] = sum(r["status"] == SKIP for r in results)
    return counts


def _ids(results: Iterable[Mapping[str, Any]], **match: Any) -> list[str]:
    return [r["step_id"] for r in results if all(r[k] == v for k, v in match.items())]


def _failed_ids(results: Iterable[Mapping[str, Any]], tier: str) -> list[str]:
    return [r["step_id"] for r in results if r["tier"] == tier and r["status"] in FAILING_STATUSES]


def ac_levels(results: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Worst level per AC id: CRITICAL > FAILURE > WARNING > INFO > PASS."""
    levels: dict[str, str] = {}
    for result in results:
        level = _ac_level(result)
        for ac_id in result.get("ac_ids", []):
            current = levels.get(ac_id, "PASS")
            levels[ac_id] = max(current, level, key=_AC_RANK.index)
    return dict(sorted(levels.items()))


def _ac_level(result: Mapping[str, Any]) -> str:
    verdict = result["verdict"]
    if verdict == FAILED:
        return "CRITICAL" if result["tier"] == "kernel" else "FAILURE"
    if verdict in (WAIVED, TOLERATED):
        return "WARNING"
    return "INFO" if verdict == INFORMATIONAL else "PASS"


def cache_summary(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``summary.cache`` (SPEC §15): hits, misses, uncacheable steps and the time hits saved."""
    states = [r["cache"] for r in results if r.get("cache")]
    return {
        "hits": sum(c["status"] == "hit" for c in states),
        "misses": sum(c["status"] == "miss" for c in states),
        "uncacheable": sum(c["status"] == "uncacheable" for c in states),
        "saved_ms": sum(int(c.get("saved_ms", 0)) for c in states if c["status"] == "hit"),
    }


def hints(results: Sequence[Mapping[str, Any]], policy: Policy) -> list[str]:
    """What to do next, in the spirit of the original's hints."""
    found = [f"Run: pytest {r['nodeid']} -v" for r in results if r["status"] in FAILING_STATUSES]
    if any(r["verdict"] in NON_BLOCKING for r in results):
        found.append("Non-blocking failures are logged; see: selftest degradations")
    if any(r["verdict"] == FAILED and r["tier"] == "governance" for r in results):
        found.append(
            "Governance failures: fix them, or waive one with "
            "'selftest waiver create <id> --reason ... --approver ...'"
        )
    if _failed_ids(results, "kernel"):
        found.append("KERNEL failure(s) block all merges; fix before proceeding")
    if any(r["waiver_unused"] for r in results):
        found.extend(
            f"Waiver unused (step passed): selftest waiver revoke {r['step_id']}"
            for r in results
            if r["waiver_unused"]
        )
    return found


def build_summary(
    results: Sequence[Mapping[str, Any]],
    *,
    policy: Policy,
    non_blocking: int,
    verdict: str,
    exit_code: int,
    exit_reason: str,
    wall_duration_ms: int,
) -> dict[str, Any]:
    """The ``summary`` object: the original's keys first, then this plugin's additions."""
    sequential = sum(int(r["duration_ms"]) for r in results)
    by_tier = {t: _tier_bucket([r for r in results if r["tier"] == t]) for t in TIERS}
    return {
        **_bucket(results),
        "skipped": sum(r["status"] == SKIP for r in results),
        "mode": policy.env,
        "kernel_ok": not _failed_ids(results, "kernel"),
        "governance_ok": not _failed_ids(results, "governance"),
        "optional_ok": not _failed_ids(results, "optional"),
        "failed_steps": _ids(results, verdict=FAILED),
        "skipped_steps": _ids(results, status=SKIP),
        "kernel_failed": _failed_ids(results, "kernel"),
        "governance_failed": _failed_ids(results, "governance"),
        "optional_failed": _failed_ids(results, "optional"),
        "by_severity": {s: _bucket(r for r in results if r["severity"] == s) for s in SEVERITIES},
        "by_category": {c: _bucket(r for r in results if r["category"] == c) for c in CATEGORIES},
        "hints": hints(results, policy),
        "total_duration_ms": sequential,
        "by_tier": by_tier,
        "waived_steps": _ids(results, verdict=WAIVED),
        "tolerated_steps": _ids(results, verdict=TOLERATED),
        "informational_steps": _ids(results, verdict=INFORMATIONAL),
        "status": run_status(results),
        "verdict": verdict,
        "exit_code": exit_code,
        "exit_reason": exit_reason,
        "policy": policy.to_report(non_blocking),
        "wall_duration_ms": wall_duration_ms,
        "sequential_estimate_ms": sequential,
        "speedup": round(sequential / wall_duration_ms, 3) if wall_duration_ms > 0 else 1.0,
        "user_skipped_steps": [r["step_id"] for r in user_skipped(results)],
        "cache": cache_summary(results),
        "by_ac": ac_levels(results),
    }


def build_report(
    results: Sequence[ResultRecord],
    *,
    metadata: Mapping[str, Any],
    policy: Policy,
    non_blocking: int = 0,
    verdict: str,
    exit_code: int,
    exit_reason: str,
    wall_duration_ms: int = 0,
    errors: Sequence[str] = (),
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The whole v2 report."""
    summary = build_summary(
        results,
        policy=policy,
        non_blocking=non_blocking,
        verdict=verdict,
        exit_code=exit_code,
        exit_reason=exit_reason,
        wall_duration_ms=wall_duration_ms,
    )
    return {
        "version": REPORT_VERSION,
        "metadata": dict(metadata),
        "summary": summary,
        "results": [dict(r) for r in results],
        "errors": list(errors),
        "warnings": list(warnings),
    }


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """Write the report atomically, as compact JSON (``jq .`` pretty-prints it).

    Indenting would switch ``json`` to its pure-Python encoder, several times slower.
    """
    write_atomic(path, json.dumps(report) + "\n")


def plan_dict(
    catalogue: Catalogue,
    selected: Iterable[str] | None = None,
    cache: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The plan JSON of SPEC §9, for the selected steps in plan order; with ``cache`` (the
    statuses of ``selftest plan --cache``), each step also says ``hit``, ``miss`` or
    ``uncacheable``."""
    chosen = set(catalogue.ids if selected is None else selected)
    steps = [s for s in catalogue.steps if s.id in chosen]
    entries = [
        {
            "id": s.id,
            "tier": s.tier,
            "severity": s.severity,
            "category": s.category,
            "description": s.description,
            "ac_ids": list(s.ac_ids),
            "depends_on": list(s.depends_on),
            **({"cache": cache[s.id]} if cache is not None else {}),
        }
        for s in steps
    ]
    return {
        "version": PLAN_VERSION,
        "steps": entries,
        "summary": {
            "total": len(steps),
            "by_tier": {t: sum(s.tier == t for s in steps) for t in TIERS},
        },
    }


def plan_json(
    catalogue: Catalogue,
    selected: Iterable[str] | None = None,
    cache: Mapping[str, str] | None = None,
) -> str:
    return json.dumps(plan_dict(catalogue, selected, cache), indent=2) + "\n"


def plan_text(
    catalogue: Catalogue,
    selected: Iterable[str] | None = None,
    cache: Mapping[str, str] | None = None,
) -> str:
    """The plan as text: one line per step (with ``cache``, its cache status), one per wave,
    and the total."""
    chosen = set(catalogue.ids if selected is None else selected)
    steps = [s for s in catalogue.steps if s.id in chosen]
    lines = []
    width = len(f"[{len(steps)}]")
    for number, step in enumerate(steps, start=1):
        deps = f" (depends: {', '.join(step.depends_on)})" if step.depends_on else ""
        if cache is not None:
            deps += f" [cache: {cache[step.id]}]"
        index = f"[{number}]"
        lines.append(
            f"{index:<{width}} {step.id:<20} [{step.tier.upper():<10}] "
            f"[{step.severity.upper():<8}] [{step.category.upper():<12}] {step.description}{deps}"
        )
    lines.append("")
    for number, wave in enumerate(catalogue.waves(chosen), start=1):
        lines.append(f"Wave {number}: {', '.join(wave)}")
    lines.append("")
    lines.append(f"Total steps: {len(steps)}")
    return "\n".join(lines) + "\n"
