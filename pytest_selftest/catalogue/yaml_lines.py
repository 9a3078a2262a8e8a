"""YAML documents that remember where things are: mappings and sequences carry line numbers.

:mod:`.load` parses each step file with :func:`load_yaml`; :mod:`.validate` reads the
:class:`LineDict` and :class:`LineList` values to name the line of every problem.
"""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict[str, Any]):
    """A YAML mapping that remembers where it and each of its keys start."""

    __slots__ = ("key_lines", "line")  # no instance __dict__: one allocation less per mapping
    line: int
    key_lines: dict[str, int]


class LineList(list[Any]):
    """A YAML sequence that remembers where each of its items starts (a scalar step has no line)."""

    __slots__ = ("item_lines",)
    item_lines: list[int]


_LOADER_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SCALAR = yaml.ScalarNode
# The keys PyYAML's flatten_mapping rewrites: merge keys (``<<``) and the ``=`` value key.
_MERGE_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


def load_yaml(data: bytes) -> Any:
    """Parse one YAML document into dicts and lists that remember their line numbers.

    The nodes of libyaml's parser are converted directly: PyYAML's generic constructor machinery
    is several times slower, which a 5,000-step catalogue feels. Anything but plain strings,
    mappings and sequences (numbers, booleans, timestamps) goes through the safe constructor.
    """
    loader = _LOADER_BASE(data)
    try:
        node = loader.get_single_node()
        return None if node is None else _NodeConverter(loader).convert(node)
    finally:
        loader.dispose()


class _NodeConverter:
    """Turns composed YAML nodes into Python values; shared nodes (aliases) stay shared."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.done: dict[int, Any] = {}

    def convert(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):  # most nodes: never shared, never in ``done``
            return node.value if node.tag == _STR_TAG else self._construct(node)
        known = self.done.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
            return self._sequence(node)
        if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            return self._mapping(node)
        return self._construct(node)

    def _construct(self, node: yaml.Node) -> Any:
        """The safe constructor's value; one its tag cannot hold is a YAML error at its line.

        PyYAML raises KeyError for ``!!bool maybe``, AttributeError for ``!!timestamp x`` and
        ValueError for ``2001-02-30`` or an integer of more than 4300 digits.
        """
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            kind = node.tag.rsplit(":", 1)[-1]
            shown = node.value if isinstance(node.value, str) else "value"
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            detail = f" ({exc})" if isinstance(exc, ValueError) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"{shown!r} is not a valid {kind}{detail}", node.start_mark
            ) from exc

    def _sequence(self, node: yaml.SequenceNode) -> LineList:
        items = LineList()
        items.item_lines = [item.start_mark.line + 1 for item in node.value]
        self.done[id(node)] = items
        convert = self.convert
        # Plain strings inline: a call per scalar is a tenth of loading a large catalogue.
        items.extend(
            [
                item.value if type(item) is _SCALAR and item.tag == _STR_TAG else convert(item)
                for item in node.value
            ]
        )
        return items

    def _mapping(self, node: yaml.MappingNode) -> LineDict:
        if any(key_node.tag in _MERGE_TAGS for key_node, _ in node.value):
            self.loader.flatten_mapping(node)  # merge keys (<<)
        mapping = LineDict()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        self.done[id(node)] = mapping
        convert, key_lines = self.convert, mapping.key_lines
        for key_node, value_node in node.value:  # plain strings inline, as in _sequence
            key = (
                key_node.value
                if type(key_node) is _SCALAR and key_node.tag == _STR_TAG
                else str(convert(key_node))
            )
            mapping[key] = (
                value_node.value
                if type(value_node) is _SCALAR and value_node.tag == _STR_TAG
                else convert(value_node)
            )
            key_lines[key] = key_node.start_mark.line + 1
        return mapping
