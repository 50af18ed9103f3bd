"""Validate a loaded spec: JSON Schema first, then the semantic checks; every problem at once.

Schema errors become one `Problem` each (specc/schema_errors.py: positioned, found, expected,
hint, anyOf reduced to the likely branch); then the checks of specc/checks run on the
sections the schema did not break. Problems are sorted errors first, in file order.
No TensorFlow here.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

from specc.errors import Problem, SpecInvalid
from specc.schema import SUPPORTED_VERSIONS
from specc.schema_errors import schema_problems, show

if TYPE_CHECKING:
    from specc.load.document import Document


def validate(doc: Document) -> list[Problem]:
    """All problems in the document, errors before warnings, each group in file order."""
    version = doc.data.get("specc")
    if version is not None and version not in SUPPORTED_VERSIONS:
        return [_version_problem(doc, version)]
    from specc.checks import semantic_problems
    from specc.checks.wrappers import wrapper_problems

    problems = list(schema_problems(doc))
    problems += wrapper_problems(doc, problems) + nonfinite_problems(doc)
    placed = {p.path for p in problems}
    problems += [p for p in huge_integer_problems(doc) if p.path not in placed]
    errors_at = [p for p in problems if p.severity == "error"]
    broken = {_section(p) for p in errors_at if p.code in STRUCTURAL and len(p.path) == 1}
    shaky = {_section(p) for p in errors_at}
    problems += semantic_problems(doc, skip=broken, shaky=shaky)
    problems += _sweep_value_problems(doc, problems)
    if version is None:  # read it as the current format, so every other problem shows too
        problems = [_version_problem(doc, None)] + [p for p in problems if p.missing != "specc"]
    return sort_problems(_dedupe(_drop_untrainable_echoes(_drop_shape_echoes(_drop_echoes(problems)))))


def _sweep_value_problems(doc: Document, problems: list[Problem]) -> list[Problem]:
    """A sound sweep's values, each set on the spec and validated like a spec of its own."""
    if "sweep" not in doc.data or any(p.severity == "error" and p.path[:1] == ("sweep",) for p in problems):
        return []
    from specc.checks.sweep import value_problems

    return value_problems(doc, validate)


# A section whose own value has the wrong shape (a list where a mapping belongs, ...) is not
# checked further; deeper damage is not a reason to skip: the checks step around it, so that
# a wrong type in one layer does not hide a misspelled layer name in the next.
STRUCTURAL = ("type", "cardinality", "anyOf", "oneOf")


def _section(problem: Problem) -> str:
    return str(problem.path[0]) if problem.path else ""


def _drop_echoes(problems: list[Problem]) -> list[Problem]:
    """A misspelled required key is one mistake: keep `unknown key 'unit'`, drop `missing 'units'`.

    Any problem that says a key is missing (`missing` set, from the schema or a check) is
    dropped when an unknown key beside it was most likely meant to be that key.
    """
    meant = {(p.path[:-1], p.suggestions[0]) for p in problems
             if p.code == "unknown-key" and p.suggestions}
    return [p for p in problems if not (p.missing and (p.path, p.missing) in meant)]


def _drop_shape_echoes(problems: list[Problem]) -> list[Problem]:
    """A value of the wrong type inside a layer argument is one mistake: keep the schema's
    `found 'x' (a string), expected a number` at target_shape[2], drop the shape check's
    complaint about target_shape as a whole."""
    typed = [p.path for p in problems if p.code == "type" and p.severity == "error"]
    return [p for p in problems
            if not (p.code == "shape" and any(len(t) > len(p.path) and t[:len(p.path)] == p.path for t in typed))]


def _drop_untrainable_echoes(problems: list[Problem]) -> list[Problem]:
    """A value outside what Keras takes is one mistake: keep the schema's range error
    (`dropout: 1.5`), drop the training check's complaint about the same value."""
    refused = {p.path for p in problems if p.severity == "error" and p.code != "untrainable"}
    return [p for p in problems if not (p.code == "untrainable" and p.path in refused)]


def check(doc: Document) -> list[Problem]:
    """Like `validate`, but raise `SpecInvalid` when there is any error; returns warnings."""
    problems = validate(doc)
    if any(p.severity == "error" for p in problems):
        raise SpecInvalid(problems)
    return problems


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Errors first, then in file order (problems without a place last)."""
    def key(p: Problem) -> tuple:
        pos = p.position
        return (p.severity != "error", pos is None, pos.file if pos else "",
                pos.line if pos else 0, pos.column if pos else 0)
    return sorted(problems, key=key)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        ident = (p.path, p.message)
        if ident not in seen:
            seen.add(ident)
            out.append(p)
    return out


def _version_problem(doc, version) -> Problem:
    supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
    latest = SUPPORTED_VERSIONS[-1]
    if version is None:
        return Problem((), "missing the format version `specc:`",
                       f"add `specc: {latest}` as the first line (checked here as format {latest})",
                       doc.position_of(()), code="version")
    if str(version).strip() in {str(v) for v in SUPPORTED_VERSIONS}:
        hint = f"write the version as a number, without quotes: specc: {str(version).strip()}"
    elif isinstance(version, (int, float)) and not isinstance(version, bool) and version > latest:
        hint = f"a format {version} spec needs a newer specc; this one reads format {supported}"
    else:
        hint = f"write specc: {latest}"
    return Problem(("specc",), f"unknown format version {show(version)}; this specc reads format "
                   f"{supported}", hint, doc.position_of(("specc",)), code="version")


# --- numbers that are not finite ----------------------------------------------------------

def nonfinite_problems(doc: Document) -> list[Problem]:
    """NaN or infinity anywhere in a spec is an error: no setting takes them."""
    return [Problem(path, f"found {value!r}, expected a finite number",
                    "NaN and infinity are not valid settings; write a number",
                    doc.position_of(path), code="not-finite")
            for path, value in walk(doc.data)
            if isinstance(value, float) and not math.isfinite(value)]


# No setting takes an integer TensorFlow cannot hold (a 64-bit integer): `classes: 2**63` used
# to reach Keras as "Can't convert Python sequence with out-of-range integer to Tensor".
LARGEST_INTEGER = 2**63 - 1


def huge_integer_problems(doc: Document) -> list[Problem]:
    """An integer beyond 64 bits anywhere in a spec is an error."""
    return [Problem(path, f"found {value}, larger than any setting takes (at most {LARGEST_INTEGER:,})",
                    "write a realistic value", doc.position_of(path), code="range")
            for path, value in walk(doc.data)
            if type(value) is int and abs(value) > LARGEST_INTEGER]


def walk(node: Any, path: tuple = ()) -> Iterable[tuple[tuple, Any]]:
    """Every (path, value) in a JSON-like tree, parents before children."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, path + (index,))
