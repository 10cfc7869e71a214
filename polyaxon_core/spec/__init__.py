"""The polyaxonfile (Polyaxon v1.1 format): read, validate, template.

``read_polyaxonfile`` reads a file the user wrote, ``parse_operation`` reads an operation
stored as JSON (what :meth:`OperationSpec.to_dict` produced). Both return an
:class:`OperationSpec` or raise one :class:`PolyaxonfileError` listing every problem,
each with its file, line, field path and what would have been valid.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyaxon_core.spec.errors import PolyaxonfileError, Problem

if TYPE_CHECKING:
    from polyaxon_core.hub import Resolved
    from polyaxon_core.spec.matrix import search_space_size
    from polyaxon_core.spec.models import ComponentSpec, IOSpec, OperationSpec, TerminationSpec
    from polyaxon_core.spec.support import unsupported_features

#: names this package offers from its modules, imported on first use: a module that only
#: needs the errors (the connections catalog, a run's runner) does not pay for the compiler
_LAZY = {
    "ComponentSpec": "polyaxon_core.spec.models",
    "IOSpec": "polyaxon_core.spec.models",
    "OperationSpec": "polyaxon_core.spec.models",
    "TerminationSpec": "polyaxon_core.spec.models",
    "search_space_size": "polyaxon_core.spec.matrix",
    "unsupported_features": "polyaxon_core.spec.support",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ComponentSpec",
    "IOSpec",
    "OperationSpec",
    "PolyaxonfileError",
    "Problem",
    "TerminationSpec",
    "client_hub",
    "parse_operation",
    "read_hub_component",
    "read_polyaxonfile",
    "search_space_size",
    "unsupported_features",
]


def read_polyaxonfile(
    path: str | Path,
    params: Mapping[str, str] | None = None,
    *,
    presets: Sequence[str | Path] = (),
) -> OperationSpec:
    """Read and validate the polyaxonfile at ``path``.

    A ``kind: component`` file becomes an operation running that component. ``params``
    are ``-P name=value`` strings, converted according to each input's type. ``pathRef``
    is resolved relative to the file's folder. ``presets`` are further files (the extra
    ``-f`` of the CLI) patched onto the operation in order, each with its own
    ``patchStrategy`` (``post_merge`` by default). This is the client side: a ``urlRef``
    (http or https) is fetched here and its component inlined.
    """
    from polyaxon_core.spec.compiler import compile_source
    from polyaxon_core.spec.loader import read_source

    source = read_source(Path(path))
    preset_sources = tuple(read_source(Path(preset)) for preset in presets)
    return compile_source(source, params, preset_sources, fetch_url_refs=True, hub=client_hub())


def read_hub_component(
    reference: str,
    params: Mapping[str, str] | None = None,
    *,
    presets: Sequence[str | Path] = (),
    operation: Mapping[str, Any] | None = None,
) -> OperationSpec:
    """An operation running the hub component ``reference`` (``owner/name:version``,
    see :mod:`polyaxon_core.hub`), with ``params`` and ``presets`` as for
    :func:`read_polyaxonfile`; ``operation`` adds fields of the operation itself
    (``termination``, ``name``, ...)."""
    from polyaxon_core.spec.compiler import compile_source
    from polyaxon_core.spec.loader import read_source, source_from_data

    source = source_from_data({"version": 1.1, "kind": "operation", **(operation or {}),
                               "hubRef": reference}, f"hub:{reference}")
    preset_sources = tuple(read_source(Path(preset)) for preset in presets)
    return compile_source(source, params, preset_sources, fetch_url_refs=True, hub=client_hub())


def client_hub() -> Callable[[str], Resolved]:
    """Resolves ``hubRef``s through the configured hubs, opened once on first use."""
    opened: list[Any] = []

    def resolve(reference: str) -> Resolved:
        from polyaxon_core import hub

        if not opened:
            opened.append(hub.configured_hubs())
        return hub.resolve(reference, opened[0])

    return resolve


def parse_operation(data: Mapping[str, Any], source: str = "<content>") -> OperationSpec:
    """Validate an operation given as data (e.g. JSON from the database).

    ``source`` names the data in problems. References to files (``pathRef``) cannot be
    resolved without a folder and a ``urlRef`` is never fetched (this is what a server
    reads), so operations given as data carry their component inline, as
    :meth:`OperationSpec.to_dict` writes them.
    """
    from polyaxon_core.spec.compiler import compile_source
    from polyaxon_core.spec.loader import source_from_data

    return compile_source(source_from_data(data, source))
