"""Read and validate the connections catalog.

The catalog is ``$POLYAXON_HOME/connections.yaml``, or what ``POLYAXON_CONNECTIONS``
gives: the path of a file, or the catalog itself as YAML/JSON (a value starting with
``[`` or ``{``). It is a list of connections, or a mapping whose ``connections`` key holds
that list, in Polyaxon's format (``name``, ``kind``, ``schema``, ``secret``,
``configMap``, ``description``, ``tags``, ``env``, ``annotations``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyaxon_core.config import ConfigurationError
from polyaxon_core.connections.kinds import ALL_KINDS, NOTIFIER_KINDS, SCHEMA_FIELDS, SchemaField
from polyaxon_core.entities import ConnectionEntity, ResourceReference
from polyaxon_core.errors import NotFound
from polyaxon_core.spec.errors import Problem, one_of
from polyaxon_core.spec.loader import PathKey, Source

CATALOG_VARIABLE = "POLYAXON_CONNECTIONS"
CATALOG_FILE = "connections.yaml"
DOCS = "docs/connections.md"

#: Names are also folder names (``secrets/<name>/``) and parts of variable names.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_NAME_HELP = "letters, digits, `-`, `_` and `.`, starting with a letter or digit"

_CONNECTION_FIELDS = (
    "name", "kind", "description", "tags", "schema", "secret", "configMap", "env", "annotations",
)
_RESOURCE_FIELDS = ("name", "items", "mountPath")

#: Records a problem at a field path relative to the connection being read.
Report = Callable[[PathKey, str, "str | None"], None]


class CatalogError(ConfigurationError):
    """The catalog cannot be read or is not valid; ``problems`` lists every mistake found."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        count = len(problems)
        plural = "s" if count != 1 else ""
        lines = [f"the connections catalog {source} is not valid ({count} problem{plural}):"]
        lines += [f"  {problem}" for problem in problems]
        super().__init__("\n".join(lines))


class UnknownConnection(NotFound):
    """No connection of that name in the catalog; the message lists the known names."""


@dataclass(frozen=True)
class Catalog:
    """The connections of this machine. ``source`` is where they were read from, None
    when no catalog is configured (then there are no connections)."""

    source: str | None
    connections: tuple[ConnectionEntity, ...] = ()

    @property
    def names(self) -> list[str]:
        return [connection.name for connection in self.connections]

    def get(self, name: str) -> ConnectionEntity:
        """The connection called ``name``; raises UnknownConnection listing the known ones."""
        for connection in self.connections:
            if connection.name == name:
                return connection
        raise UnknownConnection(f"unknown connection `{name}`; {self.how_to_add(name)}")

    def how_to_add(self, name: str) -> str:
        """What to tell someone who named ``name``: the known names and where to add one."""
        if self.source is None:
            return (
                f"no connections catalog is configured: write $POLYAXON_HOME/{CATALOG_FILE} "
                f"or set {CATALOG_VARIABLE} (see {DOCS})"
            )
        return f"{one_of(name, self.names, 'known connections')}; add it to {self.source} (see {DOCS})"


def load_catalog(home: Path | None = None) -> Catalog:
    """The catalog configured for ``home`` (default ``POLYAXON_HOME``); raises CatalogError."""
    from polyaxon_core.config import load_settings

    located = _catalog_text(home or load_settings().home)
    if located is None:
        return Catalog(source=None)
    name, text = located
    return parse_catalog(text, name)


def parse_catalog(text: str, name: str) -> Catalog:
    """Validate catalog ``text`` read from ``name``; raises CatalogError with every problem."""
    from polyaxon_core.spec import PolyaxonfileError
    from polyaxon_core.spec.loader import parse_text

    try:
        source = parse_text(text, name)
    except PolyaxonfileError as exc:
        raise CatalogError(name, exc.problems) from None
    problems: list[Problem] = []
    entries, base = _entries(source, problems)
    connections: list[ConnectionEntity] = []
    first_line: dict[str, int | None] = {}
    for index, entry in enumerate(entries):
        path = (*base, index)
        connection = _connection(source, entry, path, problems)
        if connection is None:
            continue
        if connection.name in first_line:
            line = first_line[connection.name]
            problems.append(source.problem(
                (*path, "name"),
                f"connection `{connection.name}` is defined twice (first on line {line})",
                "a name used once in the catalog; rename or remove one of them",
            ))
            continue
        first_line[connection.name] = source.locate((*path, "name"))[1]
        connections.append(connection)
    if problems:
        raise CatalogError(name, problems)
    return Catalog(source=name, connections=tuple(connections))


def _catalog_text(home: Path) -> tuple[str, str] | None:
    configured = os.environ.get(CATALOG_VARIABLE, "").strip()
    if configured.startswith(("[", "{")):
        return CATALOG_VARIABLE, configured
    path = Path(configured).expanduser() if configured else home / CATALOG_FILE
    if configured and not path.is_file():
        raise ConfigurationError(
            f"{CATALOG_VARIABLE}={configured!r}: no such file; give the path of a connections "
            "catalog, the catalog itself as YAML/JSON, or unset it"
        )
    if not path.exists():
        return None
    try:
        return str(path), path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"the connections catalog {path} cannot be read: {exc}") from None


def _entries(source: Source, problems: list[Problem]) -> tuple[list[Any], PathKey]:
    data = source.data
    if data is None:
        return [], ()
    if isinstance(data, Mapping):
        unknown = [key for key in data if key != "connections"]
        for key in unknown:
            problems.append(source.problem((key,), f"unknown key `{key}`", "connections"))
        data = data.get("connections") or []
        base: PathKey = ("connections",)
    else:
        base = ()
    if not isinstance(data, list):
        message = "the catalog must be a list of connections"
        problems.append(source.problem(base, message, "a YAML list of connections"))
        return [], base
    return data, base


def _connection(
    source: Source, entry: Any, path: PathKey, problems: list[Problem]
) -> ConnectionEntity | None:
    if not isinstance(entry, Mapping):
        problems.append(source.problem(path, "a connection is a mapping", "name, kind, schema, secret, ..."))
        return None
    before = len(problems)

    def problem(field: PathKey, message: str, valid: str | None) -> None:
        problems.append(source.problem((*path, *field), message, valid))

    for key in entry:
        if key not in _CONNECTION_FIELDS:
            problem((key,), f"unknown field `{key}`", one_of(key, _CONNECTION_FIELDS))
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        message = "a connection needs a `name`" if name is None else f"invalid name {name!r}"
        problem(("name",), message, _NAME_HELP)
    kind = entry.get("kind")
    if kind not in ALL_KINDS:
        problem(
            ("kind",),
            "a connection needs a `kind`" if kind is None else f"unknown kind {kind!r}",
            one_of(kind, ALL_KINDS),
        )
    schema = entry.get("schema")
    if schema is not None and not isinstance(schema, Mapping):
        problem(("schema",), "`schema` is a mapping of the kind's fields",
                "e.g. schema: {bucket: s3://my-bucket}")
        schema = None
    schema = dict(schema or {})
    if isinstance(kind, str) and kind in SCHEMA_FIELDS:
        _check_schema(kind, schema, SCHEMA_FIELDS[kind], problem)
    secret = _resource(entry.get("secret"), "secret", problem)
    config_map = _resource(entry.get("configMap"), "configMap", problem)
    if kind in NOTIFIER_KINDS and "url" not in schema and entry.get("secret") is None:
        problem(
            ("schema",),
            f"a `{kind}` connection needs its URL",
            "a `secret` holding it (recommended: the URL is a credential) or `schema.url`",
        )
    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        problem(("description",), "`description` is a text", "a string")
    tags = _texts(entry.get("tags"), ("tags",), problem)
    env = _text_mapping(entry.get("env"), ("env",), problem)
    annotations = _text_mapping(entry.get("annotations"), ("annotations",), problem)
    if len(problems) > before or not isinstance(name, str) or not isinstance(kind, str):
        return None
    return ConnectionEntity(
        name=name, kind=kind, schema=schema, secret=secret, config_map=config_map,
        description=description, tags=tags, env=env, annotations=annotations,
    )


def _check_schema(
    kind: str, schema: dict[str, Any], fields: Mapping[str, SchemaField], problem: Report
) -> None:
    for key, value in schema.items():
        rule = fields.get(key)
        if rule is None:
            problem(("schema", key), f"unknown field `{key}` for a `{kind}` connection", one_of(key, fields))
            continue
        issue = _type_issue(rule.type, value)
        if issue is not None:
            problem(("schema", key), issue[0], issue[1])
    for key, rule in fields.items():
        if rule.required and key not in schema:
            problem(("schema",), f"a `{kind}` connection needs `schema.{key}`", _example(rule.type))


def _type_issue(type_name: str, value: Any) -> tuple[str, str] | None:
    if type_name == "bool":
        return None if isinstance(value, bool) else (f"{value!r} is not true or false", "true or false")
    if type_name == "port":
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
            return None
        return f"{value!r} is not a port number", "a whole number from 1 to 65535, e.g. 587"
    if type_name == "texts":
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return None
        return f"{value!r} is not a list of strings", "e.g. [--depth=1]"
    if not isinstance(value, str) or not value:
        return f"{value!r} is not a non-empty string", _example(type_name)
    if type_name == "absolute_path" and not value.startswith("/"):
        return f"{value!r} is not an absolute path", _example(type_name)
    if type_name == "url" and not re.match(r"^https?://[^\s/]+", value):
        return f"{value!r} is not an http(s) URL", _example(type_name)
    return None


def _example(type_name: str) -> str:
    return {
        "absolute_path": "an absolute path, e.g. /data",
        "url": "an http(s) URL, e.g. https://hooks.example.org/...",
        "bool": "true or false",
        "texts": "a list of strings",
    }.get(type_name, "a non-empty string")


def _resource(value: Any, key: str, problem: Report) -> ResourceReference | None:
    if value is None:
        return None
    if isinstance(value, str):
        problem((key,), f"`{key}` is a mapping", f"{key}: {{name: {value}}}")
        return None
    if not isinstance(value, Mapping):
        problem((key,), f"`{key}` is a mapping", f"{key}: {{name: NAME, items: [KEY, ...]}}")
        return None
    for field in value:
        if field not in _RESOURCE_FIELDS:
            problem((key, field), f"unknown field `{field}`", one_of(field, _RESOURCE_FIELDS))
    name = value.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        message = f"`{key}` needs a `name`" if name is None else f"invalid name {name!r}"
        problem((key, "name"), message, _NAME_HELP)
    items = _texts(value.get("items"), (key, "items"), problem)
    mount_path = value.get("mountPath")
    if mount_path is not None and (not isinstance(mount_path, str) or not mount_path.startswith("/")):
        message = f"{mount_path!r} is not an absolute path"
        problem((key, "mountPath"), message, "an absolute path, e.g. /etc/secret")
    if not isinstance(name, str):
        return None
    return ResourceReference(name=name, items=items, mount_path=mount_path)


def _texts(value: Any, path: PathKey, problem: Report) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problem(path, f"{value!r} is not a list of strings", "e.g. [a, b]")
        return ()
    return tuple(value)


def _text_mapping(value: Any, path: PathKey, problem: Report) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(item, str) for item in value.values()):
        problem(path, "must map names to strings", "e.g. {KEY: value}")
        return {}
    return dict(value)
