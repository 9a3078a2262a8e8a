"""``check: graph`` — a flow graph declared in YAML is well formed.

Three properties are checked, each finding at the line of the YAML that causes it:

- every edge endpoint is a declared node;
- the graph is acyclic (one cycle is reported, as a path, which is enough to fail);
- every node is connected: it has an edge, and it is reachable from a start node (a node
  with no incoming edge). In an acyclic graph that only fails for a node fed solely by an
  undeclared node; nodes on or behind the reported cycle count as reached, so a cycle is not
  reported twice.

Parameters (``with:``): ``file`` (the YAML file), ``nodes`` (key of the node list, default
``nodes``; items are strings or mappings with an ``id``), ``edges`` (key of the edge list,
default ``edges``; items are mappings with ``from`` and ``to``). Keys may be dotted to reach
into nested mappings, e.g. ``flow.steps``.
"""

from __future__ import annotations

import graphlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_selftest.checks._common import (
    InputProblem,
    display_path,
    existing_file,
    read_text,
    reports_input_problems,
    str_param,
)
from pytest_selftest.checks._documents import line_of, parse_yaml
from pytest_selftest.checks.base import CheckContext, Finding

if TYPE_CHECKING:
    import yaml


@dataclass
class _Edge:
    source: str
    target: str
    line: int | None


@dataclass
class _Graph:
    """Declared nodes (with their lines) and edges, plus the findings met while reading them."""

    nodes: dict[str, int | None] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _section(data: Any, dotted: str, param: str, where: str) -> tuple[list[Any], list[str]]:
    """The list under a dotted key, and the key path that leads to it (for line numbers)."""
    value = data
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            raise InputProblem(f"no '{dotted}' list in this file (with: '{param}')", where)
        value = value[key]
    if not isinstance(value, list):
        raise InputProblem(f"'{dotted}' is not a list (with: '{param}')", where)
    return value, dotted.split(".")


class _Lines:
    """Line numbers of the items of one list in the YAML file."""

    def __init__(self, root: yaml.Node | None, path: list[str]) -> None:
        self.root = root
        self.path: list[str | int] = list(path)

    def __call__(self, index: int) -> int | None:
        return line_of(self.root, [*self.path, index])


def _read_nodes(graph: _Graph, items: list[Any], where: str, lines: _Lines) -> None:
    for index, item in enumerate(items):
        node_id = item.get("id") if isinstance(item, Mapping) else item
        line = lines(index)
        if not isinstance(node_id, str) or not node_id:
            graph.findings.append(Finding(where, line, "a node must be a string or have an 'id'"))
        elif node_id in graph.nodes:
            graph.findings.append(Finding(where, line, f"node '{node_id}' is declared twice"))
        else:
            graph.nodes[node_id] = line


def _read_edges(graph: _Graph, items: list[Any], where: str, lines: _Lines) -> None:
    for index, item in enumerate(items):
        line = lines(index)
        ends = (item.get("from"), item.get("to")) if isinstance(item, Mapping) else (None, None)
        if not all(isinstance(end, str) and end for end in ends):
            graph.findings.append(Finding(where, line, "an edge needs 'from' and 'to' node ids"))
            continue
        edge = _Edge(str(ends[0]), str(ends[1]), line)
        graph.edges.append(edge)
        for end in (edge.source, edge.target):
            if end not in graph.nodes:
                message = f"edge {edge.source} -> {edge.target}: '{end}' is not a declared node"
                graph.findings.append(Finding(where, line, message))


def _load(ctx: CheckContext) -> tuple[_Graph, str]:
    path = existing_file(ctx, "file")
    where = display_path(ctx, path)
    data, root = parse_yaml(read_text(ctx, path), where)
    graph = _Graph()
    nodes_key = str_param(ctx, "nodes", default="nodes")
    edges_key = str_param(ctx, "edges", default="edges")
    node_items, node_path = _section(data, nodes_key, "nodes", where)
    edge_items, edge_path = _section(data, edges_key, "edges", where)
    _read_nodes(graph, node_items, where, _Lines(root, node_path))
    _read_edges(graph, edge_items, where, _Lines(root, edge_path))
    return graph, where


def _cycle(graph: _Graph) -> list[str]:
    """One cycle as a node path (first node repeated at the end), or [] when acyclic."""
    predecessors: dict[str, set[str]] = {node: set() for node in graph.nodes}
    for edge in graph.edges:
        predecessors.setdefault(edge.target, set()).add(edge.source)
    try:
        graphlib.TopologicalSorter(predecessors).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def _reached(graph: _Graph, starts: Iterable[str]) -> set[str]:
    successors: dict[str, list[str]] = {}
    for edge in graph.edges:
        successors.setdefault(edge.source, []).append(edge.target)
    reached = set(starts)
    queue = deque(reached)
    while queue:
        for target in successors.get(queue.popleft(), []):
            if target not in reached:
                reached.add(target)
                queue.append(target)
    return reached


def _connection_findings(graph: _Graph, cycle: list[str], where: str) -> list[Finding]:
    has_incoming = {edge.target for edge in graph.edges}
    has_outgoing = {edge.source for edge in graph.edges}
    starts = [node for node in graph.nodes if node not in has_incoming and node in has_outgoing]
    reached = _reached(graph, [*starts, *cycle])
    findings: list[Finding] = []
    for node, line in graph.nodes.items():
        if len(graph.nodes) > 1 and node not in has_incoming | has_outgoing:
            findings.append(Finding(where, line, f"node '{node}' has no edges"))
        elif node not in reached:
            message = f"node '{node}' is not reachable from a start node (one without inputs)"
            findings.append(Finding(where, line, message))
    return findings


@reports_input_problems
def check(ctx: CheckContext) -> list[Finding]:
    """Report undeclared endpoints, a cycle, and nodes not connected to the flow."""
    graph, where = _load(ctx)
    findings = list(graph.findings)
    cycle = _cycle(graph)
    if cycle:
        line = next((e.line for e in graph.edges if [e.source, e.target] == cycle[:2]), None)
        findings.append(Finding(where, line, "cycle: " + " -> ".join(cycle)))
    findings.extend(_connection_findings(graph, cycle, where))
    return findings
