"""The shipped schema: valid JSON Schema 2020-12, documented everywhere, generated parts fresh."""
from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from conftest import tool as _tool
from specc.schema import load_schema

ROOT = Path(__file__).resolve().parent.parent


def test_schema_is_valid_draft_2020_12_with_a_stable_id():
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://specc.dev/schemas/v1/spec.schema.json"


def _undocumented(node, path="$"):
    if not isinstance(node, dict):
        return
    for key, child in node.get("properties", {}).items():
        if isinstance(child, dict) and "description" not in child and "$ref" not in child:
            yield f"{path}.{key}"
        yield from _undocumented(child, f"{path}.{key}")
    for key in ("additionalProperties", "items"):
        yield from _undocumented(node.get(key), f"{path}.{key}")
    for key in ("anyOf", "oneOf"):
        for i, branch in enumerate(node.get(key, [])):
            yield from _undocumented(branch, f"{path}.{key}[{i}]")
    for name, child in node.get("$defs", {}).items():
        yield from _undocumented(child, f"#{name}")


def test_every_property_has_a_description():
    assert list(_undocumented(load_schema())) == []


def test_layer_definitions_are_spliced_in():
    bundle = _tool("bundle_schema")
    assert bundle.main(["--check"]) == 0, "run python tools/bundle_schema.py"


def test_reference_doc_is_up_to_date():
    reference = _tool("gen_reference")
    assert reference.main(["--check"]) == 0, "run python tools/gen_reference.py"


def test_installed_schema_equals_the_repository_file():
    assert load_schema() == json.loads((ROOT / "schemas" / "specc-v1.schema.json").read_text())


def test_the_schema_speaks_the_registries():
    """Task types, their fields, model parts, export formats and data sources: the schema
    lists exactly what specc/registries.py registers."""
    from specc.registries import DATA_SOURCES, EXPORT_FORMATS, TASK_TYPES

    defs = load_schema()["$defs"]
    assert defs["task"]["properties"]["type"]["enum"] == TASK_TYPES.names()
    fields = {f for name in TASK_TYPES for f in TASK_TYPES.get(name).fields}
    assert set(defs["task"]["properties"]) == fields | {"type", "outputs"}
    parts = {p for name in TASK_TYPES for p in TASK_TYPES.get(name).parts}
    assert parts <= set(defs["model"]["properties"])
    assert defs["export"]["properties"]["formats"]["items"]["enum"] == EXPORT_FORMATS.names()
    assert set(defs["source"]["properties"]) == set(DATA_SOURCES.names())
