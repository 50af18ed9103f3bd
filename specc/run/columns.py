"""Read CSV files for a trained run by column name, never by position.

A run records the columns its model was trained on (record.json `columns`, from the
training Table). `specc predict --input x.csv` and `specc evaluate --data '{csv: ...}'` read
those columns by name from the file's header: the order of the columns does not matter,
extra columns are ignored, and a missing column, or a file without a header row, is an error.
No TensorFlow here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from specc.data.checks import existing_path
from specc.data.table import Table
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
    them) from its spec's CSV source and the header of its training file.

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
    if "csv" not in source:
        form = next(iter(source), "?")
        raise DataError(f"run {run_id} was recorded before specc kept the column names of its "
                        f"training data, and its source is {form}, not csv: a CSV cannot be "
                        "matched to its inputs by name",
                        hint="give the inputs as .npz or .npy, or train the spec again")
    return _spec_columns(source["csv"], spec_dir, run_id)


def _spec_columns(spec: dict, spec_dir: Path, run_id: str) -> dict:
    """The columns of an older CSV run: its spec's csv settings and its training file's header."""
    from specc.data.sources.csv import read_header, spec_columns

    path = Path(spec["path"]).expanduser()
    path = path if path.is_absolute() else spec_dir / path
    if not path.is_file():
        raise DataError(f"run {run_id} was recorded before specc kept the column names of its "
                        f"training data, and its training file {path} is gone: the columns "
                        "cannot be matched by name",
                        hint="restore the training file, give the inputs as .npz, or train again")
    header = read_header(path, spec["path"], spec.get("delimiter") or ",")
    return spec_columns(spec, header, "data.source")


def prediction_csv(path_text: str, columns: dict, delimiter: str) -> dict:
    """The `csv:` mapping that reads a file to predict for: the run's input columns by name,
    no label (a label column present is ignored).

    Raises:
        DataError: The file lacks one of the columns, or has no header row.
    """
    spec = {"path": path_text, "features": columns["inputs"], "label": None,
            "categorical": list(columns.get("categorical") or []), "delimiter": delimiter}
    check_header(spec, Path.cwd(), "--input")
    return spec


def evaluation_csv(given: dict, columns: Optional[dict], base_dir: Path, key: str) -> dict:
    """The `csv:` mapping of `evaluate --data`: what the user gave, with the run's input
    columns (by name) for `features` left out or `auto`, and the run's label column(s) and
    categorical columns where the user named none.

    Raises:
        DataError: The run's columns are unknown and the user named none, the file lacks a
            column, or it has no header row.
    """
    spec = dict(given)
    if spec.get("features", "auto") in (None, "auto"):
        if columns is None:
            raise DataError(f"{key}: the run was trained on data without column names, so the "
                            "file's columns cannot be matched to its inputs by name",
                            hint=f"name them under {key}.csv.features")
        spec["features"] = columns["inputs"]
    if columns is not None:
        spec.setdefault("categorical", list(columns.get("categorical") or []))
        if spec.get("label") is None:
            spec["label"] = columns.get("labels")
    check_header(spec, base_dir, key)
    return spec


def check_header(spec: dict, base_dir: Path, key: str) -> None:
    """Refuse a file whose header lacks a column `spec` reads, naming what it has.

    A first row of numbers only, none of them a needed name, is a file without a header.

    Raises:
        DataError: A column is missing (with did-you-mean), or the header row is missing.
    """
    from specc.data.sources.csv import read_header

    text = str(spec["path"])
    path = existing_path(text, base_dir, f"{key}.csv.path" if key != "--input" else key)
    header = read_header(path, text, spec.get("delimiter") or ",")
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
    """Every column a `csv:` mapping with explicit features reads, features first."""
    features = spec.get("features")
    groups = features.values() if isinstance(features, dict) else [features or []]
    names = [name for group in groups for name in group]
    label = spec.get("label")
    names += [label] if isinstance(label, str) else list(label.values()) if isinstance(label, dict) \
        else list(label or [])
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


def csv_delimiter(resolved: dict) -> str:
    """The delimiter of the run's training CSV (a file to predict for is written alike), or ","."""
    csv_source = resolved["data"]["source"].get("csv") or {}
    return csv_source.get("delimiter") or ","
