"""The click group class every specc command group uses: specc errors -> message + exit code."""
from __future__ import annotations

import traceback
from pathlib import Path

import click

from specc import errors
from specc.errors import SpeccError


class SpeccGroup(click.Group):
    """Runs a command and turns every specc error into its message and exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SpeccError as exc:
            click.echo(exc.format(), err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            click.echo(f"interrupted: {exc}" if exc.args else "interrupted", err=True)
            ctx.exit(errors.EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug in specc: one line, the details in a file
            ctx.exit(_internal_error(exc))


def _internal_error(exc: Exception) -> int:
    log = Path.home() / ".specc-crash.log"
    try:
        log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        where = f"details in {log}"
    except OSError:
        where = "no details could be saved"
    click.echo(f"internal error: {type(exc).__name__}: {exc} ({where}; please report it)", err=True)
    return errors.EXIT_INTERNAL
