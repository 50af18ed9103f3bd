"""Which documentation page each command's help points to: one table, read by `--help`.

Every command's help ends with `see: docs/...md`, the page to read next (a file name, not a
link: help text is read in a terminal). tests/test_docs.py checks that every command is in
the table and that every page named exists.
"""
from __future__ import annotations

import click

# command path ("" is `specc` itself) -> the page of the docs site, relative to the repository
DOC_PAGES = {
    "": "docs/getting-started.md",
    "validate": "docs/guides/specs.md",
    "render": "docs/guides/specs.md",
    "schema": "docs/reference.md",
    "compile": "docs/guides/models.md",
    "train": "docs/guides/training.md",
    "evaluate": "docs/guides/training.md",
    "predict": "docs/guides/training.md",
    "serve": "docs/guides/serving.md",
    "export": "docs/guides/export.md",
    "verdict": "docs/guides/trees.md",
    "sweep": "docs/guides/sweeps.md",
    "sweep-trial": "docs/guides/sweeps.md",
    "warm-worker": "docs/guides/sweeps.md",
    "runs": "docs/guides/training.md",
    "runs list": "docs/guides/training.md",
    "runs show": "docs/guides/training.md",
    "runs compare": "docs/guides/training.md",
    "runs export": "docs/guides/sweeps.md",
}


def command_paths(command: click.Command, path: str = "") -> dict[str, click.Command]:
    """Every command under `command` (itself included) by its path: {"runs list": ...}."""
    found = {path: command}
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found.update(command_paths(sub, f"{path} {name}".strip()))
    return found


def point_to_docs(group: click.Group) -> None:
    """End the help of `group` and of every command under it with the page DOC_PAGES names."""
    for path, command in command_paths(group).items():
        page = DOC_PAGES.get(path)
        if page:
            command.epilog = f"see: {page}"
