"""Invocations of the official ``polyaxon`` client (2.18), as its command help and
documentation give them, each with what it means there.

``test_official_cli.py`` runs every row against a local home and asserts the effect;
``tests/client/test_official_cli_remote.py`` runs the rows marked ``on_server`` against a
``polyaxon server``. Placeholders: ``{uuid}`` is a queued run of the project ``mnist``
(created as ``seed``), ``{file}`` a component with inputs ``lr`` (float) and
``activation`` (str), ``{preset}`` a preset setting ``queue: gpu``; the project ``cats``
exists and is empty.

The official examples use the owner of their account (``acme/mnist``); a local home and a
server here have one owner, ``default``, so the rows spell it ``default/...``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class Outcome(Protocol):
    code: int
    stdout: str
    stderr: str


class World(Protocol):
    """A home (or a server) with the state the placeholders name, and our CLI on it."""

    uuid: str

    def polyaxon(self, *args: str) -> Outcome: ...


Check = Callable[[World, Outcome], None]


@dataclass(frozen=True)
class Invocation:
    official: str                  # the official invocation, placeholders in braces
    meaning: str                   # what it does for the official client
    check: Check                   # asserts that ours did the same
    before: tuple[str, ...] = ()   # our commands that set the state up first
    on_server: bool = False        # also run against a server
    runs: bool = False             # needs an orchestrator to run what is queued


def as_json(world: World, *args: str) -> Any:
    outcome = world.polyaxon(*args, "-o", "json")
    assert outcome.code == 0, outcome.stderr
    return json.loads(outcome.stdout)


def project(world: World, name: str) -> dict[str, Any]:
    data: dict[str, Any] = as_json(world, "project", "get", name)
    return data


def run(world: World, uuid: str) -> dict[str, Any]:
    data: dict[str, Any] = as_json(world, "ops", "get", uuid, "-p", "mnist")
    return data


def newest_run(world: World) -> dict[str, Any]:
    data: dict[str, Any] = as_json(world, "ops", "ls", "-p", "mnist", "-l", "1")["results"][0]
    return run(world, data["uuid"])


def succeeded(check: Check) -> Check:
    def checked(world: World, outcome: Outcome) -> None:
        assert outcome.code == 0, outcome.stderr
        check(world, outcome)

    return checked


@succeeded
def cats_vs_dogs_created(world: World, outcome: Outcome) -> None:
    assert project(world, "cats-vs-dogs")["description"] == "Image Classification with DL"


@succeeded
def name_created(world: World, outcome: Outcome) -> None:
    assert project(world, "name")["description"] == "Project Description"


@succeeded
def projects_listed(world: World, outcome: Outcome) -> None:
    assert "mnist" in outcome.stdout and "cats" in outcome.stdout


@succeeded
def second_project_listed(world: World, outcome: Outcome) -> None:
    assert "mnist" in outcome.stdout and "cats" not in outcome.stdout


@succeeded
def mnist_shown(world: World, outcome: Outcome) -> None:
    assert "mnist" in outcome.stdout and "default" in outcome.stdout


@succeeded
def mnist_described(world: World, outcome: Outcome) -> None:
    assert project(world, "mnist")["description"] == (
        "Image Classification with DL using TensorFlow")


@succeeded
def mnist_tagged(world: World, outcome: Outcome) -> None:
    assert project(world, "mnist")["tags"] == ["foo", "bar"]


@succeeded
def mnist_renamed(world: World, outcome: Outcome) -> None:
    names = [row["name"] for row in as_json(world, "project", "ls")["results"]]
    assert "digits" in names and "mnist" not in names


@succeeded
def cats_deleted(world: World, outcome: Outcome) -> None:
    names = [row["name"] for row in as_json(world, "project", "ls")["results"]]
    assert names == ["mnist"]


@succeeded
def described_and_tagged_run(world: World, outcome: Outcome) -> None:
    created = newest_run(world)
    assert created["description"] == "Description of the current run"
    assert created["tags"] == ["foo", "bar", "moo"]


@succeeded
def named_run(world: World, outcome: Outcome) -> None:
    assert newest_run(world)["name"] == "foo"


@succeeded
def run_with_params(world: World, outcome: Outcome) -> None:
    assert newest_run(world)["inputs"] == {"lr": 234.2, "activation": "relu"}


@succeeded
def run_with_preset(world: World, outcome: Outcome) -> None:
    assert newest_run(world)["queue"] == "gpu"


@succeeded
def run_in_queue(world: World, outcome: Outcome) -> None:
    assert newest_run(world)["queue"] == "gpu"


@succeeded
def run_followed_to_its_end(world: World, outcome: Outcome) -> None:
    assert "trained" in outcome.stdout
    assert newest_run(world)["status"] == "succeeded"


@succeeded
def seed_listed(world: World, outcome: Outcome) -> None:
    assert world.uuid[:12] in outcome.stdout


@succeeded
def seed_listed_as_json(world: World, outcome: Outcome) -> None:
    listing = json.loads(outcome.stdout)
    assert [row["uuid"] for row in listing["results"]] == [world.uuid]


@succeeded
def nothing_listed(world: World, outcome: Outcome) -> None:
    assert world.uuid[:12] not in outcome.stdout and "0 of 0" in outcome.stdout


@succeeded
def seed_shown(world: World, outcome: Outcome) -> None:
    assert world.uuid in outcome.stdout and "seed" in outcome.stdout


@succeeded
def seed_timeline(world: World, outcome: Outcome) -> None:
    assert world.uuid in outcome.stdout and "queued" in outcome.stdout


def watched_to_stopped(world: World, outcome: Outcome) -> None:
    assert outcome.code == 1, outcome.stderr  # the watch ends with the run, 0 only on success
    assert outcome.stdout.rstrip().splitlines()[-1].split()[2] == "stopped"


@succeeded
def seed_logs_so_far(world: World, outcome: Outcome) -> None:
    assert outcome.stdout == ""


@succeeded
def seed_stopped(world: World, outcome: Outcome) -> None:
    assert run(world, world.uuid)["status"] in {"stopping", "stopped"}


@succeeded
def seed_restarted(world: World, outcome: Outcome) -> None:
    created = newest_run(world)
    assert created["uuid"] != world.uuid and created["cloning_kind"] == "restart"


@succeeded
def seed_copied(world: World, outcome: Outcome) -> None:
    created = newest_run(world)
    assert created["uuid"] != world.uuid and created["cloning_kind"] == "copy"


@succeeded
def seed_resumed(world: World, outcome: Outcome) -> None:
    assert run(world, world.uuid)["status"] not in {"stopping", "stopped"}


@succeeded
def seed_deleted(world: World, outcome: Outcome) -> None:
    assert as_json(world, "ops", "ls", "-p", "mnist")["count"] == 0


@succeeded
def seed_updated(world: World, outcome: Outcome) -> None:
    updated = run(world, world.uuid)
    assert updated["name"] == "unique-name" and updated["tags"] == ["foo", "bar"]


@succeeded
def seed_described(world: World, outcome: Outcome) -> None:
    assert run(world, world.uuid)["description"] == "first try"


@succeeded
def folder_initialised(world: World, outcome: Outcome) -> None:
    listing = as_json(world, "ops", "ls")  # no -p: the folder's default project
    assert [row["uuid"] for row in listing["results"]] == [world.uuid]


@succeeded
def file_valid(world: World, outcome: Outcome) -> None:
    assert "is valid" in outcome.stdout


def refused(message: str) -> Check:
    def check(world: World, outcome: Outcome) -> None:
        assert outcome.code == 1, outcome.stdout + outcome.stderr
        assert message in outcome.stderr
        assert "Traceback" not in outcome.stdout + outcome.stderr

    return check


STOPPED = ("ops stop {uuid} -p mnist -y",)


@succeeded
def seed_archived(world: World, outcome: Outcome) -> None:
    archived = as_json(world, "ops", "ls", "-p", "mnist", "--archived")["results"]
    assert [row["uuid"] for row in archived] == [world.uuid]


@succeeded
def seed_restored(world: World, outcome: Outcome) -> None:
    listed = as_json(world, "ops", "ls", "-p", "mnist")["results"]
    assert [row["uuid"] for row in listed] == [world.uuid]


#: the official invocations, from `polyaxon <command> --help` of polyaxon 2.18
INVOCATIONS: tuple[Invocation, ...] = (
    # projects
    Invocation('project create --name=cats-vs-dogs --description="Image Classification with DL"',
               "create a project", cats_vs_dogs_created, on_server=True),
    Invocation('project create --name=default/name --description="Project Description"',
               "create a project of an owner", name_created, on_server=True),
    Invocation("project create -n cats-vs-dogs --description='Image Classification with DL'",
               "create a project (short option)", cats_vs_dogs_created),
    Invocation("project ls", "list the projects", projects_listed, on_server=True),
    Invocation("projects ls", "list the projects (the group's alias)", projects_listed),
    Invocation("project ls --owner default --limit 1 --offset 1",
               "list a page of an owner's projects", second_project_listed),
    Invocation("project get -p default/mnist", "show a project", mnist_shown, on_server=True),
    Invocation("project get -p mnist", "show a project", mnist_shown),
    Invocation('project update default/mnist --description="Image Classification with DL '
               'using TensorFlow"', "change a project's description", mnist_described),
    Invocation('project update -p mnist --description="Image Classification with DL using '
               'TensorFlow"', "change a project's description", mnist_described,
               on_server=True),
    Invocation('project update -p mnist --tags="foo, bar"', "replace a project's tags",
               mnist_tagged),
    Invocation("project update -p mnist --name=digits", "rename a project", mnist_renamed),
    Invocation("project delete -p default/cats -y", "delete a project without a question",
               cats_deleted, on_server=True),
    # run
    Invocation('run -f {file} -p mnist --description="Description of the current run" '
               '--tags="foo, bar, moo"', "run with a description and tags",
               described_and_tagged_run, on_server=True),
    Invocation("run -f {file} -p mnist --name=foo", "run with a name", named_run),
    Invocation("run -f {file} -p mnist -n foo", "run with a name (short option)", named_run),
    Invocation("run -p default/mnist -f {file} -P lr=234.2 -P activation=relu",
               "run with parameters", run_with_params, on_server=True),
    Invocation("run -p mnist -f {file} --params lr=234.2 --param activation=relu",
               "run with parameters (long options)", run_with_params),
    Invocation("run -f {file} -f {preset} -p mnist", "run a file with an override file",
               run_with_preset),
    Invocation("run -f {file} -p mnist -q gpu", "run in a queue", run_in_queue),
    Invocation("run -f {file} -p mnist -l", "run and stream its logs", run_followed_to_its_end,
               runs=True),
    Invocation("run -f {file} -p mnist --watch", "run and follow it", run_followed_to_its_end,
               runs=True),
    Invocation("run -f {file} -p mnist --queue gpu", "run in a queue", run_in_queue),
    # ops ls
    Invocation("ops ls -p default/mnist", "list a project's runs", seed_listed, on_server=True),
    Invocation('ops ls -p mnist -q "kind: job"', "list the runs of kind job", seed_listed),
    Invocation('ops ls -p mnist -q "status:created|queued, kind: service"',
               "list runs matching a query", nothing_listed),
    Invocation('ops ls -p mnist -s "-updated_at"', "list runs by update date", seed_listed),
    Invocation("ops ls -p mnist --limit 1 --offset 0 -o json", "a page of runs as JSON",
               seed_listed_as_json, on_server=True),
    Invocation("ops ls -p mnist -l 1 -off 0", "a page of runs", seed_listed),
    # ops on one run
    Invocation("ops get --project=mnist -uid {uuid}", "show a run", seed_shown, on_server=True),
    Invocation("ops get -p default/mnist --uid {uuid}", "show a run", seed_shown,
               on_server=True),
    Invocation("ops get -p mnist --uuid {uuid}", "show a run", seed_shown),
    Invocation("ops get -p mnist -id {uuid}", "show a run", seed_shown),
    Invocation("ops statuses -p mnist -uid {uuid}", "a run's status timeline", seed_timeline,
               on_server=True),
    Invocation("ops statuses -p mnist -uid {uuid} -w", "watch a run's statuses to its end",
               watched_to_stopped, before=STOPPED, on_server=True),
    Invocation("ops logs -uid {uuid} -p mnist -nf", "a run's logs so far", seed_logs_so_far,
               on_server=True),
    Invocation("ops logs -p mnist -uid {uuid} --no-follow --hide-time", "a run's logs so far",
               seed_logs_so_far),
    Invocation("ops stop -p mnist --uid {uuid} -y", "stop a run without a question",
               seed_stopped, on_server=True),
    Invocation("ops stop -p mnist --uid {uuid} --yes", "stop a run without a question",
               seed_stopped),
    Invocation("ops restart -p mnist --uid {uuid}", "run again as a new run", seed_restarted,
               on_server=True),
    Invocation("ops restart -p mnist -uid {uuid} -c", "copy a run", seed_copied),
    Invocation("ops restart -p mnist -uid {uuid} --copy", "copy a run", seed_copied),
    Invocation("ops resume -p mnist --uid {uuid}", "run a stopped run again in place",
               seed_resumed, before=STOPPED, on_server=True),
    Invocation("ops delete --project=mnist -uid {uuid} -y", "delete a run without a question",
               seed_deleted, before=STOPPED, on_server=True),
    Invocation('ops update --project=mnist -uid {uuid} --tags="foo, bar" --name="unique-name"',
               "rename and tag a run", seed_updated, on_server=True),
    Invocation('ops update -p mnist --uid {uuid} --description="first try"',
               "describe a run", seed_described),
    # the folder, files, accounts
    Invocation("init -p default/mnist", "make a project this folder's default",
               folder_initialised),
    Invocation("init -p mnist -y", "make a project this folder's default",
               folder_initialised),
    Invocation("check -f {file} --params lr=0.5", "validate a file with parameters",
               file_valid),
    Invocation("check -f {file} -P lr=0.5", "validate a file with parameters", file_valid),
    # what an owner other than the only one gives
    Invocation("project create --name=acme/name", "create a project of another owner",
               refused("unknown owner 'acme'"), on_server=True),
    Invocation("ops ls -p acme/mnist", "list the runs of another owner's project",
               refused("unknown owner 'acme'"), on_server=True),
    Invocation("run -f {file} -p acme/mnist", "run in another owner's project",
               refused("unknown owner 'acme'")),
    # not in the official 2.18 client: our archive/restore in its spellings (-uid, OWNER/NAME)
    Invocation("ops archive -p mnist -uid {uuid}", "archive a run", seed_archived,
               before=STOPPED, on_server=True),
    Invocation("ops restore -p default/mnist --uid {uuid}", "restore an archived run",
               seed_restored, before=(*STOPPED, "ops archive {uuid} -p mnist"),
               on_server=True),
)
