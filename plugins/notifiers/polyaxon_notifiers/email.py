"""``email``: the notification as a plain-text email over SMTP.

The connection (kind ``email``) gives ``host``, ``port`` (default 25), ``sender``,
``recipients`` and ``starttls`` in its schema, and, when the server wants a login, the
secret's ``username`` and ``password``.
"""

from __future__ import annotations

from typing import ClassVar

from polyaxon_core.entities import Notification
from polyaxon_core.hookspecs import hookimpl
from polyaxon_core.interfaces import Notifier
from polyaxon_notifiers import describe, payload, secret_value


class EmailNotifier(Notifier):
    name = "email"
    kinds: ClassVar[frozenset[str]] = frozenset({"email"})

    def notify(self, notification: Notification) -> None:
        # imported here: the plugin is loaded by every process that lists the plugins
        import smtplib
        from email.message import EmailMessage

        schema = self.connection.schema
        message = EmailMessage()
        message["Subject"] = describe(notification)[:200]
        message["From"] = str(schema["sender"])
        message["To"] = ", ".join(schema["recipients"])
        run = payload(notification)["run"]
        lines = [describe(notification), ""] + [
            f"{key}: {value}" for key, value in run.items() if value not in (None, {}, [])]
        message.set_content("\n".join(lines) + "\n")
        username = secret_value(self.connection, "username")
        try:
            with smtplib.SMTP(str(schema["host"]), int(schema.get("port") or 25),
                              timeout=self.timeout) as server:
                if schema.get("starttls"):
                    server.starttls()
                if username is not None:
                    server.login(username, secret_value(self.connection, "password") or "")
                server.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise RuntimeError(f"the SMTP server {schema['host']} refused or failed: {exc}") from None


@hookimpl
def polyaxon_register_notifiers() -> list[type[Notifier]]:
    return [EmailNotifier]
