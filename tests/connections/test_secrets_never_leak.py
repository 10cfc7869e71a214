"""End to end: a server whose runs name connections with secrets hands each run the
secrets of the connections it names, and never writes or answers a secret's value — not
in the database, a run's folder, its launch record, its logs, or an API answer."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import Deployment

ENV_SECRET = "AKIA-env-secret-9f3b1c"
FOLDER_SECRET = "https://hooks.example.org/folder-secret-51d2e7"
CATALOG = """
connections:
  - name: datasets
    kind: s3
    schema: {bucket: "s3://datasets"}
    secret: {name: aws, items: [AWS_SECRET_ACCESS_KEY]}
  - name: alerts
    kind: slack
    secret: {name: slack-webhook}
"""


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """A server with a catalog, one secret in its environment and one in its secrets folder."""
    setup = Deployment(tmp_path, None, server_env={"POLYAXON_SECRET_AWS__AWS_SECRET_ACCESS_KEY": ENV_SECRET})
    (setup.server_home / "connections.yaml").write_text(textwrap.dedent(CATALOG))
    folder = setup.server_home / "secrets" / "slack-webhook"
    folder.mkdir(parents=True)
    folder.parent.chmod(0o700)
    folder.chmod(0o700)
    (folder / "url").write_text(FOLDER_SECRET)
    (folder / "url").chmod(0o600)
    setup.create_user("ada", "owner")
    setup.server.start()
    setup.login("ada")
    yield setup
    setup.stop()


def polyaxonfile(folder: Path) -> Path:
    # the run's whole environment, each value as its hash: what reached the run is
    # shown without the run itself writing a secret into its log
    dump_environment = ("import hashlib, json, os; print('environment:', json.dumps({name: "
                        "hashlib.sha256(value.encode()).hexdigest() for name, value in "
                        "os.environ.items()}))")
    path = folder / "polyaxonfile.yaml"
    path.write_text(textwrap.dedent(f"""
        version: 1.1
        kind: operation
        name: uses-connections
        component:
          run:
            kind: job
            connections: [datasets, alerts]
            container:
              image: python
              command: [{sys.executable}, -c, "{dump_environment}"]
    """).lstrip("\n"))
    return path


def wait_until_final(deployment: Deployment, project: str, uuid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        shown = deployment.cli("ops", "get", uuid, "-p", project, "-o", "json")
        run: dict[str, Any] = json.loads(shown.stdout)
        if run["status"] in {"succeeded", "failed", "stopped"}:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {uuid} stayed {run['status']}")
        time.sleep(0.2)  # polling the run's status, bounded by the deadline


def files_holding(root: Path, *values: str, skip: Path | None = None) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or (skip is not None and path.is_relative_to(skip)):
            continue
        content = path.read_bytes()
        found += [f"{path}: {value}" for value in values if value.encode() in content]
    return found


def api(deployment: Deployment, path: str) -> str:
    request = urllib.request.Request(deployment.url + path,
                                     headers={"Authorization": f"Token {deployment.token('ada')}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return str(answer.read().decode())


def test_no_secret_value_is_stored_logged_or_answered(deployment: Deployment, tmp_path: Path) -> None:
    checked = deployment.admin("connections", "check")
    assert "every secret resolved" in checked.stdout
    deployment.cli("project", "create", "secrets")

    submitted = json.loads(deployment.cli("run", "-f", str(polyaxonfile(tmp_path)), "-p", "secrets",
                                          "-o", "json").stdout)
    uuid = submitted["uuid"]
    run = wait_until_final(deployment, "secrets", uuid)

    assert run["status"] == "succeeded", run
    logs = deployment.cli("ops", "logs", uuid, "-p", "secrets").stdout
    # The run printed its whole environment, hashed: the connections it names reached
    # it (each secret's listed keys, as variables), and nothing else holds their values.

    def hashed(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    assert f'"POLYAXON_RUN_UUID": "{hashed(uuid)}"' in logs
    assert f'"AWS_SECRET_ACCESS_KEY": "{hashed(ENV_SECRET)}"' in logs
    assert f'"url": "{hashed(FOLDER_SECRET)}"' in logs
    assert "POLYAXON_SECRET_" not in logs  # not the variables the server read them from
    answers = [
        checked.stdout, json.dumps(submitted), logs,
        deployment.admin("connections", "ls", "-o", "json").stdout,
        deployment.cli("ops", "get", uuid, "-p", "secrets", "-o", "json").stdout,
        deployment.cli("ops", "statuses", uuid, "-p", "secrets", "-o", "json").stdout,
        api(deployment, f"/api/v1/default/secrets/runs/{uuid}"),
        api(deployment, "/api/v1/default/secrets/runs"),
        api(deployment, f"/api/v1/default/secrets/runs/{uuid}/statuses"),
        api(deployment, f"/api/v1/default/secrets/runs/{uuid}/logs"),
    ]
    assert not [answer for answer in answers if ENV_SECRET in answer or FOLDER_SECRET in answer]
    # Every file of the server's home (database, run folders, launch records, logs), except
    # the secrets folder the value was given in.
    secrets_folder = deployment.server_home / "secrets"
    assert (deployment.server_home / "polyaxon.db").is_file()
    assert list((deployment.server_home / "runs").rglob("*"))
    assert files_holding(deployment.server_home, ENV_SECRET, FOLDER_SECRET, skip=secrets_folder) == []
    assert files_holding(deployment.client_home, ENV_SECRET, FOLDER_SECRET) == []


def test_a_server_refuses_a_run_naming_a_connection_it_does_not_have(deployment: Deployment,
                                                                      tmp_path: Path) -> None:
    deployment.cli("project", "create", "refused")
    path = polyaxonfile(tmp_path)
    path.write_text(path.read_text().replace("[datasets, alerts]", "[datasets, archive]"))

    submitted = deployment.cli("run", "-f", str(path), "-p", "refused", check=False)

    assert submitted.returncode == 1
    assert "unknown connection `archive`; valid: known connections: datasets, alerts" in submitted.stderr
    assert json.loads(deployment.cli("ops", "ls", "-p", "refused", "-o", "json").stdout)["count"] == 0
