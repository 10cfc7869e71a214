"""``webhook``: the notification as a JSON POST, signed so the receiver can trust it.

The connection (kind ``webhook``) gives the URL (schema ``url``, or the secret's ``url``)
and, in its secret, a ``signing_key``. Each POST then carries
``X-Polyaxon-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body with that key;
the body holds the moment it was sent (``sent_at``), so a receiver can refuse replays.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import ClassVar

from polyaxon_core.entities import Notification
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Notifier
from polyaxon_notifiers import encode, payload, post_json, secret_value, webhook_url

SIGNATURE_HEADER = "X-Polyaxon-Signature"


def signature(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier(Notifier):
    name = "webhook"
    kinds: ClassVar[frozenset[str]] = frozenset({"webhook"})

    def notify(self, notification: Notification) -> None:
        body = encode({**payload(notification), "sent_at": datetime.now(UTC).isoformat()})
        headers = {"User-Agent": "polyaxon-notifiers"}
        key = secret_value(self.connection, "signing_key")
        if key is not None:
            headers[SIGNATURE_HEADER] = signature(key, body)
        post_json(webhook_url(self.connection), body, headers, self.timeout)


@hookimpl
def polyaxon_register_notifiers() -> list[type[Notifier]]:
    return [WebhookNotifier]
