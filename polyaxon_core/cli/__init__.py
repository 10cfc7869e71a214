"""The ``polyaxon`` (alias ``plx``) command line.

Sub-commands are imported only when invoked, so ``polyaxon --help`` loads click and
nothing heavy. Commands contributed by plugins (``polyaxon_register_commands``) are
looked up only when a name is not one of the core's.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from polyaxon_core import __version__

#: command name -> (module relative to polyaxon_core.cli, help); the module holds the
#: command as ``<name>_command``
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "Create the database and, optionally, set this folder's default project."),
    "project": ("project", "Create, list, inspect and delete projects."),
    "run": ("run", "Run a polyaxonfile (a component or an operation)."),
    "ops": ("ops", "List, inspect, follow, stop, restart and delete runs."),
    "check": ("check", "Validate a polyaxonfile and summarise it."),
    "hub": ("hub", "List, read and push the components of the hubs."),
    "plugins": ("plugins", "List and check the installed plugins."),
    "connections": ("connections", "List and check the connections catalog."),
    "queues": ("queues", "Create, list and change the queues runs wait in."),
    "quotas": ("quotas", "Cap what a project, team or user has running at once."),
    "scheduler": ("scheduler", "Run the orchestrator: compile, queue, schedule, reconcile."),
    "agent": ("agent", "Run an agent next to a cluster, or register agents."),
    "worker": ("worker", "Execute the runs dispatched to workers (POLYAXON_SCHEDULER=celery)."),
    "server": ("server", "Serve the REST API (tokens, roles, OpenAPI) on this machine."),
    "gateway": ("gateway", "Print an nginx configuration serving the server and its services."),
    "login": ("auth", "Log in to a server and save the token for the next commands."),
    "logout": ("auth", "Revoke the saved token and forget it."),
    "whoami": ("auth", "Show who the server knows you as."),
    "admin": ("admin", "Administer users, roles and tokens; read the audit log."),
    "teams": ("teams", "Create teams and give them a role on projects."),
    "dashboards": ("dashboards", "List a project's saved views (made in the dashboard)."),
    "models": ("models", "The registry: promote runs to model versions, list them, stage them."),
}

#: other names of core commands, as the official client accepts them
COMMAND_ALIASES: dict[str, str] = {"projects": "project"}


class LazyGroup(click.Group):
    """A group whose core commands live in their own modules, imported on use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugin_commands_loaded = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(CORE_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd_name = COMMAND_ALIASES.get(cmd_name, cmd_name)
        if cmd_name in CORE_COMMANDS:
            module_name, _ = CORE_COMMANDS[cmd_name]
            module = importlib.import_module(f"polyaxon_core.cli.{module_name}")
            command: click.Command = getattr(module, cmd_name.replace("-", "_") + "_command")
            return command
        if cmd_name not in self.commands and not self._plugin_commands_loaded:
            self._load_plugin_commands()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(CORE_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
        formatter.write_paragraph()
        formatter.write_text("Plugins may add commands: see `polyaxon plugins list`.")

    def _load_plugin_commands(self) -> None:
        self._plugin_commands_loaded = True
        from polyaxon_core.plugins import get_plugin_manager

        manager = get_plugin_manager()
        manager.hook.polyaxon_register_commands(cli=self)
        services = manager.contributions("service")
        if services:
            from polyaxon_core.cli.workspaces import workspace_group

            for name, service in sorted(services.items()):
                if name in CORE_COMMANDS or name in COMMAND_ALIASES or name in self.commands:
                    logging.getLogger("polyaxon_core.plugins").warning(
                        "workspace service %r is not a command: `polyaxon %s` is taken", name, name)
                    continue
                self.add_command(workspace_group(name, service))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="polyaxon")
def cli() -> None:
    """polyaxon: track, schedule and search machine-learning experiments.

    Runs on the embedded default (SQLite + local processes under POLYAXON_HOME) with no
    set-up; set POLYAXON_DB_URL, POLYAXON_SCHEDULER or POLYAXON_STORE to scale out.
    """


def main() -> None:
    """Entry point: every expected failure becomes a message and an exit code."""
    from polyaxon_core.cli.errors import run_cli

    _plugin_warnings_on_stderr()
    sys.exit(run_cli(cli))


def _plugin_warnings_on_stderr() -> None:
    """Show the plugin manager's warnings (one line per broken plugin) as
    ``Warning: ...`` on stderr, whatever command builds the manager."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("Warning: %(message)s"))
    plugin_logger = logging.getLogger("polyaxon_core.plugins")
    plugin_logger.addHandler(handler)
    plugin_logger.propagate = False
