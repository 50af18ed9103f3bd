"""`specc validate`, `render` and `schema`: they never import TensorFlow."""
from __future__ import annotations

import json
import sys

import click

from specc import errors
from specc.cli.common import load_checked, spec_options
from specc.cli.group import main


# --- validate / render / schema (never import TensorFlow) ----------------------------------

@main.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@spec_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="json: one object per file with its problems (for editors and CI).")
def validate(files: tuple[str, ...], overrides: tuple[str, ...], fmt: str) -> None:
    """Check spec files; report every problem at once, with file:line:column."""
    from specc.api import problems_of

    results, worst = [], errors.EXIT_OK
    for path in files:
        problems, code = problems_of(path, overrides)
        worst = max(worst, code)
        results.append((path, problems, code))
    if fmt == "json":
        click.echo(json.dumps([_json_result(*r) for r in results], indent=2))
    else:
        for path, problems, code in results:
            _print_text_result(path, problems, code)
    sys.exit(worst)


def _json_result(path: str, problems: list, code: int) -> dict:
    return {"file": path, "valid": code == errors.EXIT_OK, "exit_code": code,
            "problems": [p.to_json() for p in problems]}


def _print_text_result(path: str, problems: list, code: int) -> None:
    for problem in problems:
        click.echo(problem.format(), err=True)
    n = sum(1 for p in problems if p.severity == "error")
    if code == errors.EXIT_OK:
        click.echo(f"{path}: ok" + (f" ({len(problems)} warning(s))" if problems else ""))
    elif n:
        click.echo(f"{path}: {n} problem(s)", err=True)


@main.command()
@click.argument("file")
@spec_options
def render(file: str, overrides: tuple[str, ...]) -> None:
    """Print the fully resolved spec (extends merged, overrides applied, defaults and auto filled)."""
    from specc.render import render as render_spec

    doc = load_checked(file, overrides)
    click.echo(render_spec(doc.data), nl=False)


@main.command()
@click.option("--section", help="Print only one top-level section (e.g. model, optimizer).")
def schema(section: str | None) -> None:
    """Print the JSON Schema of the spec format (for editors and CI)."""
    from specc import schema as schemas
    from specc.suggest import did_you_mean

    if section is None:
        click.echo(json.dumps(schemas.load_schema(), indent=1))
        return
    names = schemas.section_names()
    if section not in names:
        hint = did_you_mean(section, names) or f"sections: {', '.join(names)}"
        raise errors.UsageError(f"no section '{section}' in the schema", hint)
    click.echo(json.dumps(schemas.section_schema(section), indent=1))
