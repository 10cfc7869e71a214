"""``polyaxon check``: validate a polyaxonfile offline and summarise it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from polyaxon_core.cli.common import output_option

if TYPE_CHECKING:
    from polyaxon_core.spec import OperationSpec, Problem


@click.command("check")
@click.option(
    "-f",
    "--file",
    "files",
    multiple=True,
    required=True,
    metavar="FILE",
    help="The polyaxonfile. Repeat to patch it with presets: each further file is applied "
    "onto the operation in order (its patchStrategy, post_merge by default).",
)
@click.option(
    "-P",
    "--param",
    "--params",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Give an input a value (repeatable); it is converted to the input's type.",
)
@output_option
def check_command(files: tuple[str, ...], params: tuple[str, ...], output: str) -> None:
    """Validate a polyaxonfile and summarise it; exit 1 and list every problem if it is invalid.

    A valid file using a section that does not act here yet (build, events, a service
    run), or a hook naming no installed notifier, is valid, with a warning for each:
    `polyaxon run` refuses it. What the configured scheduler (POLYAXON_SCHEDULER) cannot
    start at all (on Kubernetes, a container without an image; on the local one, a tfjob)
    is a problem, with its field path.

    \b
    polyaxon check -f polyaxonfile.yaml
    polyaxon check -f sweep.yaml -P epochs=3 -o json
    """
    from polyaxon_core.connections import check_problems as connection_problems
    from polyaxon_core.spec import PolyaxonfileError, read_polyaxonfile, unsupported_features

    values, problems = _parse_params(params, files[0])
    spec = None
    try:
        spec = read_polyaxonfile(files[0], values, presets=files[1:])
    except PolyaxonfileError as exc:
        problems = [*problems, *exc.problems]
    if spec is not None:
        problems = [*problems, *_plugin_matrix_problems(spec, files[0])]
        problems = [*problems, *connection_problems(spec)]
        problems = [*problems, *_scheduler_problems(spec, files[0])]
    if problems:
        spec = None
    summary = summarize(spec) if spec is not None else None
    warnings = unsupported_features(spec) if spec is not None else []
    if spec is not None:
        from polyaxon_core.domain.notifications import hook_problems

        warnings += hook_problems(spec)
    if output == "json":
        report = {
            "valid": not problems,
            "problems": [problem.to_dict() for problem in problems],
            "summary": summary,
            "warnings": warnings,
        }
        click.echo(json.dumps(report, indent=2, default=str))
    elif problems:
        count = len(problems)
        click.echo(f"{files[0]} is not valid: {count} problem{'s' if count != 1 else ''}.")
        for problem in problems:
            click.echo(f"  {problem}")
    elif summary is not None:
        _print_summary(files[0], summary)
        for warning in warnings:
            click.echo(f"Warning: {files[0]} cannot be run here yet: {warning}", err=True)
    if problems:
        raise SystemExit(1)


def _scheduler_problems(spec: OperationSpec, file: str) -> list[Problem]:
    """What the configured scheduler (POLYAXON_SCHEDULER) cannot start in the run section."""
    from polyaxon_core.config import ConfigurationError, load_settings
    from polyaxon_core.orchestrator.backends import scheduler_problems
    from polyaxon_core.spec import Problem

    try:
        scheduler = load_settings().scheduler
    except ConfigurationError:
        return []  # the settings' own error is reported by the commands that use them
    return [Problem(file, None, path, message) for path, message in scheduler_problems(scheduler, spec)]


def _plugin_matrix_problems(spec: OperationSpec, file: str) -> list[Problem]:
    """What the optimizer of a matrix kind contributed by a plugin refuses in its fields.

    Polyaxon's own kinds are checked by the reader alone, as the official client checks
    them; a plugin's kind has only its optimizer to say what its fields may hold.
    """
    from polyaxon_core.interfaces import Optimizer, PluginConfigError
    from polyaxon_core.plugins import get_plugin_manager
    from polyaxon_core.spec import Problem
    from polyaxon_core.spec.matrix import MATRIX_SCHEMAS

    if spec.matrix is None or spec.matrix.kind in MATRIX_SCHEMAS:
        return []
    optimizer: type[Optimizer] = get_plugin_manager().get("optimizer", spec.matrix.kind)
    try:
        optimizer.validate(spec.matrix)
    except PluginConfigError as exc:
        return [Problem(file, None, "matrix", str(exc))]
    return []


def _parse_params(params: tuple[str, ...], file: str) -> tuple[dict[str, str], list[Problem]]:
    from polyaxon_core.spec import Problem

    values: dict[str, str] = {}
    problems: list[Problem] = []
    for item in params:
        name, separator, value = item.partition("=")
        if not separator or not name.strip():
            message, example = "a param is written NAME=VALUE", "e.g. -P learning_rate=0.01"
            problems.append(Problem(file, None, f"-P {item}", message, example))
            continue
        values[name.strip()] = value
    return values, problems


def summarize(spec: OperationSpec) -> dict[str, Any]:
    """What ``polyaxon check`` reports about a valid spec (also its JSON ``summary``)."""
    from polyaxon_core.connections import check_summary
    from polyaxon_core.spec import search_space_size

    matrix_names = spec.matrix_names()
    inputs = []
    for io in spec.component.inputs:
        param = spec.params.get(io.name)
        if param is not None and param.get("ref"):
            value, origin = f"{param['ref']}.{param.get('value')}", "ref"
        elif param is not None and param.get("value") is not None:
            value, origin = param["value"], "params"
        elif io.name in matrix_names:
            value, origin = None, "matrix"
        else:
            value, origin = io.value, "default"
        inputs.append({"name": io.name, "type": io.type, "value": value, "from": origin})
    matrix = None
    if spec.matrix is not None:
        matrix = {
            "kind": spec.matrix.kind,
            "search_space_size": search_space_size(spec.matrix),
            "num_runs": spec.matrix.num_runs,
            "concurrency": spec.matrix.concurrency,
        }
    return {
        "kind": spec.written_kind,
        "name": spec.name,
        "run_kind": spec.run_kind,
        "inputs": inputs,
        "matrix": matrix,
        "operations": [operation.name for operation in spec.dag_operations],
        "connections": check_summary(spec),
    }


def _print_summary(file: str, summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from polyaxon_core.spec.templating import format_value

    console = Console(soft_wrap=True, highlight=False)
    console.print(Text(f"{file} is valid.", style="bold green"))
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    # Values come from the user's file: Text keeps rich from reading `[...]` as markup.
    table.add_row("kind", Text(f"{summary['kind']} (run: {summary['run_kind']})"))
    table.add_row("name", Text(summary["name"] or "-"))
    for index, entry in enumerate(summary["inputs"]):
        shown = "(set by the matrix)" if entry["from"] == "matrix" else format_value(entry["value"]) or "-"
        table.add_row(
            "inputs" if index == 0 else "",
            Text(f"{entry['name']} = {shown}  [{entry['type'] or 'any'}, from {entry['from']}]"),
        )
    matrix = summary["matrix"]
    if matrix is not None:
        size = matrix["search_space_size"]
        space = f"{size} combinations" if size is not None else "unbounded (continuous distributions)"
        table.add_row("matrix", Text(f"{matrix['kind']}, search space: {space}"))
    connections = summary["connections"]
    if connections is not None:
        catalog = connections["catalog"]
        checked = f"checked against {catalog}" if catalog else "not checked: no connections catalog here"
        table.add_row("connections", Text(f"{', '.join(connections['names'])} ({checked})"))
    if summary["operations"]:
        table.add_row("operations", Text(", ".join(name or "-" for name in summary["operations"])))
    console.print(table)
