"""The step result cache (SPEC §15) against its baselines, measured side by side in one run.

    python benchmarks/bench_cache.py [--runs 5]

Run it with the interpreter of a virtualenv where pytest-selftest is installed. Figures:

1. Eight serial steps of ``sleep 1`` that declare inputs: the cold run (empty store), the warm
   run in which nothing changed, and a bare ``pytest -q`` of an empty test file (pytest's own
   start-up). Target: (warm - bare) <= 5 % of (cold - bare).
2. Keys for a catalogue whose inputs cover 10,000 files: a warm cached run against the same run
   with ``--selftest-no-cache``. Target: at most 0.5 s more.

Medians of alternating runs; the machine is shared and noisy, so read the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PYTEST = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"]


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 5):
        sys.exit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def sleepers(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "input.txt").write_text("unchanged\n")
    (root / "pyproject.toml").write_text("[tool.selftest]\n")
    steps = "".join(
        f"- id: sleep-{i}\n  tier: governance\n  description: Sleep {i}\n"
        f"  run: sleep 1\n  inputs: [src/**]\n  env: {{STEP: '{i}'}}\n"  # eight distinct keys
        for i in range(8)
    )
    (root / "steps").mkdir()
    (root / "steps" / "s.yaml").write_text(steps)
    return root


def many_inputs(root: Path, files: int) -> Path:
    for index in range(files):
        folder = root / "src" / f"d{index // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}.py").write_text(f"value = {index}\n")
    (root / "pyproject.toml").write_text("[tool.selftest]\n")
    (root / "steps").mkdir()
    (root / "steps" / "s.yaml").write_text(
        "- {id: lint, tier: governance, description: Lint, run: 'true', inputs: ['src/**']}\n"
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        bare = work / "bare"
        bare.mkdir()
        (bare / "test_empty.py").write_text("def test_nothing():\n    pass\n")
        project = sleepers(work / "sleepers")
        cached = [*PYTEST, "--selftest-env=dev", "--selftest-cache"]
        cold, warm, plain = [], [], []
        for _ in range(runs):
            shutil.rmtree(project / ".selftest", ignore_errors=True)
            cold.append(timed(cached, project))
            warm.append(timed(cached, project))
            plain.append(timed(PYTEST, bare))
        c, w, b = (statistics.median(v) for v in (cold, warm, plain))
        print(f"8 x sleep 1, cold {c:.3f} s, warm {w:.3f} s, bare pytest -q {b:.3f} s")
        print(f"  (warm - bare) / (cold - bare) = {(w - b) / (c - b):.2%} (target <= 5 %)")

        keys = many_inputs(work / "keys", 10_000)
        timed(cached, keys)  # fills the store and the stat cache
        with_cache, without = [], []
        for _ in range(runs):
            with_cache.append(timed(cached, keys))
            without.append(timed([*PYTEST, "--selftest-env=dev", "--selftest-no-cache"], keys))
        a, n = statistics.median(with_cache), statistics.median(without)
        print(f"10,000 input files, warm {a:.3f} s, --selftest-no-cache {n:.3f} s")
        print(f"  keys cost {a - n:+.3f} s (target <= 0.5 s)")


if __name__ == "__main__":
    main()
