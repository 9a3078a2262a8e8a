"""Flow artefacts are written under RUN_BASE/, the run's own folder, never a fixed path."""

from pathlib import PurePosixPath

PLACEHOLDER = "RUN_BASE/"


class ArtefactPathError(ValueError):
    """An artefact path that is not relative to RUN_BASE/."""


def resolve(artefact: str, run_base: str) -> str:
    """Where ``artefact`` (``RUN_BASE/<step>/<file>``) lives for the run rooted at ``run_base``."""
    if not artefact.startswith(PLACEHOLDER):
        raise ArtefactPathError(f"{artefact!r} must start with {PLACEHOLDER}")
    relative = PurePosixPath(artefact.removeprefix(PLACEHOLDER))
    if not relative.parts or ".." in relative.parts:
        raise ArtefactPathError(f"{artefact!r} does not name a file inside RUN_BASE/")
    return str(PurePosixPath(run_base) / relative)
