"""Scripts written for the official `polyaxon` client work with ours: each invocation of
``official_invocations.INVOCATIONS`` runs against a fresh local home and does what it does
for the official client."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyaxon_core.cli import cli
from tests.cli.official_invocations import INVOCATIONS, Invocation

COMPONENT = f"""\
version: 1.1
kind: component
name: train
inputs:
- {{name: lr, type: float, value: 0.1, isOptional: true}}
- {{name: activation, type: str, value: sigmoid, isOptional: true}}
run:
  kind: job
  container:
    command: [{sys.executable}, -c, "print('trained')"]
"""


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


class LocalWorld:
    """A local home with projects `mnist` (one queued run, `seed`) and `cats` (empty), and
    the CLI invoked in this process, as `polyaxon` would with these arguments."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file = folder / "polyaxonfile.yaml"
        self.file.write_text(COMPONENT)
        self.preset = folder / "gpu.yaml"
        self.preset.write_text("queue: gpu\n")
        for name in ("mnist", "cats"):
            assert self.polyaxon("project", "create", name).code == 0
        created = self.polyaxon("run", "-f", str(self.file), "-p", "mnist", "--name", "seed",
                                "-o", "json")
        assert created.code == 0, created.stderr
        self.uuid = str(json.loads(created.stdout)["uuid"])

    def polyaxon(self, *args: str) -> Result:
        outcome = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return Result(outcome.exit_code, outcome.stdout, outcome.stderr)

    def argv(self, template: str) -> list[str]:
        return shlex.split(template.format(uuid=self.uuid, file=self.file, preset=self.preset))


@pytest.fixture
def world(polyaxon_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalWorld:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("POLYAXON_PROJECT", "POLYAXON_HOST", "POLYAXON_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "external")
    return LocalWorld(folder)


@pytest.mark.parametrize("invocation", INVOCATIONS, ids=lambda row: row.official)
def test_official_invocation_does_the_same_here(
    invocation: Invocation, world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    for command in invocation.before:
        prepared = world.polyaxon(*world.argv(command))
        assert prepared.code == 0, prepared.stderr
    if invocation.runs:
        monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "auto")
        monkeypatch.setenv("POLYAXON_IDLE_EXIT", "2")
        # the seed run would be run too: stop it so that only this invocation's run goes
        assert world.polyaxon("ops", "stop", world.uuid, "-y").code == 0
    outcome = world.polyaxon(*world.argv(invocation.official))
    invocation.check(world, outcome)


def test_the_table_covers_each_command_it_names() -> None:
    commands = {" ".join(shlex.split(row.official)[:2]) for row in INVOCATIONS}
    expected = {"project create", "project ls", "project get", "project update",
                "project delete", "ops ls", "ops get", "ops statuses", "ops logs", "ops stop",
                "ops restart", "ops resume", "ops delete", "ops update"}
    assert expected <= commands
    assert {"run", "init", "check"} <= {shlex.split(row.official)[0] for row in INVOCATIONS}


def test_watching_statuses_follows_a_run_to_success(
    world: LocalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.polyaxon("ops", "stop", world.uuid, "-y").code == 0
    monkeypatch.setenv("POLYAXON_ORCHESTRATOR", "auto")
    monkeypatch.setenv("POLYAXON_IDLE_EXIT", "2")
    created = world.polyaxon("run", "-f", str(world.file), "-p", "mnist", "-o", "json")
    uuid = json.loads(created.stdout)["uuid"]
    watched = world.polyaxon("ops", "statuses", "-p", "mnist", "-uid", uuid, "--watch")
    assert watched.code == 0, watched.stderr
    statuses = [line.split()[2] for line in watched.stdout.splitlines()]
    assert statuses[-1] == "succeeded" and "running" in statuses
    assert statuses.index("queued") < statuses.index("running")
