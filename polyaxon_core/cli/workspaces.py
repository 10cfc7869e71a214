"""``polyaxon <workspace> start | ls | url | stop``: one group per workspace service.

Each class a plugin contributes through ``polyaxon_register_services`` gets a group named
after it (``polyaxon notebook``, ``polyaxon tensorboard``). ``start`` runs the service's
hub component as ``polyaxon run --hub`` would, tagged with the workspace's name, waits
until it answers and prints its URL; the other commands find the project's live
workspaces of that name by that tag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from polyaxon_core.cli.common import (
    confirm_or_refuse,
    default_project_name,
    domain_errors,
    output_option,
    platform,
    print_json,
    project_option,
    settings,
)
from polyaxon_core.cli.errors import CliError
from polyaxon_core.lifecycle import FINAL_STATUSES

#: the most live workspaces of one name ``ls`` lists in a project
MOST_LISTED = 100
#: the workspace ``url`` and ``stop`` act on; without it, the project's only live one
workspace_argument = click.argument("uid", metavar="[UUID]", required=False)


def workspace_group(name: str, service: type[Any]) -> click.Group:
    """The ``polyaxon NAME`` group of the workspace service class ``service``."""
    summary = service.description or f"Start, list, open and stop {name} workspaces."

    @click.group(name, help=f"{summary}\n\nRuns the hub component `{service.component}` as a "
                            "service of a project; `polyaxon ops` acts on its runs as on any "
                            "other.")
    def group() -> None:
        pass

    group.add_command(_start(name, service))
    group.add_command(_ls(name))
    group.add_command(_url(name))
    group.add_command(_stop(name))
    return group


def _start(name: str, service: type[Any]) -> click.Command:
    runs_option = click.option(
        "-u", "--uuid", "runs", multiple=True, metavar="UUID",
        help="A run whose artifacts it reads (repeatable); a sweep's or a DAG's uuid reads "
             "its runs.")

    @click.command("start")
    @project_option
    @click.option("-f", "--file", "presets", multiple=True, metavar="FILE",
                  type=click.Path(dir_okay=False, path_type=Path),
                  help="A preset patching the operation (resources, environment, ...); "
                       "repeatable, applied in order.")
    @click.option("--hub", "hub_ref", default=service.component, show_default=True,
                  metavar="[OWNER/]NAME[:VERSION]",
                  help="The hub component to run (`polyaxon hub ls` lists them).")
    @click.option("-P", "--param", "params", multiple=True, metavar="NAME=VALUE",
                  help="Set an input of the component (repeatable).")
    @click.option("-n", "--name", "run_name", default=name, show_default=True,
                  help="The run's name.")
    @click.option("--culling", type=click.IntRange(min=1), metavar="SECONDS",
                  help="Stop it once idle for this long (its termination.culling.timeout).")
    @click.option("--no-wait", is_flag=True,
                  help="Return once the run is queued, without waiting for its URL.")
    @click.option("--open", "open_browser", is_flag=True, help="Open the URL in the browser.")
    @domain_errors
    def start(project_name: str | None, presets: tuple[Path, ...], hub_ref: str,
              params: tuple[str, ...], run_name: str, culling: int | None, no_wait: bool,
              open_browser: bool, runs: tuple[str, ...] = ()) -> None:
        from polyaxon_core.cli.ops import show_service_url
        from polyaxon_core.cli.run import parse_params
        from polyaxon_core.plugins import create
        from polyaxon_core.spec import read_hub_component

        if no_wait and open_browser:
            raise CliError("--open waits for the URL; drop --no-wait")
        for path in presets:
            if not path.is_file():
                raise CliError(f"{path}: no such file; pass the path of a preset with -f")
        project = default_project_name(project_name)
        where = platform()
        uuids = [where.get_run(run, project)["uuid"] for run in runs]
        inputs = create("service", name, settings()).inputs(uuids, parse_params(params))
        operation: dict[str, Any] = {"termination": {"culling": {"timeout": culling}}} if culling else {}
        spec = read_hub_component(hub_ref, inputs, presets=presets, operation=operation)
        if spec.run_kind != "service":
            raise CliError(f"the hub component {hub_ref} is a {spec.run_kind}, not a service: "
                           f"a {name} workspace runs a `run.kind: service`")
        resolved = spec.to_dict().get("hubRef", hub_ref)
        made_from = {"version": 1.1, "kind": "operation", **operation, "hubRef": resolved}
        run = where.submit_run(
            project, spec, raw_content=json.dumps(made_from), context_path=str(Path.cwd()),
            name=run_name, description=None, tags=[name], queue=None)
        click.echo(f"{name.capitalize()} {run['uuid']} queued in project {project} ({resolved}).",
                   err=True)
        if no_wait:
            click.echo(f"Its URL: `polyaxon {name} url {run['uuid'][:12]}`.", err=True)
            return
        show_service_url(where, run, project, None, open_browser)

    if service.reads_runs:
        start = runs_option(start)
    start.help = (f"Start a {name} workspace in a project and print its URL once it answers "
                  "(through the server's proxy when there is a server).")
    return start


def _live(name: str, project: str) -> list[dict[str, Any]]:
    finished = "|".join(sorted(status.value for status in FINAL_STATUSES))
    _, rows = platform().list_runs(
        project, query=f"kind:service, tags:{name}, status:~{finished}", sort=None,
        offset=0, limit=MOST_LISTED)
    return rows


def _one(name: str, project: str, uid: str | None) -> dict[str, Any]:
    """The workspace ``uid`` names, else the only live one of ``name`` in ``project``."""
    if uid:
        run = platform().get_run(uid, project)
        if run.get("kind") != "service":
            raise CliError(f"run {run['uuid'][:12]} is a {run.get('kind')}, not a workspace")
        return run
    live = _live(name, project)
    if not live:
        raise CliError(f"no {name} is live in project {project}: start one with "
                       f"`polyaxon {name} start -p {project}`")
    if len(live) > 1:
        listed = ", ".join(f"{run['uuid'][:12]} ({run['status']})" for run in live[:5])
        raise CliError(f"{len(live)} {name} workspaces are live in project {project} ({listed}); "
                       f"name one: `polyaxon {name} ... UUID`")
    return live[0]


def _ls(name: str) -> click.Command:
    @click.command("ls")
    @project_option
    @output_option
    @domain_errors
    def ls(project_name: str | None, output: str) -> None:
        """List the project's live workspaces of this kind (queued, starting or running)."""
        project = default_project_name(project_name)
        rows = _live(name, project)
        if output == "json":
            print_json(rows)
            return
        if not rows:
            click.echo(f"No {name} is live in project {project}.")
            return
        for run in rows:
            click.echo(f"{run['uuid']}  {run['status']:<10}  {run.get('name') or '-'}  "
                       f"created {run.get('created_at') or '-'}")

    return ls


def _url(name: str) -> click.Command:
    @click.command("url")
    @workspace_argument
    @project_option
    @click.option("--open", "open_browser", is_flag=True, help="Open the URL in the browser.")
    @domain_errors
    def url(uid: str | None, project_name: str | None, open_browser: bool) -> None:
        """Print the URL of a workspace (default: the project's only live one)."""
        from polyaxon_core.cli.ops import show_service_url

        project = default_project_name(project_name)
        show_service_url(platform(), _one(name, project, uid), project, None, open_browser)

    return url


def _stop(name: str) -> click.Command:
    @click.command("stop")
    @workspace_argument
    @project_option
    @click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
    @domain_errors
    def stop(uid: str | None, project_name: str | None, yes: bool) -> None:
        """Stop a workspace (default: the project's only live one); its artifacts stay."""
        project = default_project_name(project_name)
        run = _one(name, project, uid)
        confirm_or_refuse(f"Stop {name} {run['uuid'][:12]}?", yes)
        stopped = platform().stop_run(run["uuid"], project)
        click.echo(f"{name.capitalize()} {stopped['uuid'][:12]} is {stopped['status']}.")

    return stop
