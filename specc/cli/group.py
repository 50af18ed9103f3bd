"""The `specc` command group, and the click group class every specc command group uses:
specc errors -> message + exit code, never a traceback."""
from __future__ import annotations

import os
import secrets
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import click

from specc import errors
from specc.errors import SpeccError
from specc.shown import printable


class SpeccGroup(click.Group):
    """Runs a command and turns every specc error into its message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpeccError as exc:
            click.echo(printable(exc.format()), err=True)  # it may quote a run folder's text
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            click.echo(f"interrupted: {exc}" if exc.args else "interrupted", err=True)
            ctx.exit(errors.EXIT_INTERRUPTED)
        except BrokenPipeError:  # the reader went away (`specc runs list | head`): nothing is wrong
            _quiet_stdout()
            ctx.exit(errors.EXIT_OK)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug in specc: one line, the details in a file
            ctx.exit(_internal_error(exc))


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def crash_log_path(exc: BaseException, when: Optional[datetime] = None) -> Path:
    """Where the details of one crash go: its own file, named by the time, the process and
    the run it happened in (when a run had started), so no crash overwrites another's."""
    moment = (when or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    run = getattr(exc, "specc_run_id", None)
    name = f"crash-{moment}-{os.getpid()}-{secrets.token_hex(3)}" + (f"-{run}" if run else "") + ".log"
    return Path.home() / ".specc" / "crashes" / name


def _internal_error(exc: Exception) -> int:
    log = crash_log_path(exc)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        where = f"details in {log}"
    except OSError:
        where = "no details could be saved"
    click.echo(f"internal error: {type(exc).__name__}: {exc} ({where}; please report it)", err=True)
    return errors.EXIT_INTERNAL


@click.group(cls=SpeccGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="specc")
def main() -> None:
    """specc: declarative model specs for Keras -- validate, compile, train, evaluate, export.

    \b
    Exit codes: 0 ok, 1 invalid spec, 2 usage error, 3 bad data, 4 training failed,
    5 export failed, 6 worker lost, 70 internal error, 130 interrupted.
    """
