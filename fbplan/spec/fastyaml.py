"""A spec file's YAML read straight from the parser's events into plain data (issue 9).

Composing a node tree (a Python object and two marks per node) and then walking it cost
most of loading a large spec. This reads mappings, lists, scalars, anchors, aliases and
merge keys from libyaml's events in one pass, keeping no node and no mark, and gives up
(`Unusual`) on anything else, for the composer to read and report exactly as before:
duplicate keys or anchors, tags other than the standard ones, keys that are not plain
scalars, an alias inside the node it names, a merge key naming something but mappings,
several documents, a top level that is not a mapping, nesting too deep for Python's
stack. A syntax error is raised as the parser raises it: the composer would stop at the
same one. Scalars are resolved and constructed as the composer and `SafeConstructor` do,
an alias gives a copy of its node's value, and values are counted as the builder counts
them, so that the data and the bounds are the same either way (tests prove it).

The node cap is counted on the way (`TooManyNodes`): no extra pass over the text.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")


class Unusual(Exception):
    """The text holds something this reader leaves to the composer."""


class TooManyNodes(Exception):
    """The text holds more nodes than the cap."""


def read_plain_yaml(
    text: str, loader: type[yaml.SafeLoader], *, max_nodes: int, max_values: int
) -> dict[str, Any] | None:
    """The top-level mapping of `text` as plain data (None for an empty file). Raises
    `TooManyNodes` past `max_nodes` node events (keys included, as written), `Unusual`
    past `max_values` values (the composer's builder reports that cap) or on anything
    the module docstring lists, and the parser's `yaml.MarkedYAMLError` at a syntax error."""
    return _Reader(text, loader, max_nodes, max_values).read()


class _Reader:
    def __init__(self, text: str, loader: type[yaml.SafeLoader], max_nodes: int, max_values: int):
        self._parser = loader(text)
        self._next = self._parser.get_event
        self._nodes = 0
        self._values = 0
        self._max_nodes = max_nodes
        self._max_values = max_values
        resolvers = loader.yaml_implicit_resolvers
        if None in resolvers or loader.yaml_path_resolvers:
            raise Unusual  # resolvers added at run time: leave them to the composer
        #: First characters of a plain scalar that may resolve to something but a string.
        self._maybe_typed = frozenset(first for first in resolvers if first)
        self._constructor = SafeConstructor()
        self._anchors: dict[str, tuple[Any, int]] = {}  # each anchored value and its count

    def read(self) -> dict[str, Any] | None:
        try:
            self._next()  # the stream's start
            if isinstance(self._next(), StreamEndEvent):
                return None  # an empty file (or only comments)
            first = self._next()
            if not isinstance(first, MappingStartEvent):
                raise Unusual
            data = self._value(first)
            self._next()  # the document's end
            if not isinstance(self._next(), StreamEndEvent):
                raise Unusual  # another document: the composer says where
            return data
        except yaml.MarkedYAMLError:
            raise  # the parser's: the composer would stop at the same error, and no earlier
        except (yaml.YAMLError, RecursionError) as err:
            raise Unusual from err
        finally:
            self._parser.dispose()

    def _value(self, event: Event) -> Any:
        self._nodes += 1
        if self._nodes > self._max_nodes:
            raise TooManyNodes
        kind = type(event)
        if kind is AliasEvent:
            return self._alias(event)
        before = self._values
        self._count(1)
        if kind is ScalarEvent:
            value = self._scalar(event)
        elif kind is MappingStartEvent:
            value = self._mapping(event)
        elif kind is SequenceStartEvent:
            value = self._sequence(event)
        else:
            raise Unusual
        anchor = event.anchor
        if anchor is not None:
            if anchor in self._anchors:
                raise Unusual  # a duplicate anchor: the composer says where
            self._anchors[anchor] = (value, self._values - before)
        return value

    def _count(self, values: int) -> None:
        """Count values as the composer's builder does: an alias costs its node's values
        each time, so that an alias bomb stops here and is left to the builder to report."""
        self._values += values
        if self._values > self._max_values:
            raise Unusual

    def _alias(self, event: AliasEvent) -> Any:
        found = self._anchors.get(event.anchor)
        if found is None:
            raise Unusual  # undefined, or an alias inside the node it names (a loop)
        value, weight = found
        self._count(weight)
        return copy.deepcopy(value)  # a copy at each place, as the builder makes one

    def _mapping(self, start: MappingStartEvent) -> dict[str, Any]:
        if start.tag not in _MAP_TAGS:
            raise Unusual
        result: dict[str, Any] = {}
        merged: list[dict[str, Any]] = []
        while True:
            event = self._next()
            if type(event) is not ScalarEvent:
                if type(event) is MappingEndEvent:
                    return self._merge(merged, result) if merged else result
                raise Unusual  # a key that is a list, a mapping or an alias
            key = event.value
            if event.tag is not None or event.anchor is not None:
                raise Unusual  # a tagged or anchored key
            self._nodes += 1
            if key == "<<" and event.implicit[0]:
                merged += self._merge_sources(self._next())
            elif key in result:
                raise Unusual  # a duplicate key: the builder says where
            else:
                result[key] = self._value(self._next())

    def _merge_sources(self, event: Event) -> list[dict[str, Any]]:
        """The mappings a merge key (`<<`) names, in the order they are applied: the last
        of a list first, so that the first wins."""
        listed = isinstance(event, SequenceStartEvent)
        if getattr(event, "anchor", None) is not None and not isinstance(event, AliasEvent):
            raise Unusual
        if listed:
            self._values -= 1  # the list of sources is not a value the builder counts
        sources = self._value(event)
        sources = sources[::-1] if listed else [sources]
        if not all(isinstance(source, dict) for source in sources):
            raise Unusual  # the builder says which is not a mapping
        return sources

    @staticmethod
    def _merge(merged: list[dict[str, Any]], written: dict[str, Any]) -> dict[str, Any]:
        """A mapping's merged entries, then its own (which win), as the builder orders them."""
        result: dict[str, Any] = {}
        for source in merged:
            result.update(source)
        result.update(written)
        return result

    def _sequence(self, start: SequenceStartEvent) -> list[Any]:
        if start.tag not in _SEQ_TAGS:
            raise Unusual
        items: list[Any] = []
        while True:
            event = self._next()
            if type(event) is SequenceEndEvent:
                return items
            items.append(self._value(event))

    def _scalar(self, event: ScalarEvent) -> Any:
        value, tag = event.value, event.tag
        if tag is None or tag == "!":
            if not event.implicit[0] or (value and value[0] not in self._maybe_typed):
                return value  # quoted, or plain text no implicit type starts with
            tag = self._parser.resolve(ScalarNode, value, event.implicit)
        if tag == _STR_TAG:
            return value
        node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as err:
            raise Unusual from err


Place = tuple[int, int]  # 1-based line and column
PlacePath = tuple[str | int, ...]


def plain_places(
    text: str, loader: type[yaml.SafeLoader]
) -> tuple[dict[PlacePath, Place], dict[PlacePath, Place]]:
    """Where each path of a plain YAML text (one `read_plain_yaml` read) was written, from
    one pass over the events: (values, keys). `values` holds the value of a scalar entry,
    the key of a mapping or list entry, each list item, and the top-level mapping at `()`;
    `keys` the key of each mapping entry. Raises `Unusual` at an alias or a merge key."""
    values: dict[PlacePath, Place] = {}
    keys: dict[PlacePath, Place] = {}
    parser = loader(text)
    try:
        parser.get_event()  # the stream's start
        if not isinstance(parser.get_event(), StreamEndEvent):
            root = parser.get_event()
            values[()] = _place(root)
            _places(parser.get_event, root, (), values, keys)
    except (yaml.YAMLError, RecursionError) as err:
        raise Unusual from err
    finally:
        parser.dispose()
    return values, keys


def _places(
    get: Any,
    event: Event,
    path: PlacePath,
    values: dict[PlacePath, Place],
    keys: dict[PlacePath, Place],
) -> None:
    if isinstance(event, MappingStartEvent):
        while not isinstance(key := get(), MappingEndEvent):
            if key.value == "<<" and key.implicit[0]:
                raise Unusual  # a merge key: its entries are found in the composed nodes
            child, value = (*path, key.value), get()
            keys[child] = _place(key)
            values[child] = keys[child] if not isinstance(value, ScalarEvent) else _place(value)
            _places(get, value, child, values, keys)
    elif isinstance(event, SequenceStartEvent):
        index = 0
        while not isinstance(item := get(), SequenceEndEvent):
            values[(*path, index)] = _place(item)
            _places(get, item, (*path, index), values, keys)
            index += 1
    elif not isinstance(event, ScalarEvent):
        raise Unusual  # an alias


def _place(event: Event) -> Place:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1)
