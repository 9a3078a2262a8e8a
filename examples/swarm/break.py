"""Break this repository the way the operations guide's scenarios do, then put it back.

    python break.py list                  # the scenarios
    python break.py hardcoded-path        # break it (several scenarios can be stacked)
    python break.py reset                 # restore every file a scenario changed

Before a file is first changed its original content is saved in ``.break/backup.json`` (a
created file is recorded as absent), so ``reset`` restores exactly the clean state.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BACKUP = ROOT / ".break" / "backup.json"

UNTESTED_MODULE = '''\
"""Retry a flow step that failed for a transient reason (written before its tests)."""

from __future__ import annotations


def backoff_seconds(attempt: int, base: float = 2.0, cap: float = 60.0) -> float:
    """Seconds to wait before retry number ``attempt`` (counted from 1): exponential, capped."""
    if attempt < 1:
        raise ValueError("attempts are counted from 1")
    delay = base ** (attempt - 1)
    return min(cap, delay)
'''

NEW_AGENT = """\
---
name: foo-bar
flow_step: implement
---

# foo-bar

Does foo bar things. Added to agents/ but not yet to the registry in AGENTS.md.
"""

DISCONNECTED_NODE = """\
  - id: notify
    agent: deployer
    output: RUN_BASE/deploy/notice.md
edges:
"""


@dataclass(frozen=True)
class Scenario:
    """What the guide describes, and the file changes that reproduce it."""

    symptom: str
    create: dict[str, str] = field(default_factory=dict)
    replace: dict[str, tuple[str, str]] = field(default_factory=dict)


SCENARIOS = {
    "coverage-85": Scenario(
        "ac-coverage (OPTIONAL): a new module without tests takes coverage to 85% (target 90%)",
        create={"swarm/retry.py": UNTESTED_MODULE},
    ),
    "unregistered-agent": Scenario(
        "agents-governance (GOVERNANCE): agent 'foo-bar' is not in the registry AGENTS.md",
        create={"agents/foo-bar.md": NEW_AGENT},
    ),
    "hardcoded-path": Scenario(
        "devex-contract (GOVERNANCE): the flow writes to a hard-coded path, not RUN_BASE/",
        replace={
            "flows/flow.yaml": (
                "output: RUN_BASE/build/changes.patch",
                "output: /srv/swarm/runs/ticket-42/build/changes.patch",
            )
        },
    ),
    "disconnected-flow-step": Scenario(
        "graph-invariants (GOVERNANCE): flow step 'notify' has no predecessor or successor",
        replace={"flows/flow.yaml": ("edges:\n", DISCONNECTED_NODE)},
    ),
    "failing-lint": Scenario(
        "core-checks (KERNEL): ruff F401, an unused import in swarm/router.py",
        replace={
            "swarm/router.py": (
                "from __future__ import annotations\n\n",
                "from __future__ import annotations\n\nimport os\n",
            )
        },
    ),
}


def _load_backup() -> dict[str, str | None]:
    if not BACKUP.is_file():
        return {}
    saved: dict[str, str | None] = json.loads(BACKUP.read_text(encoding="utf-8"))
    return saved


def _remember(backup: dict[str, str | None], relative: str) -> None:
    """Keep a file's clean content (None: it did not exist) the first time it is changed."""
    if relative not in backup:
        path = ROOT / relative
        backup[relative] = path.read_text(encoding="utf-8") if path.exists() else None


def apply(name: str) -> str:
    """Apply one scenario; returns what to expect."""
    scenario = SCENARIOS[name]
    backup = _load_backup()
    changes: dict[str, str] = {}
    for relative, content in scenario.create.items():
        if (ROOT / relative).exists():
            raise SystemExit(f"{name}: {relative} exists already (applied before? run: reset)")
        changes[relative] = content
    for relative, (old, new) in scenario.replace.items():
        text = changes.get(relative) or (ROOT / relative).read_text(encoding="utf-8")
        if old not in text:
            raise SystemExit(f"{name}: {relative} has changed (applied before? run: reset)")
        changes[relative] = text.replace(old, new, 1)
    for relative, content in changes.items():
        _remember(backup, relative)
        (ROOT / relative).write_text(content, encoding="utf-8")
    BACKUP.parent.mkdir(exist_ok=True)
    BACKUP.write_text(json.dumps(backup, indent=2), encoding="utf-8")
    return scenario.symptom


def reset() -> list[str]:
    """Restore every changed file and delete the created ones; returns their paths."""
    backup = _load_backup()
    for relative, content in backup.items():
        path = ROOT / relative
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(content, encoding="utf-8")
    shutil.rmtree(BACKUP.parent, ignore_errors=True)
    return sorted(backup)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command = argv[0]
    if command == "list":
        for name, scenario in SCENARIOS.items():
            sys.stdout.write(f"{name:<24} {scenario.symptom}\n")
        return 0
    if command == "reset":
        restored = reset()
        sys.stdout.write(f"restored: {', '.join(restored) or 'nothing to restore'}\n")
        return 0
    if command not in SCENARIOS:
        sys.stderr.write(f"unknown scenario {command!r}; one of: {', '.join(SCENARIOS)}\n")
        return 2
    sys.stdout.write(f"broken: {apply(command)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
