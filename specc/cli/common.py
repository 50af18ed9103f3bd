"""What the commands share: --set, loading a checked spec, printing through a reporter."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import click

from specc.errors import UsageError

SET_HELP = "Override a setting before validation: --set optimizer.adam.learning_rate=3e-4 (repeatable)."


def spec_options(func: Callable) -> Callable:
    return click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=SET_HELP)(func)


def load_checked(path: str, overrides: Sequence[str] = ()) -> Any:
    """Load, apply overrides, validate; print warnings; raise on errors. Returns the Document."""
    from specc.api import load_and_check

    doc, warnings = load_and_check(path, overrides)
    for problem in warnings:
        click.echo(problem.format(), err=True)
    return doc


class Echo:
    """The reporter of the command line: each progress line goes to stdout (or, `err`, to
    stderr: beside output a program reads, such as `--format json`)."""

    def __init__(self, err: bool = False) -> None:
        self.err = err

    def line(self, text: str) -> None:
        click.echo(text, err=self.err)


def reporter(quiet: bool) -> Any:
    """Echo, or (quiet) nothing."""
    from specc.report import SILENT

    return SILENT if quiet else Echo()


def refuse_existing(path: str, force: bool = False) -> None:
    if Path(path).exists() and not force:
        raise UsageError(f"{path} exists already", "remove it, or pass --force")
