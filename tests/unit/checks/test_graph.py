"""The ``graph`` check: a YAML flow graph is acyclic, declared and connected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_selftest.checks.base import Finding
from pytest_selftest.checks.graph import check

Write = Callable[[str, str], Path]
Run = Callable[..., list[Finding]]

GOOD = """\
nodes:
  - kernel
  - id: bdd
    tier: governance
  - id: policy
edges:
  - {from: kernel, to: bdd}
  - {from: kernel, to: policy}
  - {from: bdd, to: policy}
"""

CYCLE = """\
nodes: [kernel, bdd, schema, ac]
edges:
  - {from: kernel, to: bdd}
  - {from: bdd, to: schema}
  - {from: schema, to: ac}
  - {from: ac, to: bdd}
"""

UNDECLARED = """\
flow:
  steps:
    - kernel
    - bdd
    - fed-by-ghost
    - lonely
  links:
    - from: kernel
      to: bdd
    - from: ghost
      to: fed-by-ghost
"""


def test_an_acyclic_connected_graph_passes(write: Write, run: Run) -> None:
    """Nodes given as strings or mappings with ``id`` are both accepted."""
    write("flow.yaml", GOOD)
    assert run(check, file="flow.yaml", nodes="nodes", edges="edges") == []


def test_a_cycle_is_reported_as_a_path_at_the_edge_that_starts_it(write: Write, run: Run) -> None:
    """The cycle is one finding; nodes on or behind it are not also called unreachable."""
    write("flow.yaml", CYCLE)
    assert run(check, file="flow.yaml") == [
        Finding("flow.yaml", 4, "cycle: bdd -> schema -> ac -> bdd")
    ]


def test_an_island_that_is_a_cycle_is_caught_by_the_cycle_check(write: Write, run: Run) -> None:
    """Two nodes feeding each other, apart from the flow, give the cycle finding only."""
    write("flow.yaml", "nodes: [a, b, c]\nedges:\n  - {from: a, to: b}\n  - {from: c, to: c}\n")
    assert run(check, file="flow.yaml") == [Finding("flow.yaml", 4, "cycle: c -> c")]


def test_undeclared_endpoints_and_unconnected_nodes_are_reported_at_their_lines(
    write: Write, run: Run
) -> None:
    """An edge from an undeclared node, the node only it feeds, and a node without edges."""
    write("flow.yaml", UNDECLARED)
    assert run(check, file="flow.yaml", nodes="flow.steps", edges="flow.links") == [
        Finding("flow.yaml", 10, "edge ghost -> fed-by-ghost: 'ghost' is not a declared node"),
        Finding(
            "flow.yaml",
            5,
            "node 'fed-by-ghost' is not reachable from a start node (one without inputs)",
        ),
        Finding("flow.yaml", 6, "node 'lonely' has no edges"),
    ]


def test_malformed_nodes_and_edges_are_reported_at_their_lines(write: Write, run: Run) -> None:
    """A node without an id, a duplicate node and an edge without ``to`` are findings."""
    write(
        "flow.yaml",
        "nodes:\n  - a\n  - {name: x}\n  - a\n  - b\nedges:\n  - {from: a, to: b}\n  - {from: a}\n",
    )
    assert run(check, file="flow.yaml") == [
        Finding("flow.yaml", 3, "a node must be a string or have an 'id'"),
        Finding("flow.yaml", 4, "node 'a' is declared twice"),
        Finding("flow.yaml", 8, "an edge needs 'from' and 'to' node ids"),
    ]


def test_missing_file_keys_and_broken_yaml_are_findings(write: Write, run: Run) -> None:
    """Inputs that cannot be read as a graph are reported, not raised."""
    assert run(check, file="flow.yaml") == [
        Finding("flow.yaml", None, "file not found (with: 'file')")
    ]
    write("flow.yaml", GOOD)
    assert run(check, file="flow.yaml", nodes="steps") == [
        Finding("flow.yaml", None, "no 'steps' list in this file (with: 'nodes')")
    ]
    write("flow.yaml", "nodes: [a\nedges: []\n")
    assert run(check, file="flow.yaml") == [
        Finding(
            "flow.yaml",
            2,
            "invalid YAML: while parsing a flow sequence, expected ',' or ']', but got ':'",
        )
    ]
