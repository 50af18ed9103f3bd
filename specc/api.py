"""The library API behind the CLI: load + check a spec, or list its problems. No TensorFlow."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from specc import errors
from specc.errors import Problem, SpecLoadError, UsageError
from specc.load import Document, load_spec
from specc.load.overrides import override_allowed  # noqa: F401  (the library API names it)


def load_document(path: str, overrides: Sequence[str] = ()) -> Document:
    """Load a spec with extends merged and overrides applied (raises SpecLoadError/UsageError)."""
    from specc.load import apply_overrides

    doc = load_spec(path)
    if overrides:
        doc = apply_overrides(doc, overrides, allowed=override_allowed)
    return doc


def load_and_check(path: str, overrides: Sequence[str] = ()) -> tuple[Document, list[Problem]]:
    """Load and validate; raise SpecInvalid with every problem, else return (doc, warnings)."""
    from specc.validate import check

    doc = load_document(path, overrides)
    return doc, check(doc)


def problems_of(path: str, overrides: Sequence[str] = ()) -> tuple[list[Problem], int]:
    """Every problem of one spec file and the exit code `specc validate` gives for it."""
    from specc.validate import validate

    try:
        doc = load_document(path, overrides)
    except SpecLoadError as exc:
        return [Problem((), exc.message, exc.hint, exc.position, code="load")], exc.exit_code
    except UsageError as exc:
        return [Problem((), exc.message, exc.hint, None, code="usage")], exc.exit_code
    problems = validate(doc)
    failed = any(p.severity == "error" for p in problems)
    return problems, errors.EXIT_INVALID_SPEC if failed else errors.EXIT_OK


def resolved_spec(doc: Document) -> dict:
    """The resolved spec (defaults, short forms, auto) of a valid document."""
    from specc.render import resolve

    return resolve(doc.data)


def spec_dir(doc: Document) -> Path:
    """The folder relative paths in a spec are resolved against."""
    return Path(doc.files[-1]).resolve().parent
