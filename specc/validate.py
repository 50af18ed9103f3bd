"""Validate a loaded spec: JSON Schema first, then the semantic checks; every problem at once.

Schema errors are turned into one `Problem` each, with the position of the offending key or
value, what was found, what was expected and a hint. Errors under `anyOf`/`oneOf` are reduced
to the branch the user most likely meant instead of being dumped as a wall.
No TensorFlow here.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Iterable, Iterator

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from specc.errors import Problem, SpecInvalid
from specc.schema import SUPPORTED_VERSIONS, load_schema
from specc.suggest import did_you_mean, one_of, suggest

TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
              int: "an integer", float: "a number", type(None): "null"}


@lru_cache(maxsize=None)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema())


def validate(doc) -> list[Problem]:
    """All problems in the document, errors before warnings, each group in file order."""
    version = doc.data.get("specc")
    if version not in SUPPORTED_VERSIONS:
        return [_version_problem(doc, version)]
    from specc.checks import semantic_problems

    problems = _drop_echoes(list(schema_problems(doc)))
    problems += nonfinite_problems(doc)
    errors_at = [p for p in problems if p.severity == "error"]
    broken = {_section(p) for p in errors_at if p.code in STRUCTURAL}
    shaky = {_section(p) for p in errors_at}
    problems += semantic_problems(doc, skip=broken, shaky=shaky)
    return sort_problems(_dedupe(problems))


STRUCTURAL = ("type", "cardinality", "anyOf", "oneOf")


def _section(problem: Problem) -> str:
    return str(problem.path[0]) if problem.path else ""


def _drop_echoes(problems: list[Problem]) -> list[Problem]:
    """A misspelled required key is one mistake: keep `unknown key 'unit'`, drop `missing 'units'`."""
    meant = {(p.path[:-1], p.suggestions[0]) for p in problems
             if p.code == "unknown-key" and p.suggestions}
    return [p for p in problems
            if not (p.code == "missing-key" and (p.path, p.missing) in meant)]


def check(doc) -> list[Problem]:
    """Like `validate`, but raise `SpecInvalid` when there is any error; returns warnings."""
    problems = validate(doc)
    if any(p.severity == "error" for p in problems):
        raise SpecInvalid(problems)
    return problems


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Errors first, then in file order (problems without a place last)."""
    def key(p: Problem):
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
    if version is None:
        return Problem((), "missing the format version `specc:`", f"add `specc: 1` as the first line",
                       doc.position_of(()), code="version")
    return Problem(("specc",), f"unknown format version {version!r}; supported: {supported}",
                   "this specc reads format 1; a newer spec needs a newer specc",
                   doc.position_of(("specc",)), code="version")


# --- JSON Schema errors -> problems -------------------------------------------------------

def schema_problems(doc) -> Iterator[Problem]:
    """One problem per schema violation, reduced and positioned."""
    for error in _validator().iter_errors(doc.data):
        for leaf in reduce_error(error):
            if not _block_param(leaf):
                yield from to_problems(doc, leaf)


def _block_param(error: ValidationError) -> bool:
    """`filters: $filters` inside a block: the value comes from the block call."""
    path = tuple(error.absolute_path)
    return (len(path) > 2 and path[:2] == ("model", "blocks") and isinstance(error.instance, str)
            and error.instance.startswith("$") and error.validator in ("type", "enum", "const"))


def reduce_error(error: ValidationError) -> list[ValidationError]:
    """Replace an anyOf/oneOf error by the errors of the branch the user most likely meant."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    plausible = {i: errs for i, errs in branches.items() if not _shallow_mismatch(errs)}
    if not plausible:
        return [error]
    best = max(plausible.values(), key=lambda errs: (max(len(e.path) for e in errs), -len(errs)))
    return [leaf for sub in best for leaf in reduce_error(sub)]


def _shallow_mismatch(errors: list[ValidationError]) -> bool:
    """A branch whose very first check (type, const, enum) fails at the value itself."""
    return any(len(e.relative_path) == 0 and e.validator in ("type", "const", "enum")
               for e in errors)


def to_problems(doc, error: ValidationError) -> Iterator[Problem]:
    """Turn one (leaf) schema error into one or more problems."""
    path = tuple(error.absolute_path)
    handler = _HANDLERS.get(error.validator, _generic)
    yield from handler(doc, path, error)


def _unknown_keys(doc, path, error):
    schema = error.schema
    allowed = list(schema.get("properties", {}))
    extras = [k for k in error.instance if k not in allowed]
    where = "the top level" if not path else f"`{path[-1]}`"
    for key in extras:
        close = suggest(key, allowed)
        hint = did_you_mean(key, allowed) or f"allowed keys here: {one_of(allowed)}"
        yield Problem(path + (key,), f"unknown key '{key}' in {where}", hint,
                      doc.key_position_of(path + (key,)), code="unknown-key", suggestions=close)


def _required(doc, path, error):
    missing = error.message.split("'")[1] if "'" in error.message else error.message
    desc = _describe(error.schema.get("properties", {}).get(missing, {}))
    hint = f"add `{missing}:` ({desc})" if desc and desc != "required" else f"add `{missing}:`"
    yield Problem(path, f"missing required key '{missing}'", hint, doc.position_of(path),
                  code="missing-key", missing=missing)


def _enum(doc, path, error):
    allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
    found = error.instance
    hint = did_you_mean(found, [str(a) for a in allowed]) if isinstance(found, str) else None
    yield Problem(path, f"found {_show(found)}, expected one of: {one_of(allowed)}",
                  hint, doc.position_of(path), code="enum")


def _type(doc, path, error):
    expected = error.validator_value
    expected = expected if isinstance(expected, list) else [expected]
    names = " or ".join(_json_type_name(t) for t in expected)
    yield Problem(path, f"found {_show(error.instance)}, expected {names}",
                  _describe(error.schema), doc.position_of(path), code="type")


def _one_key(doc, path, error):
    keys = list(error.schema.get("properties", {}))
    if error.validator == "maxProperties" and error.validator_value == 1:
        found = ", ".join(f"'{k}'" for k in error.instance)
        msg = f"give exactly one of {one_of(keys)}; found {found}"
    elif error.validator == "minProperties":
        msg = "is empty"
        if keys:
            msg += f"; give one of: {one_of(keys)}"
    else:
        msg = error.message
    yield Problem(path, msg, _describe(error.schema), doc.position_of(path), code="cardinality")


def _any_of(doc, path, error):
    options = [_branch_summary(b) for b in error.validator_value]
    yield Problem(path, f"found {_show(error.instance)}, expected {' or '.join(options)}",
                  _describe(error.schema), doc.position_of(path), code="type")


def _property_names(doc, path, error):
    for key in error.instance:
        if isinstance(key, str) and not _matches(key, error.validator_value):
            yield Problem(path + (key,), f"'{key}' is not a valid name here",
                          "names start with a letter or _ and hold only letters, digits and _",
                          doc.key_position_of(path + (key,)), code="name")


def _matches(key: str, schema: dict) -> bool:
    return not list(Draft202012Validator(schema).iter_errors(key))


def _generic(doc, path, error):
    yield Problem(path, _plain_message(error), _describe(error.schema),
                  doc.position_of(path), code=str(error.validator))


_HANDLERS = {
    "additionalProperties": _unknown_keys,
    "required": _required,
    "enum": _enum,
    "const": _enum,
    "type": _type,
    "maxProperties": _one_key,
    "minProperties": _one_key,
    "anyOf": _any_of,
    "oneOf": _any_of,
    "propertyNames": _property_names,
}


def _plain_message(error: ValidationError) -> str:
    value = error.validator_value
    found = _show(error.instance)
    texts = {
        "minimum": f"found {found}, expected at least {value}",
        "maximum": f"found {found}, expected at most {value}",
        "exclusiveMinimum": f"found {found}, expected more than {value}",
        "exclusiveMaximum": f"found {found}, expected less than {value}",
        "minItems": f"found {found}, expected at least {value} item(s)",
        "maxItems": f"found {found}, expected at most {value} item(s)",
        "minLength": f"found {found}, expected at least {value} character(s)",
        "maxLength": f"found {found}, expected at most {value} character(s)",
        "pattern": f"found {found}, which does not match the pattern {value}",
        "uniqueItems": f"found {found}, which lists an item twice",
    }
    return texts.get(error.validator, error.message)


def _describe(schema: Any) -> str | None:
    if isinstance(schema, dict) and schema.get("description"):
        return schema["description"]
    return None


def _json_type_name(name: str) -> str:
    return {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
            "number": "a number", "boolean": "true or false", "null": "null"}.get(name, name)


def _branch_summary(branch: dict) -> str:
    branch = branch if isinstance(branch, dict) else {}
    if "$ref" in branch:
        from specc.schema import resolve_ref
        branch = resolve_ref(branch)
    if "const" in branch:
        return _show(branch["const"])
    if "enum" in branch:
        return "one of " + one_of(branch["enum"])
    kind = branch.get("type", "a value")
    kinds = kind if isinstance(kind, list) else [kind]
    return " or ".join(_json_type_name(k) for k in kinds)


def _show(value: Any) -> str:
    """A short description of a value for messages: `'abc' (a string)`."""
    kind = TYPE_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, (dict, list)):
        return kind
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kind})"


# --- numbers that are not finite ----------------------------------------------------------

def nonfinite_problems(doc) -> list[Problem]:
    """NaN or infinity anywhere in a spec is an error: no setting takes them."""
    return [Problem(path, f"found {value!r}, expected a finite number",
                    "NaN and infinity are not valid settings; write a number",
                    doc.position_of(path), code="not-finite")
            for path, value in walk(doc.data)
            if isinstance(value, float) and not math.isfinite(value)]


def walk(node: Any, path: tuple = ()) -> Iterable[tuple[tuple, Any]]:
    """Every (path, value) in a JSON-like tree, parents before children."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, path + (index,))
