"""Hooks and notifications through the `polyaxon` executable: a real local HTTP receiver
gets the signed webhook, one that fails twice then recovers gets exactly one delivery, one
that hangs never holds a run back, and what the hooks owe shows in `ops get`."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from polyaxon_core.domain.notifications import owed

from .conftest import FILES, Cli, run_state, wait_final, wait_for

STEP = FILES / "dag" / "step.yaml"
SIGNING_KEY = "a shared secret"


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST, failing the first ``failures``
    with a 500, or holding every answer until the test ends (``hang``)."""

    def __init__(self, failures: int = 0, hang: bool = False) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failures, self.hang = failures, hang
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.hang:
                    receiver.release.wait(60)
                failing = len(receiver.requests) <= receiver.failures
                self.send_response(500 if failing else 204)
                self.end_headers()
                if failing:
                    self.wfile.write(b"down for maintenance")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


def catalog(home: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "connections.yaml").write_text(json.dumps({"connections": [
        {"name": "team-hook", "kind": "webhook", "schema": {"url": receiver.url},
         "secret": {"name": "hook-key"}}]}))
    monkeypatch.setenv("POLYAXON_SECRET_HOOK_KEY__SIGNING_KEY", SIGNING_KEY)
    monkeypatch.setenv("POLYAXON_NOTIFY_BACKOFF", "0.2")
    monkeypatch.setenv("POLYAXON_NOTIFY_TIMEOUT", "1")


def hooked(tmp_path: Path, trigger: str = "succeeded", extra: str = "") -> Path:
    path = tmp_path / "hooked.yaml"
    path.write_text(f"""
version: 1.1
kind: operation
pathRef: {STEP}
params: {{v: 41}}
hooks:
- {{hubRef: webhook, connection: team-hook, trigger: {trigger}}}
{extra}
""")
    (tmp_path / "step.py").write_text((STEP.parent / "step.py").read_text())
    return path


def submit(cli: Cli, path: Path) -> str:
    return str(json.loads(cli("run", "-f", str(path), "-o", "json").stdout)["uuid"])


def notifications(cli: Cli, uuid: str) -> list[dict[str, Any]]:
    return list(json.loads(cli("ops", "get", uuid, "-o", "json").stdout)["notifications"])


def test_a_receiver_that_fails_twice_then_recovers_gets_exactly_one_signed_delivery(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    receiver = Receiver(failures=2)
    receivers.append(receiver)
    catalog(home, receiver, monkeypatch)

    uuid = submit(cli, hooked(tmp_path))
    assert wait_final(uuid)["status"] == "succeeded"
    wait_for(uuid, lambda _: notifications(cli, uuid)[0]["status"] != "pending")

    [delivery] = notifications(cli, uuid)
    assert {key: delivery[key] for key in ("source", "connection", "trigger", "status", "attempts",
                                           "last_error")} == {
        "source": "hooks[0]", "connection": "team-hook", "trigger": "succeeded",
        "status": "succeeded", "attempts": 3, "last_error": None}
    assert len(receiver.requests) == 3
    headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(SIGNING_KEY.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-polyaxon-signature"] == expected
    sent = json.loads(body)
    assert (sent["event"], sent["run"]["uuid"], sent["run"]["status"], sent["run"]["outputs"]) == (
        "run.succeeded", uuid, "succeeded", {"out": 42})
    assert SIGNING_KEY not in cli("ops", "get", uuid).stdout


def test_a_hanging_receiver_never_holds_back_a_run_and_its_failures_show(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    receiver = Receiver(hang=True)
    receivers.append(receiver)
    catalog(home, receiver, monkeypatch)
    monkeypatch.setenv("POLYAXON_NOTIFY_ATTEMPTS", "2")

    uuid = submit(cli, hooked(tmp_path))
    assert wait_final(uuid)["status"] == "succeeded"
    after = json.loads(cli("run", "-f", str(STEP), "-P", "v=1", "-o", "json").stdout)["uuid"]
    assert wait_final(after)["status"] == "succeeded"

    wait_for(uuid, lambda _: notifications(cli, uuid)[0]["status"] == "failed", timeout=60)
    [delivery] = notifications(cli, uuid)
    assert delivery["attempts"] == 2
    assert delivery["last_error"] == "the receiver did not answer within 1s"
    shown = cli("ops", "get", uuid).stdout
    assert "Notifications" in shown and "did not answer within 1s" in shown


def test_a_hook_whose_trigger_did_not_happen_owes_nothing(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    receiver = Receiver()
    receivers.append(receiver)
    catalog(home, receiver, monkeypatch)

    uuid = submit(cli, hooked(tmp_path, trigger="failed"))

    assert wait_final(uuid)["status"] == "succeeded"
    assert notifications(cli, uuid) == []
    assert run_state(uuid)["status"] == "succeeded" and receiver.requests == []


def test_a_hook_naming_no_notifier_is_refused_and_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    path = hooked(tmp_path)
    path.write_text(path.read_text().replace("hubRef: webhook", "hubRef: pagerduty-escalation"))

    result = cli("run", "-f", str(path), check=False)

    assert result.returncode == 1
    assert ("hooks[0].hubRef `pagerduty-escalation` names no installed notifier (installed: "
            "email, slack, webhook)") in result.stderr
    assert json.loads(cli("ops", "ls", "-o", "json").stdout)["count"] == 0


@pytest.mark.parametrize(("status", "expected"), [
    ("succeeded", ["hooks[0]", "hooks[2]", "plugins.notifications[0]"]),
    ("failed", ["hooks[1]", "hooks[2]", "plugins.notifications[0]"]),
])
def test_what_a_run_owes_follows_each_hooks_trigger_and_conditions(status: str, expected: list[str]) -> None:
    content = {
        "hooks": [{"hubRef": "slack", "connection": "a", "trigger": "succeeded"},
                  {"hubRef": "slack", "connection": "a", "trigger": "failed"},
                  {"hubRef": "webhook", "connection": "b", "trigger": "done",
                   "conditions": "{{ loss < 0.5 }}"},
                  {"hubRef": "webhook", "connection": "b", "conditions": "{{ loss > 0.5 }}"}],
        "plugins": {"notifications": [{"connections": ["c"], "trigger": "done"}]},
    }

    assert [row["source"] for row in owed(content, status, {"loss": 0.1})] == expected


def test_a_projects_notifications_reach_every_run_of_it(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receivers: list[Receiver]
) -> None:
    receiver = Receiver()
    receivers.append(receiver)
    catalog(home, receiver, monkeypatch)
    settings = json.loads(cli("project", "update", "tests", "--notify", "team-hook:succeeded",
                              "-o", "json").stdout)["settings"]
    assert settings["notifications"] == [{"connection": "team-hook", "trigger": "succeeded"}]

    uuid = json.loads(cli("run", "-f", str(STEP), "-P", "v=2", "-o", "json").stdout)["uuid"]
    assert wait_final(uuid)["status"] == "succeeded"
    wait_for(uuid, lambda _: notifications(cli, uuid)[0]["status"] != "pending")

    [delivery] = notifications(cli, uuid)
    assert (delivery["source"], delivery["status"], delivery["attempts"]) == (
        "project.notifications[0]", "succeeded", 1)
    assert json.loads(receiver.requests[0][1])["run"]["uuid"] == uuid


def test_a_project_notification_through_an_unknown_connection_is_refused(cli: Cli, home: Path) -> None:
    (home / "connections.yaml").write_text(json.dumps({"connections": [
        {"name": "bucket", "kind": "s3", "schema": {"bucket": "s3://data"}}]}))

    unknown = cli("project", "update", "tests", "--notify", "nowhere", check=False)
    not_a_notifier = cli("project", "update", "tests", "--notify", "bucket:failed", check=False)

    assert unknown.returncode == 1 and "notifications[0]: " in unknown.stderr
    assert "nowhere" in unknown.stderr
    assert not_a_notifier.returncode == 1
    assert ("notifications[0]: connection 'bucket' is of kind 's3', which no installed notifier "
            "delivers through (email, slack, webhook)") in not_a_notifier.stderr
    project = json.loads(cli("project", "get", "tests", "-o", "json").stdout)
    assert project["settings"]["notifications"] == []
