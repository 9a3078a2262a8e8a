"""The checkout's hygiene: bytecode that loads, and no file a run left behind or changed.

Every ``__pycache__/*.pyc`` outside virtualenvs must unmarshal: a truncated one breaks every
later import of its module on a user's machine, where Python writes bytecode. ``git status``
shows what a run changed, apart from ignored files.

Used twice: ``tests/conftest.py`` compares the checkout before and after the test session, and
CI runs ``python tests/hygiene.py --clean`` after the README's commands (the tree must then be
exactly as cloned).
"""

from __future__ import annotations

import importlib.util
import marshal
import subprocess
import sys
from pathlib import Path

HEADER = 16  # magic, flags, and either mtime + size or the source hash (PEP 552)


def broken_bytecode(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("__pycache__/*.pyc")):
        if any(part.startswith(".venv") for part in path.relative_to(root).parts):
            continue
        data = path.read_bytes()
        if data[:4] != importlib.util.MAGIC_NUMBER:
            continue  # another Python version's file: not ours to judge
        try:
            marshal.loads(data[HEADER:])
        except (EOFError, ValueError, TypeError) as exc:
            problems.append(f"{path.relative_to(root)} ({len(data)} bytes): {exc}")
    return problems


def changes(root: Path) -> set[str]:
    """``git status`` lines, untracked files one by one; ignored files are not listed."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(status.splitlines())


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    problems = [f"bytecode that does not load: {p}" for p in broken_bytecode(root)]
    if "--clean" in argv:
        problems += [f"left in the checkout: {line}" for line in sorted(changes(root))]
    for problem in problems:
        print(f"hygiene: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
