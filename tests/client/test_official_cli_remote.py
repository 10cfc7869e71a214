"""Scripts written for the official `polyaxon` client work against a `polyaxon server`:
the ``on_server`` rows of ``tests/cli/official_invocations.py``, and the official client's
login options."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyaxon_core.cli import cli
from tests.cli.official_invocations import INVOCATIONS, Invocation
from tests.cli.test_official_cli import COMPONENT, Result
from tests.client.conftest import PASSWORD, Deployment

FINAL = {"succeeded", "failed", "stopped", "skipped", "upstream_failed", "done"}


@pytest.fixture(scope="module")
def queueing_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A server whose runs stay queued (no orchestrator), with an owner `ada`."""
    setup = Deployment(tmp_path_factory.mktemp("official"), None,
                       server_env={"POLYAXON_ORCHESTRATOR": "external"})
    setup.create_user("ada", "owner")
    setup.server.start()
    yield setup
    setup.stop()


class RemoteWorld:
    """The server emptied, then projects `mnist` (one queued run, `seed`) and `cats`; the
    CLI invoked in this process with POLYAXON_HOST and POLYAXON_AUTH_TOKEN."""

    def __init__(self, folder: Path) -> None:
        self.file = folder / "polyaxonfile.yaml"
        self.file.write_text(COMPONENT)
        self.preset = folder / "gpu.yaml"
        self.preset.write_text("queue: gpu\n")
        self._empty_the_server()
        for name in ("mnist", "cats"):
            assert self.polyaxon("project", "create", name).code == 0
        created = self.polyaxon("run", "-f", str(self.file), "-p", "mnist", "--name", "seed",
                                "-o", "json")
        assert created.code == 0, created.stderr
        self.uuid = str(json.loads(created.stdout)["uuid"])

    def _empty_the_server(self) -> None:
        projects = json.loads(self.polyaxon("project", "ls", "-o", "json").stdout)["results"]
        for project in projects:
            listing = self.polyaxon("ops", "ls", "-p", project["name"], "-l", "1000",
                                    "-o", "json")
            assert listing.code == 0, listing.stderr
            for row in json.loads(listing.stdout)["results"]:
                if row["status"] not in FINAL:
                    self.polyaxon("ops", "stop", row["uuid"], "-p", project["name"], "-y")
            deleted = self.polyaxon("project", "delete", project["name"], "-y")
            assert deleted.code == 0, deleted.stderr

    def polyaxon(self, *args: str) -> Result:
        outcome = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return Result(outcome.exit_code, outcome.stdout, outcome.stderr)

    def argv(self, template: str) -> list[str]:
        return shlex.split(template.format(uuid=self.uuid, file=self.file, preset=self.preset))


@pytest.fixture
def world(queueing_deployment: Deployment, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> RemoteWorld:
    monkeypatch.setenv("POLYAXON_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("POLYAXON_HOST", queueing_deployment.url)
    monkeypatch.setenv("POLYAXON_AUTH_TOKEN", queueing_deployment.token("ada"))
    monkeypatch.delenv("POLYAXON_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    return RemoteWorld(tmp_path)


@pytest.mark.parametrize("invocation", [row for row in INVOCATIONS if row.on_server],
                         ids=lambda row: row.official)
def test_official_invocation_does_the_same_on_a_server(invocation: Invocation,
                                                       world: RemoteWorld) -> None:
    for command in invocation.before:
        prepared = world.polyaxon(*world.argv(command))
        assert prepared.code == 0, prepared.stderr
    invocation.check(world, world.polyaxon(*world.argv(invocation.official)))


def test_login_with_the_official_password_option(queueing_deployment: Deployment) -> None:
    queueing_deployment.cli("login", "--host", queueing_deployment.url, "-u", "ada",
                            "-p", PASSWORD)
    assert queueing_deployment.cli("whoami").stdout.startswith("ada (owner)")


def test_login_with_an_existing_token(queueing_deployment: Deployment) -> None:
    token = queueing_deployment.token("ada")
    queueing_deployment.cli("login", "--host", queueing_deployment.url, "-t", token)
    saved = json.loads((queueing_deployment.client_home / "auth.json").read_text())
    assert saved["token"] == token and saved["username"] == "ada"
    assert queueing_deployment.cli("whoami").stdout.startswith("ada (owner)")


def test_login_with_an_unknown_token_is_refused(queueing_deployment: Deployment) -> None:
    refused = queueing_deployment.cli("login", "--host", queueing_deployment.url,
                                      "--token", "not-a-token", check=False)
    assert refused.returncode == 1 and "refused the token" in refused.stderr
