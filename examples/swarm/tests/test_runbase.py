import pytest

from swarm.runbase import ArtefactPathError, resolve


def test_an_artefact_is_resolved_under_the_run_folder() -> None:
    assert resolve("RUN_BASE/build/changes.patch", "runs/42") == "runs/42/build/changes.patch"


@pytest.mark.parametrize("path", ["/srv/runs/42/plan.md", "build/plan.md"])
def test_a_path_not_under_run_base_is_refused(path: str) -> None:
    with pytest.raises(ArtefactPathError, match="must start with RUN_BASE/"):
        resolve(path, "runs/42")


@pytest.mark.parametrize("path", ["RUN_BASE/", "RUN_BASE/../etc/passwd"])
def test_a_path_escaping_run_base_is_refused(path: str) -> None:
    with pytest.raises(ArtefactPathError, match="does not name a file inside RUN_BASE/"):
        resolve(path, "runs/42")
