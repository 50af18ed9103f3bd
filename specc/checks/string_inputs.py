"""Strings where the model takes numbers, and the reverse, found before any data is read.

A columnar source keeps its `categorical` and `text` columns as strings, each its own
feature (or a feature group of them); synthetic `text` data is strings. The model input each
feeds must be declared `dtype: string` (a `text_vectorization` or `string_lookup` layer in
the model turns it into numbers), and a numeric feature must not feed a string input. An
export format whose runtime cannot take strings (`ExportFormatInfo.strings`) is refused for a
model with a string input. No TensorFlow here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from specc.checks.data_fit import fed_inputs
from specc.registries import DATA_SOURCES, EXPORT_FORMATS
from specc.spec_data import items, mapping
from specc.spec_data import problem as _p

if TYPE_CHECKING:
    from specc.errors import Problem
    from specc.load import Document

STRING_KINDS = ("categorical", "text")
STRING_DATA = {"text"}   # kinds of synthetic data that are strings


def check_string_inputs(doc: Document) -> list[Problem]:
    """Each model input's dtype against the kind of data that feeds it."""
    inputs, base = _declared_inputs(doc)
    groups = _string_groups(doc)
    if not inputs or groups is None:
        return []
    out = []
    for name, dtype in inputs.items():
        group = name if name in groups or len(inputs) > 1 else _only_group(groups)
        kind = groups.get(group) if group is not None else None
        if kind is None or group is None:
            continue
        if kind != "numbers" and dtype != "string":
            out.append(_p(doc, base + (name,), f"model input '{name}' takes {dtype} numbers, but its data is "
                          f"{_what(kind, group)}",
                          f"declare it {{shape: [], dtype: string}} and turn it into numbers inside the model "
                          f"(text_vectorization for text, string_lookup for categories)", code="data-shape"))
        elif kind == "numbers" and dtype == "string":
            out.append(_p(doc, base + (name,), f"model input '{name}' takes strings, but its data columns are "
                          "numbers", "drop `dtype: string`, or list the columns under the source's text or "
                          "categorical", code="data-shape"))
    return out


def check_string_exports(doc: Document) -> list[Problem]:
    """Export formats whose runtime cannot take the model's string inputs."""
    inputs, _ = _declared_inputs(doc)
    strings = [name for name, dtype in inputs.items() if dtype == "string"]
    if not strings:
        return []
    out = []
    for index, name in enumerate(items(mapping(doc.data.get("export")).get("formats"))):
        info = EXPORT_FORMATS.find(name) if isinstance(name, str) else None
        if info is not None and not info.strings:
            takers = ", ".join(n for n, i in EXPORT_FORMATS.items() if i.strings and "network" in i.kinds)
            out.append(_p(doc, ("export", "formats", index), f"{name} export cannot take string inputs, and "
                          f"model input '{strings[0]}' is a string (its text preprocessing lives inside the model)",
                          f"export to {takers}, which take raw strings; or drop {name}", code="export-preflight"))
    return out


def _declared_inputs(doc: Document) -> tuple[dict, tuple]:
    """Input name -> dtype of the network the data feeds, and the spec path of its inputs."""
    inputs, base = fed_inputs(doc.data)
    found = {}
    for name, value in inputs.items():
        dtype = mapping(value).get("dtype", "float32") if isinstance(value, dict) else "float32"
        found[name] = dtype if isinstance(dtype, str) else "float32"
    return found, base


def _string_groups(doc: Document) -> Optional[dict]:
    """Feature group -> `numbers`, `categorical` or `text`, when the spec alone says; else None."""
    source = mapping(mapping(doc.data.get("data")).get("source"))
    if len(source) != 1:
        return None
    (form, spec), = source.items()
    if form == "synthetic":
        kind = mapping(spec).get("kind")
        return {"text": "text"} if kind in STRING_DATA else {"x": "numbers"}
    info = DATA_SOURCES.find(form)
    if info is None or not info.columnar or not isinstance(spec, dict):
        return None
    kinds = {column: kind for kind in STRING_KINDS for column in items(spec.get(kind)) if isinstance(column, str)}
    features = spec.get("features", "auto")
    if isinstance(features, dict):
        return {group: _group_kind([kinds.get(c, "numbers") for c in items(cols)]) for group, cols in features.items()}
    chosen = items(features) if isinstance(features, list) else None
    groups = {column: kind for column, kind in kinds.items() if chosen is None or column in chosen}
    if chosen is not None and any(column not in kinds for column in chosen):
        groups["x"] = "numbers"   # (under `auto`, whether numeric columns are left takes the header)
    return groups


def _group_kind(kinds: list) -> str:
    return kinds[0] if len(set(kinds)) == 1 else "numbers"   # a mixed group: the loader says so


def _only_group(groups: dict) -> Optional[str]:
    if "x" in groups:
        return "x"
    return next(iter(groups)) if len(groups) == 1 else None


def _what(kind: str, group: str) -> str:
    return "text (strings)" if kind == "text" else f"categories (strings) of column '{group}'"
