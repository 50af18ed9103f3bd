"""Read columnar files (CSV, or any source registered `columnar=True`) for a trained run by
column name, never by position.

A run records the columns its model was trained on (record.json `columns`, from the
training Table). `specc predict --input x.csv` and `specc evaluate --data '{csv: ...}'` read
those columns by name from the file's header (the source's own `read_header`): the order of
the columns does not matter, extra columns are ignored, and a missing column, or a file
without a header row, is an error. No TensorFlow here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, cast

from specc.data.checks import existing_path
from specc.data.sources import SourceContext
from specc.data.table import Table
from specc.registries import DATA_SOURCES
from specc.registry import load_object
from specc.shown import header_text
from specc.errors import DataError
from specc.suggest import did_you_mean, one_of

MISSING_SHOWN = 5  # missing columns named one by one (each with its did-you-mean)


def training_columns(table: Table) -> Optional[dict]:
    """What record.json `columns` says for a training table: the CSV columns of each input,
    the label column(s) and the categorical columns; for a table of one 2-D feature array
    with a name per column (the builtin data sets), those names as the columns of "x"; else
    None (the source has no column names: images, arrays)."""
    if table.columns is not None:
        return table.columns
    x = table.features.get("x")
    names = table.feature_names
    if set(table.features) != {"x"} or x is None or x.ndim != 2 or not names or len(names) != x.shape[1]:
        return None
    return {"inputs": {"x": [str(name) for name in names]}, "labels": None, "categorical": []}


def run_columns(record: dict, resolved: dict, spec_dir: Path, run_id: str) -> dict:
    """The columns a run's model reads, from its record, or (a run recorded before specc kept
    them) from its spec's columnar source and the header of its training file.

    Raises:
        DataError: The run's training data had no column names, or they cannot be found.
    """
    if "columns" in record:
        if record["columns"] is None:
            raise DataError(f"run {run_id} was trained on data without column names, so a CSV "
                            "cannot be matched to its inputs by name",
                            hint="give the inputs as .npz or .npy (arrays in the order of training)")
        return record["columns"]
    source = resolved["data"]["source"]
    form = next(iter(source), "?")
    if not is_columnar(form):
        raise DataError(f"run {run_id} was recorded before specc kept the column names of its "
                        f"training data, and its source is {form}, which has no column names: a "
                        "file cannot be matched to its inputs by name",
                        hint="give the inputs as .npz or .npy, or train the spec again")
    return _spec_columns(form, source[form], spec_dir, run_id)


def is_columnar(form: object) -> bool:
    """Whether `form` is a registered source whose files have named columns."""
    info = DATA_SOURCES.find(form)
    return info is not None and info.columnar


def read_header(form: str, spec: dict, base_dir: Path, key: str) -> list[str]:
    """The column names of a columnar source's file, by the source's own `read_header`.

    Raises:
        DataError: No such file, or no header.
    """
    reader = cast(Callable[..., list], load_object(f"{DATA_SOURCES.get(form).module}:read_header"))
    return reader(spec, SourceContext(base_dir, 0, key))


def _spec_columns(form: str, spec: dict, spec_dir: Path, run_id: str) -> dict:
    """The columns of an older run: its spec's source settings and its training file's header."""
    from specc.data.sources.columnar import spec_columns

    path = Path(spec["path"]).expanduser()
    path = path if path.is_absolute() else spec_dir / path
    if not path.is_file():
        raise DataError(f"run {run_id} was recorded before specc kept the column names of its "
                        f"training data, and its training file {path} is gone: the columns "
                        "cannot be matched by name",
                        hint="restore the training file, give the inputs as .npz, or train again")
    header = read_header(form, spec, spec_dir, "data.source")
    return spec_columns(spec, header, "data.source", form)


def prediction_source(form: str, path_text: str, columns: dict, options: dict) -> dict:
    """The mapping of source `form` that reads a file to predict for: the run's input columns
    by name, no label (a label column present is ignored), and the source's other settings
    (`options`: a CSV's delimiter) as the run's training source had them.

    Raises:
        DataError: The file lacks one of the columns, or has no header row.
    """
    spec = {**options, "path": path_text, "features": columns["inputs"], "label": None,
            "categorical": list(columns.get("categorical") or []), "text": list(columns.get("text") or [])}
    check_header(form, spec, Path.cwd(), "--input")
    return spec


def evaluation_source(form: str, given: dict, columns: Optional[dict], base_dir: Path, key: str) -> dict:
    """The mapping of a columnar source `form` of `evaluate --data`: what the user gave, with
    the run's input columns (by name) for `features` left out or `auto`, and the run's label
    column(s) and categorical columns where the user named none.

    Raises:
        DataError: The run's columns are unknown and the user named none, the file lacks a
            column, or it has no header row.
    """
    spec = dict(given)
    if spec.get("features", "auto") in (None, "auto"):
        if columns is None:
            raise DataError(f"{key}: the run was trained on data without column names, so the "
                            "file's columns cannot be matched to its inputs by name",
                            hint=f"name them under {key}.{form}.features")
        spec["features"] = columns["inputs"]
    if columns is not None:
        spec.setdefault("categorical", list(columns.get("categorical") or []))
        spec.setdefault("text", list(columns.get("text") or []))
        if spec.get("label") is None:
            spec["label"] = columns.get("labels")
    check_header(form, spec, base_dir, key)
    return spec


def check_header(form: str, spec: dict, base_dir: Path, key: str) -> None:
    """Refuse a file whose header lacks a column `spec` reads, naming what it has.

    A first row of numbers only, none of them a needed name, is a file without a header.

    Raises:
        DataError: A column is missing (with did-you-mean), or the header row is missing.
    """
    text = str(spec["path"])
    existing_path(text, base_dir, f"{key}.{form}.path" if key != "--input" else key)
    header = read_header(form, spec, base_dir, key)
    needed = needed_columns(spec)
    missing = [name for name in needed if name not in header]
    if not missing:
        return
    if all(_is_number(cell) for cell in header) and not set(header) & set(needed):
        raise DataError(f"{text}: the file seems to have no header row (its first row holds {len(header)} "
                        "numbers); columns are read by their names",
                        hint=f"add a header row naming the columns; needed: {_shorten(needed, 40, ',')}")
    others = [name for name in header if name not in needed]
    named = one_of([f"'{name}'" + _maybe(did_you_mean(name, others)) for name in missing], MISSING_SHOWN)
    raise DataError(f"{text}: no column{'s' if len(missing) > 1 else ''} {named}; "
                    f"the file has: {header_text(header)}",
                    hint=f"columns are matched by name, in any order; needed: {_shorten(needed, 40)}")


def needed_columns(spec: dict) -> list:
    """Every column a columnar source's mapping with explicit features reads, features first."""
    features = spec.get("features")
    groups = features.values() if isinstance(features, dict) else [features or []]
    from specc.data.sources.columnar import label_columns

    names = [name for group in groups for name in group] + label_columns(spec.get("label"))
    return list(dict.fromkeys(names))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _maybe(text: Optional[str]) -> str:
    return f" ({text})" if text else ""


def _shorten(names: list, limit: int = 12, joiner: str = ", ") -> str:
    """The first `limit` names, then how many more."""
    if len(names) <= limit + 1:  # as suggest.one_of: "..." never stands for a single name
        return joiner.join(str(name) for name in names)
    return joiner.join(str(name) for name in names[:limit]) + f"{joiner}... ({len(names)} in all)"


def training_options(resolved: dict, form: str) -> dict:
    """The settings of the run's training source other than its columns (a CSV's delimiter),
    when it was a `form` source: a file to predict for is written alike."""
    source = resolved["data"]["source"].get(form)
    if not isinstance(source, dict):
        return {}
    return {k: v for k, v in source.items() if k not in ("path", "label", "features", "categorical", "text")}
