"""A strict YAML reader for policy files: no duplicate keys, no anchors or aliases.

PyYAML keeps the last of two equal keys (a second ``helpdesk:`` silently replaces the
first) and expands aliases on use (nested aliases grow exponentially). A policy needs
neither, so both are errors naming the line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node

#: libyaml's parser when present (9x faster; every query session parses the policy).
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictYAMLError(yaml.YAMLError):
    """A YAML construct a policy file may not use."""


def _line(node_or_event: Any) -> int:
    mark = getattr(node_or_event, "start_mark", None)
    return mark.line + 1 if mark is not None else 0


class StrictLoader(_Base):
    """A safe loader refusing duplicate mapping keys and shared (aliased) nodes."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """Any node seen twice came from an alias: refused."""
        seen: set[int] = self.__dict__.setdefault("_strict_seen", set())
        if id(node) in seen:
            raise StrictYAMLError(f"line {_line(node)}: YAML aliases are not allowed")
        seen.add(id(node))
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping whose keys are all distinct (merge keys ``<<`` are not supported)."""
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise StrictYAMLError(f"line {_line(key_node)}: merge keys (<<) are not allowed")
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in mapping
            except TypeError:
                raise StrictYAMLError(f"line {_line(key_node)}: unhashable key") from None
            if duplicate:
                raise StrictYAMLError(f"line {_line(key_node)}: duplicate key {key!r}")
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def load_strict(text: str) -> object:
    """Parse one YAML document; StrictYAMLError for anchors, aliases or duplicate keys."""
    if "&" in text:  # an anchor needs "&": only then is the event stream scanned
        for event in yaml.parse(text, Loader=_Base):
            if getattr(event, "anchor", None) is not None:
                raise StrictYAMLError(f"line {_line(event)}: YAML anchors/aliases are not allowed")
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)
