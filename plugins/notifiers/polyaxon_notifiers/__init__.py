"""Notifiers for polyaxon-core, each a plugin of its own: ``webhook`` (a JSON POST signed
with HMAC-SHA256), ``slack`` (Slack's incoming-webhook format) and ``email`` (SMTP).

They deliver through a connection of the catalog; the orchestrator calls them off the
runs' path and retries them (see :mod:`polyaxon_core.domain.notifications`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from polyaxon_core.connections import ConnectionEntity, resolve_secret
from polyaxon_core.entities import Notification


def describe(notification: Notification) -> str:
    """One line a person reads: which run ended how, where, and its last message."""
    run = notification.run
    line = (f"Run {run.name or run.uuid[:12]} ({run.uuid[:12]}) of {run.owner}/{run.project} "
            f"is {run.status}")
    return f"{line}: {notification.message}" if notification.message else line


def payload(notification: Notification) -> dict[str, Any]:
    """The notification as JSON data (no secret, no log: what the run's API shows)."""
    run = notification.run
    return {
        "event": f"run.{notification.trigger}",
        "text": describe(notification),
        "run": {
            "uuid": run.uuid, "name": run.name, "owner": run.owner, "project": run.project,
            "kind": run.kind, "status": run.status, "message": notification.message,
            "inputs": dict(run.inputs), "outputs": dict(run.outputs), "tags": list(run.tags),
            "pipeline": run.pipeline,
            "created_at": run.created_at.isoformat() if run.created_at else None,
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        },
    }


def secret_value(connection: ConnectionEntity, key: str) -> str | None:
    """The connection's secret's ``key``, whatever its case (a variable's ``URL``, a
    file's ``url``); None when the secret has no such key."""
    for name, value in resolve_secret(connection).items():
        if name.lower() == key:
            return value.reveal()
    return None


def webhook_url(connection: ConnectionEntity) -> str:
    """The connection's URL: its secret's ``url`` (a Slack URL is a credential), else its
    schema's."""
    secret = secret_value(connection, "url")
    if secret is not None:
        return secret
    url = connection.schema.get("url")
    if not url:
        raise ValueError(f"connection {connection.name!r} has no url (in its schema or its secret)")
    return str(url)


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
    """POST ``body``; raises with the status and the start of the answer unless it is 2xx."""
    # imported here: the plugin is loaded by every process that lists the plugins
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - http(s) only
            answer.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode(errors="replace").strip()
        raise RuntimeError(f"the receiver answered {exc.code} {exc.reason}"
                           + (f": {detail}" if detail else "")) from None
    except urllib.error.URLError as exc:
        raise RuntimeError(f"the receiver cannot be reached: {exc.reason}") from None
    except TimeoutError:
        raise RuntimeError(f"the receiver did not answer within {timeout:g}s") from None


def encode(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, default=str).encode()
