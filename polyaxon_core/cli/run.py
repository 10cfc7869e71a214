from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from polyaxon_core.cli.common import (
    default_project_name,
    domain_errors,
    platform,
    print_json,
    project_option,
)
from polyaxon_core.cli.errors import CliError


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CliError(f"-P {item!r} is not NAME=VALUE (e.g. -P learning_rate=0.01)")
        params[name.strip()] = value
    return params


@click.command("run")
@click.option("-f", "--file", "polyaxonfiles", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="The polyaxonfile: a component or an operation (YAML or JSON). Repeat to "
                   "patch it with presets, applied in order as in `polyaxon check`; with "
                   "--hub, every file is a preset.")
@click.option("--hub", "hub_ref", metavar="[OWNER/]NAME[:VERSION]",
              help="Run a component of the hubs (`polyaxon hub ls`) instead of a file.")
@click.option("-P", "--param", "--params", "params", multiple=True, metavar="NAME=VALUE",
              help="Set an input (repeatable); the value is converted to the input's type.")
@project_option
@click.option("-n", "--name", help="The run's name (default: the operation's or component's name).")
@click.option("--description", help="A sentence about this run.")
@click.option("--tags", help="Comma-separated tags, added to the file's.")
@click.option("-q", "--queue", help="The queue to run in (default: the file's, else 'default').")
@click.option("-w", "--watch", "-l", "--log", "--logs", "watch", is_flag=True,
              help="Follow the run to its end (logs, or a sweep's progress); exit 1 unless it "
                   "succeeds. -l/--log/--logs: the official client's spellings.")
@click.option("--dry-run", is_flag=True,
              help="Print what the scheduler would start (with POLYAXON_SCHEDULER=kubernetes, "
                   "its manifests), creating and changing nothing.")
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table",
              show_default=True, help="`json` or `yaml` print machine-readable output.")
@domain_errors
def run_command(
    polyaxonfiles: tuple[Path, ...], hub_ref: str | None, params: tuple[str, ...],
    project_name: str | None, name: str | None,
    description: str | None, tags: str | None, queue: str | None, watch: bool, dry_run: bool,
    output: str,
) -> None:
    """Validate a polyaxonfile, create a run and queue it; return at once unless --watch.

    \b
    polyaxon run -f polyaxonfile.yaml -P learning_rate=0.05 -p my-project
    polyaxon run -f sweep.yaml --watch
    polyaxon run --hub tensorboard -P uuids=8aac02e3a62a4f0aaa257c59da5eab80
    """
    for path in polyaxonfiles:
        if not path.is_file():
            raise CliError(f"{path}: no such file; pass the path of a polyaxonfile with -f")
    if not hub_ref and not polyaxonfiles:
        raise CliError("nothing to run: pass a polyaxonfile with -f FILE, or a hub component "
                       "with --hub NAME[:VERSION] (`polyaxon hub ls` lists them)")
    if dry_run:
        if watch:
            raise CliError("--dry-run starts nothing to watch; drop --watch")
        spec, raw_content, context_path = _read(polyaxonfiles, hub_ref, parse_params(params))
        documents = platform().preview_run(default_project_name(project_name), spec,
                                           raw_content=raw_content, context_path=context_path,
                                           name=name)
        _print_documents(documents, output)
        return
    options: dict[str, Any] = {
        "name": name, "description": description, "queue": queue,
        "tags": [t.strip() for t in (tags or "").split(",") if t.strip()]}
    taken = None if hub_ref else _handed_over(project_name, polyaxonfiles, parse_params(params), options)
    if taken is not None:
        project, data, what = taken
    else:
        from polyaxon_core.orchestrator.intake import submit_spec

        read = _read(polyaxonfiles, hub_ref, parse_params(params))
        project = default_project_name(project_name)
        data, what = submit_spec(platform(), project, read, **options)
    if output == "json":
        print_json(data)
    elif output == "yaml":
        _print_documents([data], "yaml")
    else:
        click.echo(f"Run {data['uuid']} queued: {data.get('name') or '-'}, {what}, project {project}.")
        if not watch:
            click.echo(f"Follow it with `polyaxon ops get {data['uuid'][:12]} --watch`.")
    if watch:
        from polyaxon_core.cli.watch import watch_run

        status = watch_run(data["uuid"], project)
        if status != "succeeded":
            raise SystemExit(1)


def _read(polyaxonfiles: tuple[Path, ...], hub_ref: str | None,
          params: dict[str, str]) -> tuple[Any, str, str]:
    """The operation to run, the text it was made from, and the folder it came from."""
    from polyaxon_core.orchestrator.intake import read_polyaxonfiles

    if not hub_ref:
        return read_polyaxonfiles(polyaxonfiles, params)
    from polyaxon_core.spec import read_hub_component

    spec = read_hub_component(hub_ref, params, presets=polyaxonfiles)
    # what the run was made from: the reference, resolved to the version it ran
    raw_content = f"version: 1.1\nkind: operation\nhubRef: {spec.to_dict().get('hubRef', hub_ref)}\n"
    return spec, raw_content, str(Path.cwd())


def _handed_over(project_name: str | None, polyaxonfiles: tuple[Path, ...], params: dict[str, str],
                 options: dict[str, Any]) -> tuple[str, dict[str, Any], str] | None:
    """The project, the run and what kind it is, when the orchestrator serving the home took
    the submission (this process then loads neither the database layer nor the spec
    compiler, see :mod:`polyaxon_core.orchestrator.intake`); None when this process is to
    submit it, and report its problems, itself."""
    from polyaxon_core.client.credentials import resolve

    if resolve() is not None:  # a server between this command and the runs
        return None
    try:
        project = default_project_name(project_name)
    except CliError:  # said once the polyaxonfile is read: its problems come first
        return None
    from polyaxon_core.cli.common import database, settings
    from polyaxon_core.client.local import LocalPlatform
    from polyaxon_core.orchestrator.intake import submit

    current = settings()
    taken = submit(current, polyaxonfiles, params, project=project, **options)
    if taken is None:
        return None
    data, what = taken
    LocalPlatform(current, database).keep_going_after(data["uuid"])
    return project, data, what


def _print_documents(documents: list[dict[str, Any]], output: str) -> None:
    """JSON (a list) for ``-o json``, else YAML documents separated by ``---``."""
    if output == "json":
        print_json(documents)
        return
    import yaml

    click.echo(yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False), nl=False)
