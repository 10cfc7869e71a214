"""``polyaxon hub``: the components of the configured hubs (see :mod:`polyaxon_core.hub`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from polyaxon_core.cli.common import console, domain_errors, print_json
from polyaxon_core.cli.errors import CliError


@click.group("hub")
def hub_command() -> None:
    """List, read and push components of the hubs (POLYAXON_HUBS, then `polyaxon`).

    \b
    polyaxon hub ls
    polyaxon hub get jupyterlab:4.2
    polyaxon hub push train.yaml --as team/train:1.0 --to /srv/hub
    polyaxon run --hub jupyterlab
    """


@hub_command.command("ls")
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@domain_errors
def ls(output: str) -> None:
    """Every component of every hub, with its versions and the hub that has it."""
    from polyaxon_core.hub import configured_hubs, describe, latest_of, version_key
    from polyaxon_core.interfaces.hub import HubUnavailable

    rows: list[dict[str, Any]] = []
    for hub in configured_hubs():
        try:
            entries = hub.components()
        except HubUnavailable as exc:
            click.echo(f"Warning: {exc}", err=True)
            continue
        for entry in entries:
            latest = latest_of(entry.versions) or ""
            description = entry.description
            if not description:  # a folder's files say it themselves
                try:
                    description = describe(hub.read(entry.owner, entry.name, latest))
                except (KeyError, HubUnavailable):
                    description = ""
            rows.append({"component": entry.full_name, "latest": latest,
                         "versions": sorted(entry.versions, key=version_key),
                         "description": description, "hub": hub.location})
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title="Hub components")
    for column in ("component", "versions", "description", "hub"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["component"], ", ".join(row["versions"]), row["description"], row["hub"])
    console().print(table)


@hub_command.command("get")
@click.argument("reference")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="`yaml`: the component file as it is; `json`: where it came from as well.")
@domain_errors
def get(reference: str, output: str) -> None:
    """Print the component file REFERENCE names (`[owner/]name[:version]`)."""
    from polyaxon_core.hub import resolve

    found = resolve(reference)
    if output == "json":
        print_json({"reference": str(found.ref), "hub": found.hub, "content": found.text})
        return
    click.echo(f"# {found.ref} from {found.hub}", err=True)
    click.echo(found.text, nl=not found.text.endswith("\n"))


@hub_command.command("push")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "reference", required=True, metavar="OWNER/NAME:VERSION",
              help="What it is called in the hub (the version is required).")
@click.option("--to", "location", required=True,
              help="The hub: a folder, or a hub POLYAXON_HUBS could name.")
@click.option("--force", is_flag=True, help="Replace the version if the hub has it already.")
@domain_errors
def push(file: Path, reference: str, location: str, force: bool) -> None:
    """Check the component FILE, then add it to a hub as OWNER/NAME:VERSION."""
    from polyaxon_core.hub import HubRef, open_hub
    from polyaxon_core.interfaces.hub import HubUnavailable
    from polyaxon_core.spec import client_hub
    from polyaxon_core.spec.compiler import compile_source
    from polyaxon_core.spec.loader import read_source

    if not file.is_file():
        raise CliError(f"{file}: no such file; pass the component file to push")
    ref = HubRef.parse(reference)
    if ref.version is None:
        raise CliError(f"--as {reference} has no version: write {ref.full_name}:VERSION")
    source = read_source(file)
    if not isinstance(source.data, dict) or source.data.get("kind", "component") != "component":
        raise CliError(f"{file} is not a component (`kind: component`): only components go in a hub")
    # inputs without a value are for whoever runs it; everything else must be right
    compile_source(source, fetch_url_refs=True, hub=client_hub(), require_inputs=False)
    hub = open_hub(location)
    try:
        hub.push(ref.owner, ref.name, ref.version, file.read_text(encoding="utf-8"), force)
    except FileExistsError as exc:
        raise CliError(f"{exc}; pass --force to replace it") from None
    except HubUnavailable as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Pushed {ref} to {hub.location}.")


@hub_command.command("index")
@click.argument("location")
@domain_errors
def index(location: str) -> None:
    """Write what a hub needs to be served over HTTP (a folder's index.json)."""
    from polyaxon_core.hub import open_hub
    from polyaxon_core.interfaces.hub import HubUnavailable

    try:
        written = open_hub(location).reindex()
    except HubUnavailable as exc:
        raise CliError(str(exc)) from None
    if written is None:
        raise CliError(f"{location} has nothing to index: give a folder hub")
    click.echo(f"Wrote {written}.")
