"""``polyaxon plugins list|check``: what discovery found, and whether it all works.

Both commands use the same manager the rest of the process uses, so what they show is
what ``polyaxon run`` and the server will get: every plugin the manager refused while
loading (import errors, hooks that do not match the specs, duplicate entry or backend
names, contribution hooks that raise or answer with classes their kind cannot use) is
listed as broken with the manager's one-line reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import click

from polyaxon_core.cli.errors import CliError

if TYPE_CHECKING:
    from polyaxon_core.plugins import PluginInfo, PluginManager


@dataclass(frozen=True)
class PluginReport:
    """One plugin as the commands show it."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    hooks: list[str]
    #: ``ok``, ``disabled`` or ``broken``
    status: str
    reason: str | None = None
    #: plugin kind -> name -> one-line description of each class contributed
    #: (``{"store": {"local": "Artifacts and logs in folders ..."}}``)
    contributes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def package(self) -> str:
        """``distribution==version``, or the module when no distribution is known."""
        if self.distribution is None:
            return self.module
        return f"{self.distribution}=={self.version}" if self.version else self.distribution

    @property
    def fix(self) -> str:
        """What the user can do about a broken plugin."""
        repair = (
            f"reinstall or upgrade it (pip install --upgrade {self.distribution})"
            if self.distribution
            else f"fix the module {self.module}"
        )
        return f"{repair}, or turn it off with POLYAXON_DISABLE_PLUGINS={self.name}"


def describe_plugins(manager: PluginManager) -> list[PluginReport]:
    """A report per discovered plugin, in discovery order."""
    return [_report(info) for info in manager.plugins]


def _report(info: PluginInfo) -> PluginReport:
    status = "disabled" if info.disabled else "broken" if info.error else "ok"
    contributes = {
        kind: {
            name: " ".join(str(getattr(cls, "description", "") or "").split())
            for name, cls in classes.items()
        }
        for kind, classes in info.classes.items()
    }
    return PluginReport(info.name, info.distribution, info.version, info.module,
                        list(info.hooks), status, info.error, contributes)


def _load_reports() -> list[PluginReport]:
    from polyaxon_core.plugins import get_plugin_manager

    return describe_plugins(get_plugin_manager())


@click.group("plugins")
def plugins_command() -> None:
    """List and check the installed plugins.

    Plugins are discovered from the `polyaxon.plugins` entry points of installed
    distributions. Turn one off with POLYAXON_DISABLE_PLUGINS=name1,name2.
    """
    # These commands show each broken plugin in full: the manager's warnings would repeat them.
    logging.getLogger("polyaxon_core.plugins").setLevel(logging.ERROR)


@plugins_command.command("list")
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table",
    show_default=True, help="Output format.",
)
def list_command(output: str) -> None:
    """Show every discovered plugin: where it comes from, what it provides, its status."""
    reports = _load_reports()
    if output == "json":
        click.echo(json.dumps([asdict(report) for report in reports], indent=2))
        return
    if not reports:
        click.echo(
            "No plugins installed. Install the defaults with "
            "`pip install polyaxon-schedulers polyaxon-optimizers polyaxon-stores`."
        )
        return
    _print_table(reports)


#: columns the table's Provides cell gets at least; narrower consoles list plugins as blocks
_PROVIDES_WIDTH = 30
#: what the table's borders and cell padding take (five columns)
_TABLE_FRAME = 16
_STATUS_STYLES = {"ok": "green", "disabled": "yellow", "broken": "red"}


def _provides(report: PluginReport) -> list[str]:
    return [f"{kind}: {name} — {description}" if description else f"{kind}: {name}"
            for kind, classes in sorted(report.contributes.items())
            for name, description in sorted(classes.items())]


def _print_table(reports: list[PluginReport]) -> None:
    """A row per plugin when the console is wide enough for names, packages and hooks
    in full beside a readable Provides column; else a block per plugin."""
    from rich.console import Console

    console = Console()
    needed = (_TABLE_FRAME + _PROVIDES_WIDTH + len("disabled")
              + _longest(report.name for report in reports)
              + _longest(report.package for report in reports)
              + _longest(hook for report in reports for hook in report.hooks))
    console.print(_rows(reports) if console.width >= needed else _blocks(reports))


def _longest(texts: Iterable[str]) -> int:
    return max((len(text) for text in texts), default=0)


def _rows(reports: list[PluginReport]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table("Plugin", "Distribution", "Provides", "Hooks", "Status")
    for column in (table.columns[0], table.columns[1], table.columns[3]):
        column.no_wrap = True
    for report in reports:
        status = f"broken: {report.reason}" if report.status == "broken" else report.status
        # Text cells: a reason may contain brackets that rich would read as markup.
        table.add_row(
            Text(report.name),
            Text(report.package),
            Text("\n".join(_provides(report)) or "-"),
            Text("\n".join(report.hooks) or "-"),
            Text(status, style=_STATUS_STYLES[report.status]),
        )
    return table


def _blocks(reports: list[PluginReport]) -> Any:
    """Each plugin as a line ``name  package  status`` and, indented under it, what it
    provides, its hooks and why it is broken: long lines wrap within the indent."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    blocks: list[Any] = []
    for report in reports:
        heading = Text.assemble((report.name, "bold"), "  ", report.package, "  ",
                                (report.status, _STATUS_STYLES[report.status]))
        details = Table.grid(padding=(0, 2))
        details.add_column(no_wrap=True, style="dim")
        details.add_column(overflow="fold")
        if report.reason:
            details.add_row("error", Text(report.reason, style="red"))
        for label, lines in (("provides", _provides(report)), ("hooks", report.hooks)):
            for index, line in enumerate(lines):
                details.add_row(label if index == 0 else "", Text(line))
        blocks.append(Group(heading, _indented(details)))
    return Group(*blocks)


def _indented(renderable: Any) -> Any:
    from rich.padding import Padding

    return Padding(renderable, (0, 0, 1, 2), expand=False)


@plugins_command.command("check")
def check_command() -> None:
    """Exit 0 when every enabled plugin loads and works; else list each broken one."""
    reports = _load_reports()
    broken = [report for report in reports if report.status == "broken"]
    if broken:
        for report in broken:
            click.echo(f"{report.name} ({report.package}): {report.reason}")
            click.echo(f"  fix: {report.fix}")
        raise CliError(f"{len(broken)} of {len(reports)} plugins broken")
    working = sum(report.status == "ok" for report in reports)
    disabled = len(reports) - working
    summary = f"{working} plugin{'' if working == 1 else 's'} ok"
    click.echo(f"{summary}, {disabled} disabled" if disabled else summary)
