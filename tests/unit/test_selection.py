"""The one answer to "which steps does this command line run", without pytest running."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from selftest_repo import step

from pytest_selftest.catalogue import Catalogue, load_catalogue
from pytest_selftest.config.errors import ConfigError
from pytest_selftest.selection import SelectionRequest, SelectionUsageError, select


@pytest.fixture
def catalogue(tmp_path: Path) -> Catalogue:
    """build (kernel) <- Lint-Code <- docs in steps/ci/main.yaml; extra in steps/other.yaml."""
    (tmp_path / "steps" / "ci").mkdir(parents=True)
    main = tmp_path / "steps" / "ci" / "main.yaml"
    main.write_text(
        yaml.safe_dump(
            [
                step("build", "kernel"),
                step("Lint-Code", "governance", depends_on=["build"]),
                step("docs", "governance", depends_on=["Lint-Code"]),
            ]
        )
    )
    other = tmp_path / "steps" / "other.yaml"
    other.write_text(yaml.safe_dump([step("extra", "optional")]))
    return load_catalogue([main, other], tmp_path)


def plan(catalogue: Catalogue, root: Path, **options: object) -> list[str]:
    chosen = select(catalogue, SelectionRequest(invocation_dir=root, **options), root).plan_ids  # type: ignore[arg-type]
    return [step_id for step_id in catalogue.ids if step_id in chosen]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, ["build", "Lint-Code", "docs", "extra"]),
        ({"markexpr": "kernel or optional"}, ["build", "extra"]),
        ({"markexpr": "selftest and not governance"}, ["build", "extra"]),
        ({"keywordexpr": "lint"}, ["Lint-Code"]),  # case-insensitive substring, as pytest
        ({"keywordexpr": "ci and not kernel"}, ["Lint-Code", "docs"]),  # a folder's name
        ({"keywordexpr": "other.yaml"}, ["extra"]),  # the file's name
        ({"args": ("steps/ci",)}, ["build", "Lint-Code", "docs"]),
        ({"args": ("steps/ci/main.yaml::docs", "steps/other.yaml")}, ["docs", "extra"]),
        ({"args": ("steps/ci/main.yaml::nope",)}, []),
        ({"args": ("tests",)}, []),
        ({"markexpr": "governance", "with_deps": True}, ["build", "Lint-Code", "docs"]),
        ({"steps": ("docs",), "markexpr": "kernel"}, []),
        ({"until": "Lint-Code", "keywordexpr": "not build"}, ["Lint-Code"]),
    ],
)
def test_the_plan_follows_every_selection(
    catalogue: Catalogue, tmp_path: Path, options: dict[str, object], expected: list[str]
) -> None:
    assert plan(catalogue, tmp_path, **options) == expected


def test_options_narrow_the_collection_and_the_plan_adds_pytests_own(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    """chosen_ids is what the plugin deselects by; -m/-k/paths are pytest's to apply."""
    request = SelectionRequest(steps=("docs", "extra"), with_deps=True, markexpr="governance")
    selection = select(catalogue, request, tmp_path)
    assert selection.chosen_ids == {"build", "Lint-Code", "docs", "extra"}
    assert selection.plan_ids == {"build", "Lint-Code", "docs"}
    assert selection.tests_selected is False
    everything = select(catalogue, SelectionRequest(markexpr="kernel"), tmp_path)
    assert (everything.chosen_ids, everything.tests_selected) == (None, True)


def test_user_skips_keep_their_source_and_unknown_env_ids_only_warn(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    request = SelectionRequest(skips=("docs",), env_skips=("build", "docs", "gone"))
    selection = select(catalogue, request, tmp_path)
    assert selection.user_skips == {"build": "SELFTEST_SKIP_STEPS", "docs": "--selftest-skip"}
    assert selection.warnings == ("$SELFTEST_SKIP_STEPS names unknown step 'gone' (ignored)",)


def test_unknown_ids_in_options_are_one_config_error(catalogue: Catalogue, tmp_path: Path) -> None:
    request = SelectionRequest(steps=("nope",), until="gone", skips=("zip",))
    with pytest.raises(ConfigError) as error:
        select(catalogue, request, tmp_path)
    assert error.value.messages == [
        "Unknown step id: nope",
        "Unknown step id: gone",
        "Unknown step id: zip",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shard": "3of2"}, "--selftest-shard expects K/N with 1 <= K <= N (like 2/4), got '3of2'"),
        (
            {"keywordexpr": "a or"},
            "Wrong expression passed to '-k': a or: at column 5: expected not OR left "
            "parenthesis OR identifier; got end of input",
        ),
    ],
)
def test_malformed_values_are_usage_errors(
    catalogue: Catalogue, tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(SelectionUsageError) as error:
        select(catalogue, SelectionRequest(**options), tmp_path)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_shards_split_the_plan(catalogue: Catalogue, tmp_path: Path) -> None:
    """Two shards: the dependency chain in one, extra in the other, together everything."""
    shards = [plan(catalogue, tmp_path, shard=f"{k}/2") for k in (1, 2)]
    assert shards == [["build", "Lint-Code", "docs"], ["extra"]]
