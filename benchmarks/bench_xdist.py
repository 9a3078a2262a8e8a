"""Makespan of parallel runs against the ideal list schedule of the dependency graph.

    python benchmarks/bench_xdist.py [--runs 3]

Steps sleep instead of computing, so the machine's two cores do not limit the figures. Each
case prints the wall time of ``pytest -n N`` next to the ideal makespan plus xdist's fixed
start-up (a run of one trivial step with the same ``-n``, measured in the same run), and the
speedup the report computes (sequential estimate / wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

# The original 16-step catalogue (research/original-system.md §1.2), typical durations in
# seconds from its docs, scaled down 20 times below.
ORIGINAL = [
    ("core-checks", "kernel", 3.0, []),
    ("skills-governance", "governance", 0.1, []),
    ("agents-governance", "governance", 1.0, []),
    ("bdd", "governance", 0.5, []),
    ("ac-status", "governance", 0.1, []),
    ("policy-tests", "governance", 0.5, []),
    ("devex-contract", "governance", 2.0, ["core-checks"]),
    ("graph-invariants", "governance", 0.5, ["devex-contract"]),
    ("flowstudio-smoke", "governance", 7.0, []),
    ("gemini-stepwise-tests", "governance", 45.0, []),
    ("claude-stepwise-tests", "governance", 45.0, []),
    ("runs-gc-dry-check", "governance", 30.0, ["core-checks"]),
    ("ac-coverage", "optional", 0.1, []),
    ("provider-env-check", "governance", 15.0, []),
    ("wisdom-smoke", "governance", 30.0, []),
    ("extras", "optional", 0.1, []),
]
SCALE = 20


def write_repo(root: Path, steps: list[tuple[str, str, float, list[str]]]) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.selftest]\n[tool.pytest.ini_options]\n")
    (root / "steps").mkdir()
    lines = []
    for step_id, tier, seconds, deps in steps:
        lines.append(
            f"- id: {step_id}\n  tier: {tier}\n  description: {step_id}\n"
            f"  run: sleep {seconds:.3f}\n  depends_on: {json.dumps(deps)}\n"
        )
    (root / "steps" / "all.yaml").write_text("".join(lines))
    return root


def ideal_makespan(steps: list[tuple[str, str, float, list[str]]], workers: int) -> float:
    """Critical-path-first list scheduling of the graph on ``workers`` machines, no overheads."""
    finish: dict[str, float] = {}
    free = [0.0] * workers
    pending = list(steps)
    longest = {s[0]: s[2] for s in steps}
    for step_id, _, seconds, _ in reversed(steps):
        for other in steps:
            if step_id in other[3]:
                longest[step_id] = max(longest[step_id], seconds + longest[other[0]])
    while pending:
        ready = [s for s in pending if all(d in finish for d in s[3])]
        ready.sort(key=lambda s: -longest[s[0]])
        step_id, _, seconds, deps = ready[0]
        worker = min(range(workers), key=lambda w: free[w])
        start = max([free[worker], *(finish[d] for d in deps)])
        finish[step_id] = free[worker] = start + seconds
        pending.remove(ready[0])
    return max(finish.values())


def run(repo: Path, workers: int, runs: int) -> tuple[float, float]:
    """Median wall seconds of ``pytest -n workers`` and the report's speedup of that run."""
    walls, speedups = [], []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [
                str(BIN / "pytest"),
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                str(workers),
                "--selftest-env=dev",
            ],
            cwd=repo,
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        walls.append(time.perf_counter() - started)
        report = json.loads((repo / "selftest_report.json").read_text())
        speedups.append(report["summary"]["speedup"])
    return statistics.median(walls), statistics.median(speedups)


def serial(repo: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "--selftest-env=dev"],
        cwd=repo,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cases = {
        "16 independent 1 s steps, -n 4": (
            [(f"s{i}", "governance", 1.0, []) for i in range(16)],
            4,
        ),
        "hub: 1 s step with 6 dependents of 1 s, -n 3": (
            [("hub", "kernel", 1.0, [])]
            + [(f"d{i}", "governance", 1.0, ["hub"]) for i in range(6)],
            3,
        ),
        "original 16-step catalogue / 20, -n 4": (
            [(i, t, s / SCALE, d) for i, t, s, d in ORIGINAL],
            4,
        ),
    }
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        for name, (steps, workers) in cases.items():
            repo = write_repo(root / name.split(":")[0].replace(" ", "-").replace(",", ""), steps)
            startup_repo = (
                write_repo(root / f"startup-{workers}", [("t", "kernel", 0.0, [])])
                if not (root / f"startup-{workers}").exists()
                else root / f"startup-{workers}"
            )
            startup, _ = run(startup_repo, workers, args.runs)
            wall, speedup = run(repo, workers, args.runs)
            ideal = ideal_makespan(steps, workers)
            budget = 1.25 * ideal + startup
            line = (
                f"{name:<46} wall {wall:6.2f} s   ideal {ideal:5.2f} s + start-up "
                f"{startup:4.2f} s   limit 1.25 x ideal + start-up = {budget:5.2f} s   "
                f"{'OK' if wall <= budget else 'OVER'}   report speedup {speedup:.2f}x"
            )
            if name.startswith("original"):
                line += f"   serial {serial(repo):.2f} s (target speedup >= 2.5x)"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
