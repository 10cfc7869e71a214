"""Find the connections an operation names, and check them against the catalog.

An operation names connections in ``run.connections``, ``run.init[].connection``,
``hooks[].connection``, ``build.connection``, ``plugins.notifications[].connections``,
an input's or output's ``connection`` and a param's ``connection`` (and in the same
places of a ``runPatch``, a build's ``runPatch`` and each operation of a DAG). A name
written as a template (``{{ ... }}``) is only known at run time and is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyaxon_core.connections.kinds import NOTIFIER_KINDS
from polyaxon_core.errors import PolyaxonError

if TYPE_CHECKING:
    from polyaxon_core.connections.catalog import Catalog
    from polyaxon_core.spec import OperationSpec, Problem
    from polyaxon_core.spec.loader import PathKey
    from polyaxon_core.spec.models import Located


class InvalidConnectionReference(PolyaxonError):
    """An operation names a connection the catalog does not have (or of the wrong kind)."""

    http_status = 400


class CatalogUnavailable(PolyaxonError):
    """The catalog of this machine is broken, so no operation naming a connection can be accepted."""

    http_status = 503


@dataclass(frozen=True)
class Reference:
    """One place an operation names a connection.

    ``kinds`` are the kinds that place accepts (empty: any); ``needs_url`` is set for a
    git initializer that gives no ``git.url`` and relies on the connection's.
    """

    name: str
    where: Located
    path: PathKey
    kinds: frozenset[str] = frozenset()
    needs_url: bool = False


def references(spec: OperationSpec) -> list[Reference]:
    """Every connection name ``spec`` writes, with where it is written."""
    found: list[Reference] = []
    _operation(spec, found)
    return found


def reference_problems(spec: OperationSpec, catalog: Catalog) -> list[Problem]:
    """What is wrong with the connections ``spec`` names, for ``catalog``."""
    problems = []
    for reference in references(spec):
        if reference.name not in catalog.names:
            problems.append(reference.where.problem(
                reference.path, f"unknown connection `{reference.name}`", catalog.how_to_add(reference.name)
            ))
            continue
        connection = catalog.get(reference.name)
        if reference.kinds and connection.kind not in reference.kinds:
            problems.append(reference.where.problem(
                reference.path,
                f"connection `{reference.name}` is a `{connection.kind}` connection",
                "a connection of kind " + " or ".join(f"`{kind}`" for kind in sorted(reference.kinds)),
            ))
        elif reference.needs_url and not connection.schema.get("url"):
            problems.append(reference.where.problem(
                reference.path,
                f"connection `{reference.name}` has no `schema.url` and this initializer gives no `git.url`",
                "a `git.url` here, or `schema.url` in the connection",
            ))
    return problems


def check_problems(spec: OperationSpec) -> list[Problem]:
    """For ``polyaxon check``: the reference problems when this machine has a catalog.

    Without a catalog the names are left unchecked, as the official client leaves them:
    the file may be meant for another deployment. A broken catalog is reported as such
    only when the operation names a connection.
    """
    from polyaxon_core.connections.catalog import load_catalog

    if not references(spec):
        return []
    catalog = load_catalog()
    if catalog.source is None:
        return []
    return reference_problems(spec, catalog)


def check_summary(spec: OperationSpec) -> dict[str, Any] | None:
    """For the summary of ``polyaxon check``: the names ``spec`` uses, in order, and the
    catalog they were checked against (None: no catalog here, so not checked)."""
    from polyaxon_core.connections.catalog import load_catalog

    names = list(dict.fromkeys(reference.name for reference in references(spec)))
    if not names:
        return None
    return {"names": names, "catalog": load_catalog().source}


def require_known_connections(spec: OperationSpec) -> None:
    """For submission: refuse ``spec`` if a connection it names is not in this machine's catalog.

    Unlike ``polyaxon check``, a missing catalog refuses any named connection: the run
    would start without what it asked for.
    """
    from polyaxon_core.config import ConfigurationError
    from polyaxon_core.connections.catalog import CatalogError, load_catalog

    if not references(spec):
        return
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        raise CatalogUnavailable(
            f"the connections catalog here is not valid, so operations naming connections are "
            f"refused until it is fixed ({len(exc.problems)} problem(s); run `polyaxon connections check` "
            "where it is configured)"
        ) from None
    except ConfigurationError as exc:
        raise CatalogUnavailable(f"the connections catalog cannot be read: {exc}") from None
    problems = reference_problems(spec, catalog)
    if problems:
        raise InvalidConnectionReference("; ".join(map(str, problems)))


# -- walking the operation ------------------------------------------------------------


def _operation(spec: OperationSpec, found: list[Reference]) -> None:
    operation = spec.to_dict()
    where = spec.where
    for name, param in _mapping(operation.get("params")).items():
        if isinstance(param, Mapping):
            _name(param.get("connection"), where, ("params", name, "connection"), found)
    _sections(operation, (), where, found)
    _run(operation.get("runPatch"), ("runPatch",), where, found)
    component = spec.component.to_dict()
    component_where = spec.component.where
    _sections(component, (), component_where, found)
    for section in ("inputs", "outputs"):
        for index, io in enumerate(_list(component.get(section))):
            if isinstance(io, Mapping):
                _name(io.get("connection"), component_where, (section, index, "connection"), found)
    _run(component.get("run"), ("run",), component_where, found)
    for child in spec.dag_operations:
        _operation(child, found)


def _sections(data: Mapping[str, Any], path: PathKey, where: Located, found: list[Reference]) -> None:
    for index, hook in enumerate(_list(data.get("hooks"))):
        if isinstance(hook, Mapping):
            _name(hook.get("connection"), where, (*path, "hooks", index, "connection"), found)
    build = _mapping(data.get("build"))
    registry = frozenset({"registry"})
    _name(build.get("connection"), where, (*path, "build", "connection"), found, kinds=registry)
    _run(build.get("runPatch"), (*path, "build", "runPatch"), where, found)
    notifications = _list(_mapping(data.get("plugins")).get("notifications"))
    for index, notification in enumerate(notifications):
        if not isinstance(notification, Mapping):
            continue
        for position, name in enumerate(_list(notification.get("connections"))):
            item = (*path, "plugins", "notifications", index, "connections", position)
            _name(name, where, item, found, kinds=NOTIFIER_KINDS | {"email"})


def _run(run: Any, path: PathKey, where: Located, found: list[Reference]) -> None:
    run = _mapping(run)
    for index, name in enumerate(_list(run.get("connections"))):
        _name(name, where, (*path, "connections", index), found)
    for index, init in enumerate(_list(run.get("init"))):
        if not isinstance(init, Mapping):
            continue
        git = init.get("git")
        is_git = isinstance(git, Mapping)
        _name(
            init.get("connection"), where, (*path, "init", index, "connection"), found,
            kinds=frozenset({"git"}) if is_git else frozenset(),
            needs_url=isinstance(git, Mapping) and not git.get("url"),
        )


def _name(
    value: Any, where: Located, path: PathKey, found: list[Reference],
    kinds: frozenset[str] = frozenset(), needs_url: bool = False,
) -> None:
    from polyaxon_core.spec.types import is_template

    if isinstance(value, str) and value and not is_template(value):
        found.append(Reference(value, where, path, kinds, needs_url))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
