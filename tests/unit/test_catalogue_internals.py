"""What the catalogue package does for speed (issue 12) keeps its results: lookups computed once,
steps built without the dataclass ``__init__``, a declared order kept without sorting, plain YAML
strings converted inline, and the garbage collector left as it was found."""

from __future__ import annotations

import dataclasses
import gc
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from pytest_selftest.catalogue import Catalogue, CatalogueError, Step, load_catalogue
from pytest_selftest.catalogue.plan import plan_order


def load(root: Path, text: str) -> Catalogue:
    path = root / "steps" / "all.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return load_catalogue([path], root)


CHAIN = """\
    - {id: a, tier: kernel, description: A, run: "true"}
    - {id: b, tier: governance, description: B, run: "true", depends_on: [a]}
    - {id: c, tier: optional, description: C, run: "true", depends_on: [a, b]}
"""


def test_lookups_are_computed_once_and_stay_right(tmp_path: Path) -> None:
    catalogue = load(tmp_path, CHAIN)
    assert catalogue.by_id is catalogue.by_id
    assert catalogue.ids is catalogue.ids
    assert catalogue.by_id == {step.id: step for step in catalogue.steps}
    assert catalogue.ids == ("a", "b", "c")
    assert catalogue.digest == Catalogue(catalogue.steps).digest
    assert catalogue.dependency_closure(["c"]) == {"a", "b", "c"}


def test_a_loaded_step_equals_the_one_its_dataclass_builds(tmp_path: Path) -> None:
    (step,) = load(tmp_path, '- {id: a, tier: kernel, description: A, run: "make hi"}\n').steps
    expected = Step(
        id="a",
        tier="kernel",
        description="A",
        source="steps/all.yaml",
        line=1,
        run=("make hi",),
        severity="critical",
        category="correctness",
        requires=("make",),
        params=MappingProxyType({}),
        env=MappingProxyType({}),
    )
    assert step == expected
    assert repr(step) == repr(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.id = "b"  # type: ignore[misc]


def test_from_validated_needs_exactly_the_fields_of_a_step() -> None:
    values = {
        f.name: getattr(Step("a", "kernel", "A", "s", 1), f.name) for f in dataclasses.fields(Step)
    }
    assert Step.from_validated(**values) == Step("a", "kernel", "A", "s", 1)
    with pytest.raises(TypeError, match="a Step needs exactly its fields"):
        Step.from_validated(**{k: v for k, v in values.items() if k != "cache"})
    with pytest.raises(TypeError, match="a Step needs exactly its fields"):
        Step.from_validated(**values, colour="red")


def steps(*deps: tuple[str, tuple[str, ...]]) -> list[Step]:
    return [
        Step(step_id, "kernel", step_id, "s", n, depends_on=d)
        for n, (step_id, d) in enumerate(deps)
    ]


def test_a_catalogue_declared_in_dependency_order_is_kept_as_declared() -> None:
    declared = steps(("a", ()), ("b", ("a",)), ("c", ("a", "unknown")))
    ordered, cycle = plan_order(declared)
    assert [s.id for s in ordered] == ["a", "b", "c"] and cycle is None


def test_a_dependency_declared_later_or_on_itself_still_goes_through_the_sort() -> None:
    ordered, cycle = plan_order(steps(("b", ("a",)), ("a", ()), ("c", ())))
    assert [s.id for s in ordered] == ["a", "b", "c"] and cycle is None
    ordered, cycle = plan_order(steps(("a", ("a",)), ("b", ("a",))))
    assert [s.id for s in ordered] == ["a", "b"] and cycle is None
    ordered, cycle = plan_order(steps(("a", ("b",)), ("b", ("a",))))
    assert ordered == []
    assert cycle == "s:0: step 'a': dependency cycle: a -> b -> a"


def test_quoted_and_plain_scalars_keep_their_types(tmp_path: Path) -> None:
    """Plain strings skip the constructor: a quoted number stays a string, a plain one does not."""
    catalogue = load(
        tmp_path,
        """\
        - {id: a, tier: kernel, description: "5", run: "true", timeout: 5, cache: false}
        - {id: b, tier: kernel, description: '5', run: "true", timeout: 5, cache: false}
        """,
    )
    assert [(s.description, s.timeout, s.cache) for s in catalogue.steps] == [
        ("5", 5.0, False),
        ("5", 5.0, False),
    ]
    with pytest.raises(CatalogueError) as info:
        load(tmp_path, '- {id: a, tier: kernel, description: A, run: "true", timeout: "5"}\n')
    assert info.value.messages == [
        "steps/all.yaml:1: step 'a': 'timeout' must be a number of seconds, got '5'"
    ]


@pytest.fixture
def collector_disabled() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_loading_leaves_the_garbage_collector_enabled(tmp_path: Path) -> None:
    load(tmp_path, CHAIN)
    assert gc.isenabled()
    with pytest.raises(CatalogueError):
        load(tmp_path, "- {id: a}\n")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_disabled")
def test_loading_leaves_a_disabled_garbage_collector_disabled(tmp_path: Path) -> None:
    load(tmp_path, CHAIN)
    assert not gc.isenabled()


def test_merge_keys_still_merge(tmp_path: Path) -> None:
    """Only a mapping with a ``<<`` key is flattened, and such a mapping still is."""
    catalogue = load(
        tmp_path,
        """\
        - &base {id: a, tier: kernel, description: A, run: "true", timeout: 5}
        - <<: *base
          id: b
        """,
    )
    assert catalogue.ids == ("a", "b")
    merged = catalogue.by_id["b"]
    assert (merged.tier, merged.run, merged.timeout, merged.line) == ("kernel", ("true",), 5.0, 2)
