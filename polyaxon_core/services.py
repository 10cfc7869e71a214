"""Services (``run.kind: service``): the paths they are reached at through the server.

A service is reached at Polyaxon's path, one per declared port::

    /services/v1/{namespace}/{owner}/{project}/runs/{uuid}/{port}/...

or, for a service that cannot serve under a prefix (``rewritePath: true``), at
``/rewrite-services/v1/...``, where the server strips the prefix before passing the
request on. The service gets its path as ``{{ globals.base_url }}`` (and every port's as
``globals.base_urls``) and the ports to listen on as ``globals.ports``: its declared ports
in a pod, free ports of this machine on the local scheduler, where
``{{ globals.bind_address }}`` (``127.0.0.1``) keeps it off the network: the server's
proxy, which lets through only users who may read the run, is the way in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SERVICES_PREFIX = "/services/v1"
REWRITE_SERVICES_PREFIX = "/rewrite-services/v1"


def base_url(namespace: str, owner: str, project: str, uuid: str, port: int,
             rewrite: bool = False) -> str:
    """The path of ``port`` of a service run, without a trailing slash (Polyaxon's
    ``globals.base_url``)."""
    prefix = REWRITE_SERVICES_PREFIX if rewrite else SERVICES_PREFIX
    return f"{prefix}/{namespace}/{owner}/{project}/runs/{uuid}/{port}"


def declared_ports(run_section: Mapping[str, Any]) -> list[int]:
    """The ports a ``run`` section of kind service declares (none: Polyaxon's 80)."""
    return [int(port) for port in run_section.get("ports") or []] or [80]


def service_globals(namespace: str, owner: str, project: str, uuid: str,
                    run_section: Mapping[str, Any], ports: Sequence[int] | None) -> dict[str, Any]:
    """``globals.ports``, ``base_url`` and ``base_urls`` of a service run: ``ports`` are
    where it listens where it is started (None: its declared ports)."""
    declared = declared_ports(run_section)
    rewrite = bool(run_section.get("rewritePath"))
    urls = [base_url(namespace, owner, project, uuid, port, rewrite) for port in declared]
    return {"ports": list(ports) if ports is not None else declared,
            "base_url": urls[0], "base_urls": urls}
