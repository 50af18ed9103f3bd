"""JSON Schema errors -> problems: one `Problem` per violation, with the position of the
offending key or value, what was found, what was expected and a hint. Errors under
`anyOf`/`oneOf` are reduced to the branch the user most likely meant instead of being dumped
as a wall. No TensorFlow here.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import math
import re

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from specc.errors import Problem
from specc.schema import load_schema
from specc.suggest import did_you_mean, one_of, suggest

if TYPE_CHECKING:
    from specc.load.document import Document

TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
              int: "an integer", float: "a number", type(None): "null"}


def _is_integer(checker: Any, instance: Any) -> bool:
    """An integer is an int: JSON Schema counts 2.0 as one, but Keras and Python do not
    (`epochs: 2.0` or an input dimension of 4.0 would crash the build)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


StrictValidator = validators.extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


@lru_cache(maxsize=None)
def validator() -> Any:
    return StrictValidator(load_schema())


def schema_problems(doc: Document) -> list[Problem]:
    """One problem per schema violation, reduced and positioned (the long forms of wrapped
    layers, which the schema alone accepts, are checked by specc/checks/wrappers.py)."""
    return errors_to_problems(doc, validator().iter_errors(doc.data))


def errors_to_problems(doc: Document, errors: Iterable[ValidationError], prefix: tuple = ()) -> list[Problem]:
    out: list[Problem] = []
    for error in errors:
        for leaf in reduce_error(error):
            if not _block_param(leaf, prefix):
                out += to_problems(doc, leaf, prefix)
    return out


def _block_param(error: ValidationError, prefix: tuple = ()) -> bool:
    """`filters: $filters` inside a block: the value comes from the block call."""
    path = prefix + tuple(error.absolute_path)
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


def to_problems(doc: Document, error: ValidationError, prefix: tuple = ()) -> Iterator[Problem]:
    """Turn one (leaf) schema error into one or more problems (`prefix`: where the validated
    value sits in the document, when it is not the whole document)."""
    path = prefix + tuple(error.absolute_path)
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
    yield Problem(path, f"missing required key '{missing}'", _add_hint(error.schema, missing),
                  doc.position_of(path), code="missing-key", missing=missing)


# What to add for a missing section: an example reads better than the description.
SECTION_EXAMPLES = {
    "name": "name: my-experiment",
    "data": "data: {source: {builtin: iris}}",
    "task": "task: {type: multiclass, classes: 3}",
    "model": "model: {inputs: {features: [4]}, layers: [{dense: {units: 16, activation: relu}}]}",
}


def _add_hint(schema: dict, key: str) -> str:
    """`add `units:` (an integer)` -- with the key's description or type when the schema has one."""
    from specc.schema import resolve_ref

    if schema is load_schema() and key in SECTION_EXAMPLES:
        return f"add the section, e.g. `{SECTION_EXAMPLES[key]}`"
    sub = resolve_ref(schema.get("properties", {}).get(key, {}))
    desc = _describe(sub)
    if not desc or desc == "required" or desc.startswith("required"):
        kinds = sub.get("type") if isinstance(sub, dict) else None
        kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
        desc = " or ".join(_json_type_name(k) for k in kinds) or None
    return f"add `{key}:` ({desc})" if desc else f"add `{key}:`"


def _enum(doc, path, error):
    allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
    found = error.instance
    hint = did_you_mean(found, [str(a) for a in allowed]) if isinstance(found, str) else None
    shown = ["null" if a is None else a for a in allowed]
    yield Problem(path, f"found {show(found)}, expected one of: {one_of(shown)}",
                  hint, doc.position_of(path), code="enum")


def _type(doc, path, error):
    expected = error.validator_value
    expected = expected if isinstance(expected, list) else [expected]
    names = " or ".join(_json_type_name(t) for t in expected)
    a_float_for_an_int = isinstance(error.instance, float) and "integer" in expected
    hint = (_type_hint(error.instance, expected) or (None if a_float_for_an_int else _shape_hint(path, error))
            or _forms_hint(path, error) or _value_hint(path, error.instance, expected, error.schema))
    yield Problem(path, f"found {show(error.instance)}, expected {names}",
                  hint, doc.position_of(path), code="type")


def _shape_hint(path: tuple, error: ValidationError) -> str | None:
    """For a single value where a list or a mapping belongs: what to write instead."""
    if isinstance(error.instance, (dict, list)):
        return None
    expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    name = path[-1] if path and isinstance(path[-1], str) else "value"
    if "array" in expected:
        numbers = re.findall(r"-?\d+(?:\.\d+)?", str(error.instance)) if isinstance(error.instance, str) else []
        shown = ", ".join(numbers) if numbers else _yaml_scalar(error.instance)
        return f"write it as a list, e.g. {name}: [{shown}]"
    required = error.schema.get("required") or []
    if "object" in expected and required:
        args = ", ".join(f"{key}: ..." for key in required)
        return f"give a mapping with its required keys: {name}: {{{args}}}"
    return None


YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def _forms_hint(path: tuple, error: ValidationError) -> str | None:
    """Where one of several forms (a one-key mapping) belongs: name the forms, and the one a
    bare value most likely meant (`source: wine` -> `{builtin: wine}`)."""
    forms = list(error.schema.get("properties") or {})
    if error.schema.get("maxProperties") != 1 or not forms or isinstance(error.instance, (dict, list)):
        return None
    name = path[-1] if path and isinstance(path[-1], str) else "value"
    for form in forms:
        allowed = (error.schema["properties"][form] or {}).get("enum") or []
        if error.instance in allowed:
            return f"write {name}: {{{form}: {_yaml_scalar(error.instance)}}}"
    return f"write one of the forms as a mapping: {one_of([f'{{{f}: ...}}' for f in forms])}"


def _value_hint(path: tuple, found: Any, expected: list, schema: Any) -> str | None:
    """What to write instead, with the key's default as the example when it has one."""
    key = f"{path[-1]}: " if path and isinstance(path[-1], str) else ""
    example = _default_of(schema)
    if "integer" in expected and isinstance(found, float) and math.isfinite(found):
        whole = int(found) if found.is_integer() else round(found)
        return f"write a whole number without a decimal point, e.g. {key}{whole}"
    if "integer" in expected:
        return f"write a whole number, e.g. {key}{example if example is not None else 1}"
    if "number" in expected:
        return f"write a number, e.g. {key}{example if example is not None else 0.5}"
    if "boolean" in expected:
        return f"write true or false, e.g. {key}{example if example is not None else 'true'}"
    return _describe(schema)


def _default_of(schema: Any) -> str | None:
    """The default a key's description states (`... (default 10).`, `default: 0.001`)."""
    text = _describe(schema) or ""
    found = re.search(r"default:? ([-\w.]+)", text)
    if not found or found.group(1) in ("null", "None"):
        return None
    return found.group(1).rstrip(".")


def _type_hint(found: Any, expected: list) -> str | None:
    """A hint for the usual slips: `yes` for true, a number in quotes."""
    if not isinstance(found, str):
        return None
    if "boolean" in expected and found.lower() in YAML11_BOOLS:
        return f"'{found}' is text in YAML 1.2; write true or false"
    if {"integer", "number"} & set(expected) and _looks_numeric(found):
        return f"remove the quotes: {found.strip()}"
    return None


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
    hint = _describe(error.schema)
    if not isinstance(error.instance, (dict, list)) and "a list" in options:
        hint = f"write it as a list, e.g. {path[-1] if path else 'value'}: [{_yaml_scalar(error.instance)}]"
    yield Problem(path, f"found {show(error.instance)}, expected {' or '.join(options)}",
                  hint, doc.position_of(path), code="type")


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _property_names(doc, path, error):
    for key in error.instance:
        if isinstance(key, str) and not _matches(key, error.validator_value):
            yield Problem(path + (key,), f"'{key}' is not a valid name here",
                          "names start with a letter or _ and hold only letters, digits and _",
                          doc.key_position_of(path + (key,)), code="name")


def _matches(key: str, schema: dict) -> bool:
    return not list(Draft202012Validator(schema).iter_errors(key))


def _generic(doc, path, error):
    hint = _range_hint(path, error) or (error.schema.get("x-hint") if isinstance(error.schema, dict) else None)
    yield Problem(path, _plain_message(error), hint or _describe(error.schema),
                  doc.position_of(path), code=str(error.validator))


RANGE_WORDS = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
               "exclusiveMaximum": "less than"}


def _range_hint(path: tuple, error: ValidationError) -> str | None:
    """The whole allowed range of a number, so one fix is enough (a rate: 0 to 1)."""
    if error.validator not in RANGE_WORDS:
        return None
    schema = error.schema
    bounds = [f"{RANGE_WORDS[k]} {schema[k]}" for k in RANGE_WORDS if k in schema]
    name = next((p for p in reversed(path) if isinstance(p, str)), "the value")
    return f"{name} must be {' and '.join(bounds)}"


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


PATTERN_TEXT = {
    "^[A-Za-z0-9][A-Za-z0-9_.-]*$": "letters, digits, '_', '.' and '-' only, starting with a "
                                    "letter or digit (no spaces)",
    "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$": "a Python module name such as my_layers "
                                                            "or pkg.layers",
    "^[A-Za-z_][A-Za-z0-9_]*$": "a name of letters, digits and '_' that does not start with a digit",
}


def _plain_message(error: ValidationError) -> str:
    value = error.validator_value
    found = show(error.instance)
    expected = error.schema.get("x-expected") if isinstance(error.schema, dict) else None
    if expected and error.validator in ("pattern", "not"):  # the generated schema says what it takes
        return f"found {found}, expected {expected}"
    texts = {
        "minimum": f"found {found}, expected at least {value}",
        "maximum": f"found {found}, expected at most {value}",
        "exclusiveMinimum": f"found {found}, expected more than {value}",
        "exclusiveMaximum": f"found {found}, expected less than {value}",
        "minItems": f"found {found}, expected at least {value} item(s)",
        "maxItems": f"found {found}, expected at most {value} item(s)",
        "minLength": f"found {found}, expected at least {value} character(s)",
        "maxLength": f"found {found}, expected at most {value} character(s)",
        "pattern": f"found {found}, expected {PATTERN_TEXT.get(value, 'text matching ' + str(value))}",
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
        return show(branch["const"])
    if "enum" in branch:
        return "one of " + one_of(branch["enum"])
    kind = branch.get("type", "a value")
    kinds = kind if isinstance(kind, list) else [kind]
    return " or ".join(_json_type_name(k) for k in kinds)


def show(value: Any) -> str:
    """A short description of a value for messages: `'abc' (a string)`."""
    kind = TYPE_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, (dict, list)):
        return kind
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({kind})"
