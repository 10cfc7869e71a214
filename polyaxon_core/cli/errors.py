"""Turn every expected failure into one clear message and an exit code, never a traceback."""

from __future__ import annotations

import os
import sys

import click


class CliError(click.ClickException):
    """A failure the user can act on; the message says what went wrong and the fix."""

    exit_code = 1


class CliConfigurationError(CliError):
    """A failure the configuration causes (exit code 2); the message names the fix."""

    exit_code = 2


def run_cli(group: click.Group) -> int:
    from polyaxon_core.config import ConfigurationError

    try:
        group.main(standalone_mode=False, prog_name=os.path.basename(sys.argv[0]) or "polyaxon")
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except ConfigurationError as exc:
        click.echo(f"Error: configuration: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("POLYAXON_DEBUG"):
            raise
        from polyaxon_core.storage_errors import describe_storage_error

        failure = describe_storage_error(exc)
        if failure is not None:
            click.echo(f"Error: {failure.message}", err=True)
            return failure.exit_code
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {exc}\n"
            "This is a bug in polyaxon or one of its plugins; run again with POLYAXON_DEBUG=1 "
            "to see where it happened, and report it.",
            err=True,
        )
        return 1
    return 0
