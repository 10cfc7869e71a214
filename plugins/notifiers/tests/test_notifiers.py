"""Each notifier against a real receiver on 127.0.0.1: an HTTP server for the webhook and
Slack formats, an SMTP server (aiosmtpd) for email."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from polyaxon_notifiers.email import EmailNotifier
from polyaxon_notifiers.slack import SlackNotifier
from polyaxon_notifiers.webhook import WebhookNotifier

from polyaxon_core.entities import ConnectionEntity, Notification, ResourceReference, RunEntity

RUN = RunEntity(uuid="0123456789abcdef0123456789abcdef", project="vision", owner="acme", name="train",
                kind="job", runtime="job", status="failed", outputs={"loss": 0.25},
                created_at=datetime(2030, 1, 1, tzinfo=UTC))
FAILED = Notification(run=RUN, trigger="failed", message="the process exited with code 3")


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"no such channel" if status >= 400 else b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T/B/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAXON_HOME", str(tmp_path))
    monkeypatch.setenv("POLYAXON_SECRET_WEBHOOK_KEY__SIGNING_KEY", "k3y")


def test_the_webhook_posts_the_run_as_json_signed_with_the_secrets_key(
    receiver: Receiver, secrets: None
) -> None:
    connection = ConnectionEntity(name="hook", kind="webhook", schema={"url": receiver.url},
                                  secret=ResourceReference(name="webhook-key"))

    WebhookNotifier(connection, timeout=5).notify(FAILED)

    [(headers, body)] = receiver.requests
    assert headers["x-polyaxon-signature"] == "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    sent = json.loads(body)
    assert sent["event"] == "run.failed"
    assert sent["run"]["uuid"] == RUN.uuid and sent["run"]["outputs"] == {"loss": 0.25}
    assert sent["text"] == ("Run train (0123456789ab) of acme/vision is failed: the process exited "
                            "with code 3")
    assert datetime.fromisoformat(sent["sent_at"]).tzinfo is not None


def test_slack_gets_its_incoming_webhook_format(receiver: Receiver) -> None:
    connection = ConnectionEntity(name="alerts", kind="slack", schema={"url": receiver.url})

    SlackNotifier(connection, timeout=5).notify(FAILED)

    [(_, body)] = receiver.requests
    sent = json.loads(body)
    assert sent["text"].startswith(":x: Run train (0123456789ab) of acme/vision is failed")
    assert sent["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": sent["text"]}}
    assert sent["blocks"][1]["elements"][0]["text"] == "*loss*: 0.25"


def test_a_receiver_that_refuses_is_an_error_naming_its_answer() -> None:
    refusing = Receiver(status=404)
    try:
        connection = ConnectionEntity(name="alerts", kind="slack", schema={"url": refusing.url})
        with pytest.raises(RuntimeError) as raised:
            SlackNotifier(connection, timeout=5).notify(FAILED)
        assert str(raised.value) == "the receiver answered 404 Not Found: no such channel"
    finally:
        refusing.server.shutdown()
        refusing.server.server_close()


def test_email_is_sent_through_a_real_smtp_server() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Recorder(Sink):
        def __init__(self) -> None:
            self.messages: list[Any] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            self.messages.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        connection = ConnectionEntity(name="mail", kind="email", schema={
            "host": "127.0.0.1", "port": port, "sender": "polyaxon@example.org",
            "recipients": ["ada@example.org", "grace@example.org"]})

        EmailNotifier(connection, timeout=5).notify(FAILED)
    finally:
        controller.stop()

    [envelope] = recorder.messages
    assert envelope.rcpt_tos == ["ada@example.org", "grace@example.org"]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == ("Run train (0123456789ab) of acme/vision is failed: the process "
                                  "exited with code 3")
    assert "outputs: {'loss': 0.25}" in message.get_content()
