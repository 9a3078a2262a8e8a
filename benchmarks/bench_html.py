"""What writing the HTML page costs for a 200-step run with a full history (SPEC §16).

    python benchmarks/bench_html.py [--steps 200] [--history 1000] [--runs 9]

Builds a synthetic v2 report (every step with 4 KiB output tails and findings), a history file of
``--history`` runs of every step, and a degradation log, in a temp folder; then times
``pages.write_page`` (read the history and log, render, write atomically) as the best of N runs.
Target: at most 0.2 s for 200 steps.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from pytest_selftest.history import history_line
from pytest_selftest.pages import write_page

VERDICTS = ("passed", "failed", "waived", "tolerated", "informational", "skipped")
STATUSES = {"passed": "PASS", "skipped": "SKIP"}


def result(index: int, start: float) -> dict[str, Any]:
    verdict = VERDICTS[index % len(VERDICTS)]
    tail = ("line of output <with> & markup\n" * 140)[-4096:]
    return {
        "step_id": f"step-{index}",
        "description": f"Step {index} checks something",
        "tier": ("kernel", "governance", "optional")[index % 3],
        "status": STATUSES.get(verdict, "FAIL"),
        "verdict": verdict,
        "reason": None,
        "verdict_reason": f"{verdict} because of reasons",
        "duration_ms": 100 + index,
        "command": f"run-check --step {index}",
        "timestamp_start": start + index * 0.05,
        "timestamp_end": start + index * 0.05 + 0.1,
        "stdout_tail": tail,
        "stderr_tail": tail,
        "findings": [{"path": f"src/m{index}.py", "line": 3, "message": "bad thing"}] * 3,
        "waiver": {"reason": "known", "approver": "a", "expires_at": "2027-01-01T00:00:00Z"}
        if verdict == "waived"
        else None,
        "waiver_unused": False,
        "remediation": "make fix",
        "worker": f"gw{index % 4}",
        "cache": {"status": "miss", "key": "0" * 64},
    }


def report(steps: int, run: int) -> dict[str, Any]:
    start = 1_790_000_000.0 + run * 600
    return {
        "metadata": {
            "run_id": f"run-{run}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
            "env": "dev",
            "git_commit": "f" * 40,
            "git_branch": "main",
        },
        "summary": {
            "verdict": "FAIL",
            "status": "BROKEN",
            "exit_code": 1,
            "exit_reason": "blocking_failures",
            "wall_duration_ms": 12_345,
            "by_tier": {},
            "policy": {"env": "dev", "governance_budget": 3},
        },
        "results": [result(i, start) for i in range(steps)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        history = root / "history.jsonl"
        line = history_line(report(args.steps, 0))
        with history.open("w") as handle:
            for run in range(args.history):
                handle.write(json.dumps({**line, "run_id": f"run-{run}"}) + "\n")
        log = root / "degradations.log"
        log.write_text(
            "".join(json.dumps({"step_id": f"s{i}", "message": "m"}) + "\n" for i in range(50))
        )
        current = report(args.steps, args.history)
        timings = []
        for _ in range(args.runs):
            began = time.perf_counter()
            written, warnings = write_page(root / "page.html", current, history, log)
            timings.append(time.perf_counter() - began)
            assert written and not warnings, warnings
        size = (root / "page.html").stat().st_size
        print(
            f"HTML page, {args.steps} steps, history of {args.history} runs "
            f"({history.stat().st_size / 1e6:.1f} MB): best {min(timings):.3f} s, "
            f"median {sorted(timings)[len(timings) // 2]:.3f} s of {args.runs}; "
            f"page {size / 1e6:.2f} MB"
        )


if __name__ == "__main__":
    main()
