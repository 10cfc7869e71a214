"""``polyaxon server``: serve the REST API on this machine."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import click

from polyaxon_core.cli.common import domain_errors
from polyaxon_core.cli.errors import CliError

if TYPE_CHECKING:
    from polyaxon_core.config import Settings

#: the only addresses a server without authentication may listen on
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})

PRODUCTION_HINT = (
    "for production, serve the same application with gunicorn: "
    "gunicorn -w 4 -k polyaxon_core.api.gunicorn_worker.JsonErrorWorker --threads 8 "
    "-b 0.0.0.0:8000 'polyaxon_core.api.app:create_app()'"
)


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free port, printed at start-up).")
@click.option("--no-auth", is_flag=True,
              help="Serve every request as an organization owner, without credentials; "
                   "only allowed on 127.0.0.1, ::1 or localhost.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A host name clients reach the server by (repeatable; adds to "
                   "POLYAXON_ALLOWED_HOSTS). Needed when --host is not a loopback address.")
@domain_errors
def server_command(host: str, port: int, no_auth: bool, allowed_hosts: tuple[str, ...]) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs).

    Requests authenticate with `Authorization: Token <key>`. Runs created through the
    API are queued and the embedded orchestrator is started on demand, as `polyaxon run`
    does (unless POLYAXON_ORCHESTRATOR=external). This is a threaded server for one
    machine; for production use gunicorn (see docs/api.md).
    """
    if no_auth and host not in LOCAL_HOSTS:
        raise CliError(
            f"--no-auth lets anyone who reaches the server act as an organization owner, so it "
            f"is only allowed on {', '.join(sorted(LOCAL_HOSTS))}, not on {host!r}; drop "
            "--no-auth and authenticate with tokens instead"
        )
    from polyaxon_core.api.config import allowed_hosts_from_environment
    from polyaxon_core.config import ConfigurationError

    if host not in LOCAL_HOSTS and not (allowed_hosts or allowed_hosts_from_environment()):
        raise ConfigurationError(
            f"listening on {host!r} serves other machines, so say which names they reach this "
            "server by: `--allowed-host NAME` (repeatable) or POLYAXON_ALLOWED_HOSTS=NAME,... "
            "(requests naming any other host are refused, which stops DNS rebinding)"
        )
    from sqlalchemy.exc import OperationalError

    from polyaxon_core.config import load_settings
    from polyaxon_core.orchestrator.backends import check_backends

    current = load_settings()
    check_backends(current)  # a server that cannot run anything says so, and only that
    # before the app opens the database: with a run user, what it creates is private
    _warn_about_run_isolation(current)

    from polyaxon_core.api.app import create_app
    from polyaxon_core.api.extensions import server
    from polyaxon_core.api.serving import make_api_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        app = create_app(auth=not no_auth, allowed_hosts=allowed_hosts)
    except OperationalError as exc:
        raise CliError(f"cannot open the database: {exc.orig}; check POLYAXON_DB_URL") from None
    try:
        http_server = make_api_server(host, port, app)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if no_auth:
        banner = "!" * 78
        click.secho(
            f"{banner}\n!! AUTHENTICATION IS OFF: anyone who can reach {host}:{http_server.port} "
            f"acts as an\n!! organization owner. Use this on your own machine only.\n{banner}",
            err=True, fg="red", bold=True,
        )
    with app.app_context():
        server.ensure_orchestrator()  # runs left queued by an earlier server start now
    address = f"[{host}]" if ":" in host else host
    click.echo(f"serving the API on http://{address}:{http_server.port}/api/v1 "
               f"(docs: /api/v1/docs)", err=True)
    if app.extensions.get("polyaxon_webapp"):
        click.echo(f"serving the dashboard on http://{address}:{http_server.port}/", err=True)
    click.echo(PRODUCTION_HINT, err=True)
    try:
        http_server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped.", err=True)
    finally:
        http_server.server_close()


def _warn_about_run_isolation(settings: Settings) -> None:
    """Say what the runs this server starts can reach, when they are not isolated; with
    ``POLYAXON_RUN_AS_USER``, check it (exit 2 when it cannot work) and secure the home."""
    from polyaxon_core.run_user import RUN_AS_USER_VARIABLE, isolate_process

    if not os.environ.get("POLYAXON_API_HOST"):
        click.secho(
            "warning: POLYAXON_API_HOST is not set: the runs this server starts get the "
            "database's address (POLYAXON_DB_URL) instead of a token of their own; set it to "
            "the address runs reach this server at (docs/running.md#isolation)",
            err=True, fg="yellow",
        )
    if settings.scheduler == "local" and isolate_process(settings) is None:
        click.secho(
            f"warning: {RUN_AS_USER_VARIABLE} is not set: runs execute as this server's own OS "
            "user and can read its database file, its secrets and every run's files; set it "
            "to an unprivileged user (docs/running.md#isolation)",
            err=True, fg="yellow",
        )
