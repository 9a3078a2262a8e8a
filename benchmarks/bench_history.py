"""The cost of the run history (SPEC §16): a run with history on against ``selftest_history=none``.

    python benchmarks/bench_history.py [--steps 200] [--history 1000] [--runs 9]

A catalogue of ``--steps`` trivial steps whose history already holds ``--history`` runs (so each
run also trims it), timed with the history on and off, alternating; the median of each and the
difference, which is the append (and trim) the spec allows.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from bench_cache import BIN, timed  # the same alternating whole-process timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--history", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pyproject.toml").write_text("[tool.selftest]\n")
        (root / "steps").mkdir()
        (root / "steps" / "s.yaml").write_text(
            "".join(
                f"- {{id: s{i}, tier: governance, description: S{i}, run: 'true'}}\n"
                for i in range(args.steps)
            )
        )
        pytest = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "--selftest-env=dev"]
        for _ in range(2):
            timed(pytest, root)
        history = root / ".selftest" / "history.jsonl"
        line = history.read_text().splitlines()[-1]
        history.write_text((line + "\n") * args.history)
        kept = history.read_bytes()
        on, off = [], []
        for _ in range(args.runs):
            history.write_bytes(kept)
            on.append(timed(pytest, root))
            off.append(timed([*pytest, "-o", "selftest_history=none"], root))
        shutil.rmtree(root / ".selftest", ignore_errors=True)
        a, b = statistics.median(on), statistics.median(off)
        print(f"{args.steps} steps, history of {args.history} runs ({len(kept) / 1e6:.1f} MB)")
        print(f"  history on {a:.3f} s, selftest_history=none {b:.3f} s, difference {a - b:+.3f} s")


if __name__ == "__main__":
    main()
