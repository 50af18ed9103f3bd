"""Splice the generated parts into the spec schema (one file, for editors).

    python tools/bundle_schema.py          # rewrite schemas/specc-v1.schema.json
    python tools/bundle_schema.py --check  # exit 1 if it is out of date

The hand-written part of schemas/specc-v1.schema.json is everything except:
- the `$defs/layer.<name>` entries and the layer-name entries of `$defs/layer_item/properties`,
  from schemas/layers-v1.defs.json (written by tools/gen_catalog.py from the installed Keras);
- what the registries say (specc/registries.py): the task types (`task.type`) and their
  fields (a field two types declare differently is given per type, under `if type == X`), the
  optimizer parts and the model parts of composite task types, the export formats and quantization modes,
  the data source forms (a source whose registry line gives its `schema`; the others' are
  hand-written here) and the builtin data sets.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc.backbones import KEY as BACKBONE  # noqa: E402
from specc.layer_items import META_KEYS as META  # noqa: E402
from specc.tasks import trees  # noqa: E402
from specc.registries import (BUILTIN_DATA_SETS, DATA_SOURCES, EXPORT_FORMATS, QUANTIZE_MODES,  # noqa: E402
                              TASK_TYPES, optimizer_parts)

SCHEMA = ROOT / "schemas" / "specc-v1.schema.json"
DEFS = ROOT / "schemas" / "layers-v1.defs.json"
LAYER_PREFIX = "layer."
CALL_PREFIX = "call."
# kind -> (the $defs entry of "a name or {name: {args}}" of that kind, what it is)
CALLS = {"optimizers": ("optimizer_call", "An optimizer"), "losses": ("loss_call", "A loss"),
         "metrics": ("metric_call", "A metric"), "schedules": ("schedule_call", "A learning-rate schedule"),
         "initializers": ("initializer_call", "An initializer"),
         "regularizers": ("regularizer_call", "A regularizer"), "constraints": ("constraint_call", "A constraint")}


def object_calls(object_args: dict) -> dict:
    """`call.<kind>.<name>` (the arguments of one named object) and `<kind>_call` (a name, or a
    one-key mapping {name: {args}}: known names get their arguments checked; an unknown name
    is left to specc's checks, which suggest the name meant)."""
    out = {}
    for kind, (call, what) in CALLS.items():
        names = sorted(object_args[kind])
        out[call] = {"description": f"{what}: a Keras name (snake_case), or {{name: {{arguments}}}}.",
                     "type": ["string", "object", "null"], "minProperties": 1, "maxProperties": 1,
                     "properties": {n: {"$ref": f"#/$defs/{CALL_PREFIX}{kind}.{n}"} for n in names},
                     "additionalProperties": {"type": ["object", "null"]}}
        for name in names:
            out[f"{CALL_PREFIX}{kind}.{name}"] = object_args[kind][name]
    return out

def bundled(schema: dict, defs: dict) -> dict:
    """The schema with the layer definitions spliced in (a new dict)."""
    schema = json.loads(json.dumps(schema))
    # One $defs entry per layer: a `$defs/layer_args` mapping of them would itself be read
    # as a schema, with layer names such as `maximum` taken for keywords.
    kept = {k: v for k, v in schema["$defs"].items() if not k.startswith(LAYER_PREFIX) and k != "layer_args"}
    kept = {k: v for k, v in kept.items() if not k.startswith(CALL_PREFIX) and not k.endswith("_call")}
    layers = {f"{LAYER_PREFIX}{name}": defs["layer_args"][name] for name in sorted(defs["layer_args"])}
    schema["$defs"] = {**kept, **object_calls(defs["object_args"]), **layers}
    item = schema["$defs"]["layer_item"]
    props = {key: item["properties"][key] for key in META}
    props[BACKBONE] = {"$ref": f"#/$defs/{BACKBONE}"}  # specc's own layer: a trained network
    for name in sorted(defs["layer_args"]):
        props[name] = {"$ref": f"#/$defs/{LAYER_PREFIX}{name}"}
    item["properties"] = props
    return from_registries(schema)


def from_registries(schema: dict) -> dict:
    """The registries' names and fields in the schema (in place; returned)."""
    defs = schema["$defs"]
    task = defs["task"]["properties"]
    kept = {k: v for k, v in task.items() if k in ("type", "outputs")}
    kept["type"] = {"description": "The kind of problem: " + ", ".join(
        f"{name} ({TASK_TYPES.get(name).description})" for name in TASK_TYPES) + ".",
        "enum": TASK_TYPES.names()}
    fields, branches = task_fields()
    defs["task"]["properties"] = {"type": kept["type"], **fields, "outputs": kept["outputs"]}
    defs["task"].pop("allOf", None)
    if branches:
        defs["task"]["allOf"] = branches
    model = defs["model"]["properties"]
    parts = [part for name in TASK_TYPES for part in TASK_TYPES.get(name).parts]
    others = {k: v for k, v in model.items() if v != {"$ref": "#/$defs/network"}}
    before = list(others)[:list(others).index("head") + 1]
    defs["model"]["properties"] = {**{k: others[k] for k in before},
                                   **{part: {"$ref": "#/$defs/network"} for part in parts},
                                   **{k: v for k, v in others.items() if k not in before}}
    defs["model"]["properties"][trees.FORM] = {"$ref": "#/$defs/trees"}
    defs["trees"] = trees.schema()
    export = defs["export"]["properties"]
    export["formats"]["items"]["enum"] = EXPORT_FORMATS.names()
    export["quantize"]["enum"] = list(QUANTIZE_MODES)
    defs["source"]["properties"] = source_forms(defs["source"]["properties"])
    defs["source"]["properties"]["builtin"]["enum"] = list(BUILTIN_DATA_SETS)
    return with_calls(schema)


def source_forms(written: dict) -> dict:
    """The `data.source` forms: each registered source, with the schema its registry line
    gives or else the hand-written one (a form no longer registered is left out)."""
    return {name: info.schema if info.schema is not None else written[name] for name, info in DATA_SOURCES.items()}


def task_fields() -> tuple[dict, list]:
    """Each task field's schema, and the branches of fields several types declare differently.

    A field every type that declares it declares alike is a plain property. A field two types
    declare differently (each type's fields are its own namespace) is a property of any value
    whose schema is given per type: `if: {type: X} then: {field: X's schema}`.
    """
    declared: dict[str, dict[str, dict]] = {}  # field -> type -> its schema
    for name in TASK_TYPES:
        for field, field_schema in TASK_TYPES.get(name).fields.items():
            declared.setdefault(field, {})[name] = field_schema
    fields: dict = {}
    own: dict = {}
    for field, by_type in declared.items():
        schemas = list(by_type.values())
        if all(one == schemas[0] for one in schemas):
            fields[field] = schemas[0]
            continue
        fields[field] = {"description": "Depends on task.type: " + " ".join(
            f"{name}: {one.get('description', '')}" for name, one in by_type.items())}
        for name, one in by_type.items():
            own.setdefault(name, {})[field] = one
    branches = [{"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                 "then": {"properties": props}} for name, props in own.items()]
    return fields, branches


def with_calls(schema: dict) -> dict:
    """The sections that name Keras objects refer to the `<kind>_call` definitions."""
    defs = schema["$defs"]
    optimizers = defs["optimizer_call"]["properties"]
    defs["optimizer"]["properties"] = {**optimizers, **{part: {"$ref": "#/$defs/optimizer_call"} for part in
                                                        optimizer_parts()}}
    defs["schedule"]["properties"] = dict(defs["schedule_call"]["properties"])
    defs["loss"]["properties"] = dict(defs["loss_call"]["properties"])
    defs["loss"]["additionalProperties"] = {"$ref": "#/$defs/loss_call"}  # output name -> its loss
    defs["metrics"]["items"] = {"$ref": "#/$defs/metric_call"}
    defs["metrics"]["additionalProperties"] = {"type": "array", "items": {"$ref": "#/$defs/metric_call"}}
    defs["model"]["properties"]["initializer"] = {"$ref": "#/$defs/initializer_call"}
    return schema


def dump(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    new = dump(bundled(json.loads(SCHEMA.read_text()), json.loads(DEFS.read_text())))
    if "--check" in argv:
        if SCHEMA.read_text() != new:
            print(f"{SCHEMA} is out of date: run python tools/bundle_schema.py")
            return 1
        return 0
    SCHEMA.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
