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

from polyaxon_core.cli.errors import CliConfigurationError, CliError

if TYPE_CHECKING:
    from polyaxon_core.client.platform import Platform

F = TypeVar("F", bound=Callable[..., Any])

PROJECT_FILE = Path(".polyaxon") / "project.json"

project_option = click.option(
    "-p", "--project", "project_name", metavar="NAME",
    help="Project name, or OWNER/NAME as the official client spells it (default: "
    "POLYAXON_PROJECT, then the folder's `polyaxon init -p`).",
)
output_option = click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
    help="`json` prints machine-readable output.",
)


def run_uid_argument(function: F) -> F:
    """The run a command acts on: ``UUID`` as an argument, or ``-uid/--uid/--uuid/-id UUID``
    as the official client spells it; the command receives it as ``uid``."""

    @wraps(function)
    def wrapper(*args: Any, uid: str | None, uid_option: str | None, **kwargs: Any) -> Any:
        if uid and uid_option and uid != uid_option:
            raise CliError(f"two runs given, {uid} and -uid {uid_option}; give one")
        if not (uid or uid_option):
            raise CliError("which run? give its UUID: `polyaxon ops get UUID` or `-uid UUID`")
        return function(*args, uid=uid or uid_option, **kwargs)

    with_argument = click.argument("uid", metavar="UUID", required=False)(wrapper)
    return click.option(  # type: ignore[return-value]
        "-uid", "--uid", "--uuid", "-id", "uid_option", metavar="UUID",
        help="The run, as an option (the official client's spelling of the UUID argument).",
    )(with_argument)


def domain_errors(function: F) -> F:
    """Turn domain, spec, query and configuration errors into messages with exit code 1."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from polyaxon_core.errors import PolyaxonError

        try:
            return function(*args, **kwargs)
        except PolyaxonError as exc:
            from polyaxon_core.errors import NotFound

            hint = project_origin_hint(str(exc)) if isinstance(exc, NotFound) else None
            raise CliError(f"{exc}; {hint}" if hint else str(exc)) from None
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

    from polyaxon_core.db.session import ensure_database
    from polyaxon_core.storage_errors import describe_storage_error
    from polyaxon_core.wakeup import waking_scope

    current = settings()
    try:
        ensure_database(current.db_url)
    except OperationalError as exc:
        failure = describe_storage_error(exc, current)
        if failure is not None:
            kind = CliConfigurationError if failure.exit_code == 2 else CliError
            raise kind(failure.message) from None
        raise CliError(
            f"cannot open the database at {current.db_url!r}: {exc.orig}. Check POLYAXON_DB_URL "
            "(and that the server is running), or unset it to use the embedded SQLite database."
        ) from None
    with waking_scope(current) as session:
        yield session


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


def administration() -> Any:
    """Where users, tokens and teams are administered: the server's API as the logged-in
    user when one is configured, else the database directly, as the local administrator."""
    from polyaxon_core.client.credentials import resolve

    credentials = resolve()
    if credentials is None:
        from polyaxon_core.client.administration import LocalAdministration

        configured = settings()
        return LocalAdministration(configured.db_url, database, configured.default_concurrency)
    from polyaxon_core.client.administration import RemoteAdministration
    from polyaxon_core.client.api import ApiClient

    return RemoteAdministration(ApiClient(credentials.host, credentials.token))


def optional_project_name(explicit: str | None) -> str | None:
    """The project to scope a command to: explicit, configured, or None (all projects)."""
    try:
        return default_project_name(explicit)
    except NoProjectGiven:
        return None


def run_project_name(explicit: str | None) -> str | None:
    """The project to find a run in by its uuid.

    A server addresses runs within a project, so the configured default applies there. In
    a database the uuid alone finds the run: only an explicit -p narrows the search, and a
    folder's default project need not exist in this POLYAXON_HOME.
    """
    if explicit:
        return default_project_name(explicit)
    from polyaxon_core.client.credentials import resolve

    if resolve() is None:
        return None
    return optional_project_name(None)


class NoProjectGiven(CliError):
    """Neither -p, nor POLYAXON_PROJECT, nor a folder's project file names a project."""


#: where the project of the running command came from, for messages (click's ctx.meta key)
PROJECT_SOURCE_KEY = "polyaxon.project_source"


def check_owner(owner: str, source: str, suggestion: str = "") -> None:
    """Refuse an owner other than ``default``, the only one of a local home and of a server."""
    from polyaxon_core.client.api import DEFAULT_OWNER

    if owner != DEFAULT_OWNER:
        raise CliError(f"{source}: unknown owner '{owner}'; this installation has one owner, "
                       f"'{DEFAULT_OWNER}'{suggestion}")


def project_name_from(value: str, source: str) -> str:
    """NAME from ``NAME`` or ``OWNER/NAME`` (the official client's spelling); an unknown
    owner is refused naming ``source`` (``-p``, ``POLYAXON_PROJECT``, a file), so the user
    knows what to change."""
    owner, slash, name = value.rpartition("/")
    if not slash:
        return value
    if not name:
        raise CliError(f"{source}: '{value}' has no project name after the '/'; "
                       "give NAME or OWNER/NAME (e.g. default/mnist)")
    check_owner(owner, source, f": give '{name}' or 'default/{name}'")
    return name


def default_project_name(explicit: str | None) -> str:
    """The project of a command: ``explicit`` (-p), else POLYAXON_PROJECT, else the
    ``.polyaxon/project.json`` of this folder or the nearest parent (``polyaxon init -p``).

    Where the name came from is remembered for the current command, so a project that does
    not exist is reported with its origin (see :func:`project_origin_hint`).
    """
    if explicit:
        name, source = project_name_from(explicit, "-p"), "-p"
    elif os.environ.get("POLYAXON_PROJECT"):
        source = "POLYAXON_PROJECT"
        name = project_name_from(os.environ["POLYAXON_PROJECT"], source)
    else:
        name, source = _folder_project()
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[PROJECT_SOURCE_KEY] = (name, source)
    return name


def _folder_project() -> tuple[str, str]:
    for folder in [Path.cwd(), *Path.cwd().parents]:
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            try:
                value = json.loads(candidate.read_text())["name"]
            except (ValueError, KeyError, TypeError):
                raise CliError(
                    f"{candidate} is not a valid project file; run `polyaxon init -p NAME` again"
                ) from None
            return project_name_from(str(value), str(candidate)), str(candidate)
    raise NoProjectGiven(
        "no project given: pass -p NAME, set POLYAXON_PROJECT, or run `polyaxon init -p NAME` "
        "in this folder"
    )


def project_origin_hint(message: str) -> str | None:
    """For a "not found" about the current command's project when it was not given with -p:
    where its name came from and how to change it."""
    context = click.get_current_context(silent=True)
    origin = context.meta.get(PROJECT_SOURCE_KEY) if context is not None else None
    if origin is None or origin[1] == "-p" or f"{origin[0]}'" not in message:
        return None
    name, source = origin
    if source == "POLYAXON_PROJECT":
        return (f"the project '{name}' comes from POLYAXON_PROJECT; pass -p NAME, or change or "
                "unset POLYAXON_PROJECT")
    return (f"the project '{name}' is this folder's default, from {source} (written by "
            "`polyaxon init -p`; it applies whichever POLYAXON_HOME or server is used); pass "
            "-p NAME, or run `polyaxon init -p NAME` in that folder to change it")


def confirm_or_refuse(question: str, yes: bool) -> None:
    """Ask ``question`` on the terminal unless ``yes`` (-y) was given.

    Without a terminal and without an answer on standard input, the command is refused
    (exit 1) with the flag that confirms it; "no" is a refusal too, and nothing is changed.
    """
    if yes:
        return
    try:
        answer = click.confirm(question, default=False, err=True)
    except click.exceptions.Abort:
        if sys.stdin is not None and sys.stdin.isatty():
            raise  # Ctrl-C or Ctrl-D at the prompt: the user interrupted
        raise CliError("no terminal to confirm on and no answer on standard input: pass "
                       "-y (--yes) to go ahead without the question") from None
    if not answer:
        raise CliError("not confirmed; nothing was changed")


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


def humanize_bytes(size: int) -> str:
    """``532 B``, ``1.4 KiB``, ``12.0 MiB``..."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


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
