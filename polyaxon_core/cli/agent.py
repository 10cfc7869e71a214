from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import click

from polyaxon_core.cli.common import administration, console, domain_errors, output_option, print_json


@click.group("agent", invoke_without_command=True)
@click.option("--namespace", help="The namespace it starts runs in (POLYAXON_K8S_NAMESPACE).")
@click.option("--name", "agent_name", help="The agent it acts as (default: the namespace's name).")
@click.option("--scheduler", default="kubernetes", show_default=True,
              help="The scheduler plugin that starts the runs.")
@click.option("--interval", type=float, default=2.0, show_default=True,
              help="Seconds between two passes.")
@click.option("--once", is_flag=True, help="Do a single pass and exit.")
@click.pass_context
@domain_errors
def agent_command(context: click.Context, namespace: str | None, agent_name: str | None,
                  scheduler: str, interval: float, once: bool) -> None:
    """Run an agent next to a cluster, or register agents (`create`, `ls`, `delete`).

    Without a sub-command, this is the agent: with POLYAXON_HOST and the agent's token in
    POLYAXON_AUTH_TOKEN, it claims the runs queued in `<agent>/<queue>` queues, starts
    them in its namespace with its scheduler (the Kubernetes one: POLYAXON_K8S_*), and
    reports their statuses; their logs go to the artifacts store it shares with the
    server (POLYAXON_ARTIFACTS_STORE).
    """
    if context.invoked_subcommand is not None:
        return
    from polyaxon_core.agent import Agent, AgentClient
    from polyaxon_core.cli.common import settings
    from polyaxon_core.cli.errors import CliError
    from polyaxon_core.client.credentials import resolve
    from polyaxon_core.client.transport import Transport
    from polyaxon_core.plugins import create

    credentials = resolve()
    if credentials is None or not credentials.token:
        raise CliError("the agent talks to a server: set POLYAXON_HOST and POLYAXON_AUTH_TOKEN "
                       "(the token `polyaxon agent create NAME --namespace NS` printed)")
    if namespace is None and agent_name is None:
        raise CliError("give the namespace it starts runs in (--namespace NS), and --name "
                       "when the agent is not called as its namespace")
    name = agent_name or str(namespace)
    if namespace is not None:
        os.environ["POLYAXON_K8S_NAMESPACE"] = namespace
    transport = Transport(credentials.host, credentials.token)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    current = settings()
    runner = Agent(AgentClient(transport, name), create("scheduler", scheduler, current))
    if once:
        runner.tick()
        return
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"agent {name} started against {credentials.host}", err=True)
    runner.run_forever(stopping.is_set, interval, stopping.wait)


@agent_command.command("create")
@click.argument("name")
@click.option("--namespace", required=True, help="The Kubernetes namespace it starts runs in.")
@click.option("--description")
@click.option("--user", "username", help="Locally: who the token is issued for (default: the "
                                         "first organization owner).")
@output_option
@domain_errors
def create(name: str, namespace: str, description: str | None, username: str | None,
           output: str) -> None:
    """Register agent NAME: runs queued in `NAME/<queue>` are its. Prints its token once."""
    agent = administration().create_agent(name, namespace, description, username)
    if output == "json":
        print_json(agent)
        return
    click.echo(f"Agent '{agent['name']}' registered for namespace {agent['namespace']}.")
    if agent.get("token"):
        click.echo(f"Its token (shown once; it acts as this agent only): {agent['token']}")
    else:
        click.echo("No token: the server runs without authentication.")


@agent_command.command("ls")
@output_option
@domain_errors
def ls(output: str) -> None:
    """List the agents, their runs under way and waiting."""
    rows = administration().list_agents()
    if output == "json":
        print_json({"count": len(rows), "results": rows})
        return
    from rich.table import Table

    table = Table(title="Agents")
    for column in ("name", "namespace", "running", "waiting", "last seen"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["name"]), str(row["namespace"]), str(row["running"]),
                      str(row["waiting"]), str(row["last_seen_at"] or "never"))
    console().print(table)


@agent_command.command("delete")
@click.argument("name")
@domain_errors
def delete(name: str) -> None:
    """Forget agent NAME and revoke its token (refused while a run of it is unfinished)."""
    administration().delete_agent(name)
    click.echo(f"Agent '{name}' deleted.")
