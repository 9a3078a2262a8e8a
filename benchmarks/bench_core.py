"""Figures of the core plugin against their baselines, measured side by side in one run.

    python benchmarks/bench_core.py [--runs 9] [--selftest-core PATH/TO/selftest] [--before BIN]

Run it with the interpreter of a virtualenv where pytest-selftest is installed (and nothing that
slows pytest's start-up, such as hypothesis's plugin). ``--selftest-core`` names the ``selftest``
script of an environment with the original selftest-core package, to time it on the same
catalogues; without it those rows are skipped. ``--before`` names the ``bin`` folder of a
virtualenv with another version of pytest-selftest (the one before a change): its commands are
timed alternately with this one's and shown as "before" rows. Every ratio compares two commands
timed in the same run, alternating, as the best of N runs; the machine is shared and noisy, so
read ratios, not milliseconds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

BIN = Path(sys.executable).parent
# Measure what users get: Python caches bytecode (this sandbox disables it by default).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
PYTEST = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"]
SELFTEST = [str(BIN / "selftest")]


def before_row(name: str, t: dict[str, float], key: str) -> list[str]:
    """The row comparing command ``key`` with its ``key_before`` twin, when one was timed."""
    before = f"{key}_before"
    if before not in t:
        return []
    return [row(name, t[key], "the same, before (--before)", t[before], "target <= 1.00x")]


def before_commands(
    commands: dict[str, tuple[list[str], Path]], before: Path | None, names: Sequence[str]
) -> dict[str, tuple[list[str], Path]]:
    """``commands`` and, with ``--before``, the ``names`` ones run by the other install too."""
    if before is None:
        return commands
    twins = {
        f"{name}_before": ([str(before / Path(argv[0]).name), *argv[1:]], cwd)
        for name, (argv, cwd) in commands.items()
        if name in names
    }
    return {**commands, **twins}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def steps_yaml(count: int, command: str = "true", tier: str = "kernel") -> str:
    return "".join(
        f'- id: step-{i}\n  tier: {tier}\n  description: Step {i}\n  run: "{command}"\n'
        for i in range(count)
    )


def core_yaml(count: int, tier: str = "kernel") -> str:
    body = "".join(
        f'  - id: step-{i}\n    tier: {tier}\n    command: "true"\n' for i in range(count)
    )
    return f"steps:\n{body}"


def time_commands(commands: dict[str, tuple[list[str], Path]], runs: int) -> dict[str, float]:
    """Best wall time in ms of each command over ``runs``, the commands alternating.

    The best of N, not the median: on a shared machine every delay comes from outside the
    command, so the fastest run is the closest to its own cost.
    """
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs + 1):
        for name, (argv, cwd) in commands.items():
            started = time.perf_counter()
            subprocess.run(
                argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            samples[name].append((time.perf_counter() - started) * 1000)
    # The first round only warms the bytecode and file caches.
    return {name: min(values[1:]) for name, values in samples.items()}


def peak_rss_mb(argv: Sequence[str], cwd: Path) -> float:
    """The peak resident memory of a command, in MB, read from a fresh parent process."""
    probe = (
        "import resource, subprocess, sys; "
        f"subprocess.run({list(argv)!r}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, env=ENV, capture_output=True, text=True
    )
    return int(done.stdout.strip()) / 1024


def row(name: str, ms: float, baseline: str, base_ms: float, target: str) -> str:
    ratio = ms / base_ms if base_ms else float("nan")
    return f"{name:<44} {ms:>9.1f} ms  {baseline:<34} {base_ms:>9.1f} ms  {ratio:>6.2f}x  {target}"


def bench_startup(root: Path, runs: int, core: str | None, before: Path | None) -> list[str]:
    bare = root / "bare"
    write(bare / "test_one.py", "def test_one():\n    pass\n")
    write(bare / "pytest.ini", "[pytest]\n")
    repo = root / "smoke"
    write(repo / "pyproject.toml", "[tool.selftest]\n[tool.pytest.ini_options]\n")
    write(repo / "steps" / "kernel.yaml", steps_yaml(1))
    write(repo / "selftest.core.yaml", core_yaml(1))
    write(
        repo / "bare_bones.py",
        """\
        import subprocess, yaml
        step = yaml.safe_load(open("steps/kernel.yaml"))[0]
        ok = subprocess.run(step["run"], shell=True).returncode == 0
        print("PASS" if ok else "FAIL")
        """,
    )
    commands = {
        "bare": ([*PYTEST, "test_one.py"], bare),
        "kernel": ([*PYTEST, "-m", "kernel"], repo),
        "smoke": ([*SELFTEST, "smoke"], repo),
        "bare_bones": ([sys.executable, "bare_bones.py"], repo),
    }
    if core:
        commands["core"] = ([core, "run", "--kernel-only", "-c", "selftest.core.yaml"], repo)
    t = time_commands(before_commands(commands, before, ("kernel", "smoke")), runs)
    lines = [
        row(
            "pytest -m kernel (1 trivial kernel step)",
            t["kernel"],
            "bare pytest -q, one test",
            t["bare"],
            "target <= 1.30x",
        ),
        row(
            "selftest smoke (1 trivial kernel step)",
            t["smoke"],
            "bare-bones PyYAML script",
            t["bare_bones"],
            "reference (0.53x of core seen)",
        ),
    ]
    if core:
        lines.append(
            row(
                "selftest smoke (1 trivial kernel step)",
                t["smoke"],
                "selftest-core run --kernel-only",
                t["core"],
                "target <= 1.00x",
            )
        )
    lines += before_row("pytest -m kernel (1 trivial kernel step)", t, "kernel")
    lines += before_row("selftest smoke (1 trivial kernel step)", t, "smoke")
    return lines


def bench_200_steps(root: Path, runs: int, core: str | None, before: Path | None) -> list[str]:
    repo = root / "two-hundred"
    write(repo / "pyproject.toml", "[tool.selftest]\n[tool.pytest.ini_options]\n")
    write(repo / "steps" / "all.yaml", steps_yaml(200))
    write(repo / "selftest.core.yaml", core_yaml(200))
    plain = root / "plain"
    write(plain / "pytest.ini", "[pytest]\n")
    write(
        plain / "test_plain.py",
        """\
        import subprocess
        import pytest

        @pytest.mark.parametrize("i", range(200))
        def test_step(i):
            subprocess.run("true", shell=True, check=True)
        """,
    )
    commands = {
        "loop": (["sh", "-c", "for i in $(seq 200); do sh -c true; done"], repo),
        "plain": ([*PYTEST, "test_plain.py"], plain),
        "ours": ([*PYTEST, "--selftest-env=dev"], repo),
    }
    if core:
        commands["core"] = ([core, "run", "-c", "selftest.core.yaml"], repo)
    t = time_commands(before_commands(commands, before, ("ours",)), runs)
    lines = [
        row(
            "pytest, 200 trivial steps",
            t["ours"],
            "pytest, 200 parametrized subprocess",
            t["plain"],
            "target <= 1.15x",
        ),
        row(
            "pytest, 200 trivial steps",
            t["ours"],
            "shell loop of the 200 commands",
            t["loop"],
            "reference",
        ),
        row(
            "pytest, 200 parametrized subprocess tests",
            t["plain"],
            "shell loop of the 200 commands",
            t["loop"],
            "reference (3.2x seen)",
        ),
    ]
    if core:
        lines.append(
            row(
                "selftest-core run, 200 trivial steps",
                t["core"],
                "shell loop of the 200 commands",
                t["loop"],
                "reference (2.0x seen)",
            )
        )
    return [*lines, *before_row("pytest, 200 trivial steps", t, "ours")]


def bench_plan(root: Path, runs: int, core: str | None, before: Path | None) -> list[str]:
    repo = root / "plan"
    write(repo / "pyproject.toml", "[tool.selftest]\n")
    body = "".join(
        f'- id: step-{i}\n  tier: governance\n  description: Step {i}\n  run: "true"\n'
        + (f"  depends_on: [step-{i - 1}]\n" if i % 10 else "")
        for i in range(5000)
    )
    write(repo / "steps" / "many.yaml", body)
    write(repo / "selftest.core.yaml", core_yaml(5000, "governance"))
    commands = {"plan": ([*SELFTEST, "plan"], repo)}
    if core:
        commands["core"] = ([core, "plan", "-c", "selftest.core.yaml"], repo)
    t = time_commands(before_commands(commands, before, ("plan",)), max(3, runs // 2))
    memory = peak_rss_mb([*SELFTEST, "plan"], repo)
    lines = [
        f"{'selftest plan, 5,000 steps':<44} {t['plan']:>9.1f} ms  peak {memory:.1f} MB"
        "   target <= 250 ms and <= 100 MB"
    ]
    if core:
        core_memory = peak_rss_mb([core, "plan", "-c", "selftest.core.yaml"], repo)
        lines.append(
            f"{'selftest-core plan, 5,000 steps':<44} {t['core']:>9.1f} ms  "
            f"peak {core_memory:.1f} MB   (1.14 s, 56 MB seen)"
        )
    return [*lines, *before_row("selftest plan, 5,000 steps", t, "plan")]


def bench_big_output(root: Path) -> list[str]:
    probe = textwrap.dedent("""\
        import resource
        from pathlib import Path
        from pytest_selftest.catalogue import Step
        from pytest_selftest.execute import run_step
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        step = Step(id="big", tier="governance", description="big", source="x", line=1,
                    run=("head -c 200000000 /dev/zero | tr '\\\\0' x",))
        result = run_step(step, Path("."))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(result.status, len(result.stdout_tail), (after - before) / 1024)
        """)
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True)
    status, tail, growth = done.stdout.split()
    return [
        f"{'step printing 200 MB':<44} status {status}, tail {tail} chars, "
        f"peak memory growth {float(growth):.1f} MB   target < 64 MB"
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--selftest-core", help="selftest-core's `selftest` script, for baselines")
    parser.add_argument(
        "--before", type=Path, help="bin folder of another pytest-selftest install, to compare"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        lines = [
            *bench_startup(root, args.runs, args.selftest_core, args.before),
            *bench_200_steps(root, args.runs, args.selftest_core, args.before),
            *bench_plan(root, args.runs, args.selftest_core, args.before),
            *bench_big_output(root),
        ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
