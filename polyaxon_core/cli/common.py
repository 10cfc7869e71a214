"""What the CLI commands share: settings, the database, the project, output, errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from polyaxon_core.cli.errors import CliError

if TYPE_CHECKING:
    from polyaxon_core.client.platform import Platform

F = TypeVar("F", bound=Callable[..., Any])

PROJECT_FILE = Path(".polyaxon") / "project.json"

project_option = click.option(
    "-p", "--project", "project_name", metavar="NAME",
    help="Project name (default: POLYAXON_PROJECT, then the folder's `polyaxon init -p`).",
)
output_option = click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="`json` prints machine-readable output.",
)


def domain_errors(function: F) -> F:
    """Turn domain, spec, query and configuration errors into messages with exit code 1."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from polyaxon_core.errors import PolyaxonError

        try:
            return function(*args, **kwargs)
        except PolyaxonError as exc:
            raise CliError(str(exc)) from None
        except Exception as exc:
            for kind in _known_errors():
                if isinstance(exc, kind):
                    raise CliError(str(exc)) from None
            raise

    return wrapper  # type: ignore[return-value]


def _known_errors() -> tuple[type[Exception], ...]:
    from polyaxon_core.interfaces import PluginConfigError
    from polyaxon_core.plugins import UnknownPluginError

    known: list[type[Exception]] = [UnknownPluginError, PluginConfigError]
    spec = sys.modules.get("polyaxon_core.spec")
    if spec is not None:
        known.append(spec.PolyaxonfileError)
    query = sys.modules.get("polyaxon_core.query")
    if query is not None:
        known.append(query.QueryError)
    return tuple(known)


def settings() -> Any:
    from polyaxon_core.config import load_settings

    return load_settings()


@contextmanager
def database() -> Iterator[Any]:
    """A session on the configured database, migrated first if needed."""
    from sqlalchemy.exc import OperationalError

    from polyaxon_core.db.session import ensure_database, session_scope
    from polyaxon_core.wakeup import wake_if_marked

    current = settings()
    try:
        ensure_database(current.db_url)
    except OperationalError as exc:
        raise CliError(
            f"cannot open the database at {current.db_url!r}: {exc.orig}. Check POLYAXON_DB_URL "
            "(and that the server is running), or unset it to use the embedded SQLite database."
        ) from None
    with session_scope(current.db_url) as session:
        yield session
    wake_if_marked(session, current)


def platform() -> Platform:
    """Where commands act: the server when one is configured (POLYAXON_HOST, or the
    saved `polyaxon login`), else the database directly."""
    from polyaxon_core.client.credentials import resolve

    credentials = resolve()
    if credentials is None:
        from polyaxon_core.client.local import LocalPlatform

        return LocalPlatform(settings(), database)
    from polyaxon_core.client.api import ApiClient
    from polyaxon_core.client.remote import RemotePlatform

    return RemotePlatform(ApiClient(credentials.host, credentials.token))


def optional_project_name(explicit: str | None) -> str | None:
    """The project to scope a command to: explicit, configured, or None (all projects)."""
    try:
        return default_project_name(explicit)
    except CliError:
        return None


def default_project_name(explicit: str | None) -> str:
    if explicit:
        return explicit
    from_env = os.environ.get("POLYAXON_PROJECT")
    if from_env:
        return from_env
    for folder in [Path.cwd(), *Path.cwd().parents]:
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            try:
                return str(json.loads(candidate.read_text())["name"])
            except (ValueError, KeyError, TypeError):
                raise CliError(
                    f"{candidate} is not a valid project file; run `polyaxon init -p NAME` again"
                ) from None
    raise CliError(
        "no project given: pass -p NAME, set POLYAXON_PROJECT, or run `polyaxon init -p NAME` "
        "in this folder"
    )


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    return value


def print_json(data: Any) -> None:
    click.echo(json.dumps(to_jsonable(data), indent=2, sort_keys=True))


def console() -> Any:
    """Rich output; pipes and logs get a wide page instead of rich's 80 columns, unless
    COLUMNS says how wide."""
    from rich.console import Console

    out = Console()
    if not out.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        out = Console(width=160)
    return out


def humanize_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def humanize_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


STATUS_STYLES = {
    "succeeded": "green", "failed": "red", "upstream_failed": "red", "stopped": "yellow",
    "stopping": "yellow", "running": "cyan", "retrying": "magenta", "queued": "blue",
    "scheduled": "blue", "starting": "cyan", "warning": "yellow", "unknown": "dim",
}


def styled_status(status: str) -> str:
    style = STATUS_STYLES.get(status, "white")
    return f"[{style}]{status}[/{style}]"
