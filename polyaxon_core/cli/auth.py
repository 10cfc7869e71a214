"""``polyaxon login`` / ``logout`` / ``whoami``: the saved login of a server.

The login is ``$POLYAXON_HOME/auth.json`` (host, username, token), readable by its owner
only. Once saved, every command talks to that server (``POLYAXON_HOST`` still wins).
"""

from __future__ import annotations

import sys

import click

from polyaxon_core.cli.common import domain_errors, output_option, print_json
from polyaxon_core.cli.errors import CliError


def read_password(from_stdin: bool, confirm: bool = False) -> str:
    """The password from the first line of standard input, or prompted without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin: standard input had no password on its first line")
        return password
    try:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))
    except click.exceptions.Abort:
        if sys.stdin is not None and sys.stdin.isatty():
            raise  # Ctrl-C or Ctrl-D at the prompt: the user interrupted
        raise CliError("no terminal to ask for the password on: pipe it in with "
                       "--password-stdin") from None


@click.command("login")
@click.option("--host", metavar="URL",
              help="The server, e.g. http://127.0.0.1:8000 (default: POLYAXON_HOST, else the "
                   "saved login's).")
@click.option("-u", "--username", help="Your username on the server.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@click.option("-p", "--password",
              help="The password (the official client's option; it shows in the process list "
                   "and the shell history: prefer the prompt or --password-stdin).")
@click.option("-t", "--token", metavar="TOKEN",
              help="Save this existing token instead of logging in with a password.")
@domain_errors
def login_command(host: str | None, username: str | None, password_stdin: bool,
                  password: str | None, token: str | None) -> None:
    """Log in to a server and save the token for the next commands.

    \b
    polyaxon login --host http://127.0.0.1:8000 -u ada     # password prompted
    polyaxon login --host http://127.0.0.1:8000 -t TOKEN   # a token made earlier
    """
    import os

    from polyaxon_core.client.api import ApiClient
    from polyaxon_core.client.credentials import Credentials, load_saved, save
    from polyaxon_core.client.errors import Unauthenticated
    from polyaxon_core.client.hosts import normalize_host

    if host is None:
        host = os.environ.get("POLYAXON_HOST") or None
    if host is None:
        saved = load_saved()
        host = saved.host if saved is not None else None
    if host is None:
        raise CliError("which server? pass --host URL (e.g. --host http://127.0.0.1:8000) "
                       "or set POLYAXON_HOST")
    host = normalize_host(host, "--host")
    if token is not None:
        if username or password or password_stdin:
            raise CliError("give either --token, or --username with a password; not both")
        try:
            user = ApiClient(host, token).whoami()
        except Unauthenticated:
            raise CliError(f"{host} refused the token: it is unknown, revoked or expired") from None
        path = save(Credentials(host, token, str(user.get("username") or "")))
        click.echo(f"Logged in to {host} as {user.get('username')} with the given token; "
                   f"saved in {path}.")
        return
    if not username:
        raise CliError("who? pass -u USERNAME (with the password prompted, --password-stdin "
                       "or -p), or -t TOKEN")
    if password is not None and password_stdin:
        raise CliError("give the password once: --password or --password-stdin")
    if password is None:
        password = read_password(password_stdin)
    anonymous = ApiClient(host)
    try:
        token = anonymous.create_token(username, password)
    except Unauthenticated:
        raise CliError(f"login to {host} refused: wrong username or password") from None
    user = ApiClient(host, token).whoami()
    path = save(Credentials(host, token, str(user.get("username") or username)))
    role = f" ({user['role']})" if user.get("role") else ""
    click.echo(f"Logged in to {host} as {user.get('username') or username}{role}; "
               f"token saved in {path}.")


@click.command("logout")
@domain_errors
def logout_command() -> None:
    """Revoke the saved token on the server (when it can be reached) and delete it."""
    from polyaxon_core.client.api import ApiClient
    from polyaxon_core.client.credentials import auth_path, forget, load_saved
    from polyaxon_core.client.errors import ApiError, ServerUnreachable, Unauthenticated

    saved = load_saved()
    if saved is None:
        click.echo(f"Not logged in (no {auth_path()}).")
        return
    if saved.token:
        try:
            ApiClient(saved.host, saved.token).revoke_token()
            outcome = "token revoked"
        except Unauthenticated:
            outcome = "the token was no longer valid"
        except ServerUnreachable as exc:
            outcome = f"the token could not be revoked ({exc}); it stays valid until it expires"
        except ApiError as exc:
            outcome = (f"the server did not revoke the token (HTTP {exc.status}: "
                       f"{exc}); it stays valid until it expires")
    else:
        outcome = "no token was saved"
    forget()
    click.echo(f"Logged out of {saved.host}: {outcome}.")


@click.command("whoami")
@output_option
@domain_errors
def whoami_command(output: str) -> None:
    """Show who the server knows you as."""
    from polyaxon_core.client.api import ApiClient
    from polyaxon_core.client.credentials import resolve

    credentials = resolve()
    if credentials is None:
        raise CliError("not logged in: no server configured; run `polyaxon login --host URL -u "
                       "USER` or set POLYAXON_HOST and POLYAXON_AUTH_TOKEN")
    user = ApiClient(credentials.host, credentials.token).whoami()
    if output == "json":
        print_json({**user, "host": credentials.host})
        return
    role = f" ({user['role']})" if user.get("role") else ""
    email = f" <{user['email']}>" if user.get("email") else ""
    click.echo(f"{user.get('username')}{email}{role} on {credentials.host}")
