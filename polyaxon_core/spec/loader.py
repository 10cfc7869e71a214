"""Read YAML (or JSON) into plain data while remembering where every field was written.

PyYAML's composer gives each node its position; we walk the node tree next to the
constructed data and record ``path -> (file, line)`` so that a problem found much later
(in a schema, in the compiler) can still name the line the user has to edit.

Aliases (``*name``) are allowed, but the document they expand to is capped: a few
hundred bytes of nested aliases can otherwise stand for billions of values. The size
is measured on the node graph before anything is constructed, in time proportional to
the written file, and a recursive alias is refused outright.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from polyaxon_core.spec.errors import PolyaxonfileError, Problem

PathKey = tuple[str | int, ...]
Position = tuple[str, int]

#: At most this many values (mappings, sequences, scalars) once aliases are expanded.
MAX_EXPANDED_VALUES = 100_000
#: At most this many characters of scalar text once aliases are expanded.
MAX_EXPANDED_CHARACTERS = 10_000_000
#: How aliases may be used, for the ``valid`` part of the problems about them.
_ALIASES_VALID = (
    f"aliases that repeat small sections: the expanded document holds at most "
    f"{MAX_EXPANDED_VALUES:,} values and {MAX_EXPANDED_CHARACTERS:,} characters"
)


def format_path(path: PathKey) -> str:
    """``("run", "container", "args", 1)`` -> ``run.container.args[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class Source:
    """A loaded document: JSON-safe ``data`` plus the position of each field.

    ``folder`` is where relative references (``pathRef``) are resolved from; it is
    ``None`` for data that did not come from a file (e.g. JSON stored in a database).
    """

    name: str
    data: Any
    positions: dict[PathKey, Position] = field(default_factory=dict)
    folder: Path | None = None

    def locate(self, path: PathKey) -> tuple[str, int | None]:
        """The file and line of ``path``, falling back to its closest written ancestor."""
        probe = tuple(path)
        while True:
            position = self.positions.get(probe)
            if position is not None:
                return position
            if not probe:
                return self.name, None
            probe = probe[:-1]

    def problem(self, path: PathKey, message: str, valid: str | None = None) -> Problem:
        file, line = self.locate(path)
        return Problem(file=file, line=line, path=format_path(path), message=message, valid=valid)


def read_source(path: Path) -> Source:
    """Load the polyaxonfile at ``path``; raises PolyaxonfileError naming the file and line."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolyaxonfileError(
            [Problem(name, None, "", "file not found", "the path of an existing polyaxonfile")]
        ) from None
    except IsADirectoryError:
        raise PolyaxonfileError(
            [Problem(name, None, "", "is a folder, not a file", "the path of a polyaxonfile")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolyaxonfileError(
            [Problem(name, None, "", f"cannot be read: {exc}", "a readable UTF-8 text file")]
        ) from None
    return parse_text(text, name, folder=path.resolve().parent)


def parse_text(text: str, name: str, folder: Path | None = None) -> Source:
    """Parse YAML/JSON ``text``; syntax errors and duplicate keys raise PolyaxonfileError.

    Read with libyaml's parser when PyYAML has it (the same nodes, several times faster:
    a polyaxonfile of 200 operations in 8 ms instead of 47); a document it refuses is
    read again by the pure-Python parser, whose messages and lines are the ones said."""
    if _FAST_LOADER is not None:
        try:
            return _parsed(_FAST_LOADER(text), name, folder)
        except (yaml.YAMLError, RecursionError, UnicodeError):
            # said below, in the pure-Python parser's words (libyaml cannot even take
            # text with a lone surrogate, which JSON can carry: that too is said there)
            pass
    try:
        # the loader checks the characters when it is created: it belongs inside the try
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        raise PolyaxonfileError(
            [Problem(name, None, "", f"invalid YAML: {exc}", "well-formed YAML or JSON")]
        ) from None
    try:
        return _parsed(loader, name, folder)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        raise PolyaxonfileError(
            [Problem(name, line, "", f"invalid YAML: {detail}", "well-formed YAML or JSON")]
        ) from None
    except yaml.YAMLError as exc:
        raise PolyaxonfileError(
            [Problem(name, None, "", f"invalid YAML: {exc}", "well-formed YAML or JSON")]
        ) from None
    except RecursionError:
        raise PolyaxonfileError(
            [Problem(name, None, "", "the YAML is nested too deeply to be read",
                     "a polyaxonfile nested a few dozen levels at most")]
        ) from None


#: libyaml's loader, when PyYAML was built with it
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _parsed(loader: Any, name: str, folder: Path | None) -> Source:
    """The document of ``loader`` (a safe loader, pure or libyaml's) with the line of
    each field; raises the loader's errors as they are, PolyaxonfileError for duplicate
    keys and for aliases that expand past the caps."""
    try:
        node = loader.get_single_node()
        positions: dict[PathKey, Position] = {}
        duplicates: list[Problem] = []
        if node is not None:
            _check_expanded_size(node, name)
            # Positions are read before construction: constructing flattens `<<` merge
            # keys into the mapping, which would make an override look like a duplicate.
            _record(loader, node, (), name, positions, duplicates, record_self=True)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    if duplicates:
        raise PolyaxonfileError(duplicates)
    return Source(name=name, data=to_plain(data), positions=positions, folder=folder)


def load_yaml_value(text: str, name: str) -> Any:
    """Parse a YAML value (e.g. a ``-P`` value) as ``yaml.safe_load`` would, under the
    same alias limits as a polyaxonfile.

    Raises ``yaml.YAMLError`` for text that is not YAML, PolyaxonfileError for a value
    whose aliases expand past the limits or that is nested too deeply.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node, name)
        return loader.construct_document(node)
    except RecursionError:
        raise PolyaxonfileError(
            [Problem(name, None, "", "the YAML is nested too deeply to be read",
                     "a value nested a few dozen levels at most")]
        ) from None
    finally:
        loader.dispose()


def _check_expanded_size(root: yaml.Node, name: str) -> None:
    """Refuse a document whose aliases expand it past the caps, or that contains itself.

    Each node's expanded size is computed once and reused wherever an alias points to
    it, so a billion-value document is measured after visiting its few written nodes.
    """
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in open_nodes:
            raise PolyaxonfileError(
                [Problem(name, node.start_mark.line + 1, "",
                         "an alias refers to a mapping or list that contains it (a recursive alias)",
                         "aliases to sections written before them, outside the alias")]
            )
        open_nodes.add(id(node))
        values, characters = 1, 0
        if isinstance(node, yaml.ScalarNode):
            characters = len(node.value)
        else:
            children = (
                [part for pair in node.value for part in pair]
                if isinstance(node, yaml.MappingNode)
                else node.value
            )
            for child in children:
                child_values, child_characters = measure(child)
                values += child_values
                characters += child_characters
                if values > MAX_EXPANDED_VALUES or characters > MAX_EXPANDED_CHARACTERS:
                    raise PolyaxonfileError(
                        [Problem(name, node.start_mark.line + 1, "",
                                 "the document expands to more than "
                                 f"{MAX_EXPANDED_VALUES:,} values or "
                                 f"{MAX_EXPANDED_CHARACTERS:,} characters (counting each "
                                 "repetition its aliases `*name` make); it is refused "
                                 "before expanding it",
                                 _ALIASES_VALID)]
                    )
        open_nodes.discard(id(node))
        sizes[id(node)] = (values, characters)
        return values, characters

    measure(root)


def source_from_data(data: Any, name: str) -> Source:
    """Wrap already-parsed data (no positions are known)."""
    return Source(name=name, data=to_plain(data))


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _record(
    loader: Any,
    node: yaml.Node,
    path: PathKey,
    file: str,
    positions: dict[PathKey, Position],
    duplicates: list[Problem],
    record_self: bool,
) -> None:
    if record_self:
        positions[path] = (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = to_plain(loader.construct_object(key_node, deep=True))
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int):
                continue
            child = (*path, key)
            if key in seen:
                duplicates.append(
                    Problem(
                        file,
                        line,
                        format_path(child),
                        f"duplicate key `{key}` (first written on line {seen[key]}); "
                        "only one of the values would be used",
                        "each key written once per mapping",
                    )
                )
                continue
            seen[key] = line
            positions[child] = (file, line)
            _record(loader, value_node, child, file, positions, duplicates, record_self=False)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(loader, item, (*path, index), file, positions, duplicates, record_self=True)


def to_plain(value: Any) -> Any:
    """Make YAML-constructed data JSON-safe: dates become ISO strings, tuples lists."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {to_plain(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_plain(item) for item in value]
    return value
