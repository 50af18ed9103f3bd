"""Read inputs for `specc predict` and write the predictions (CSV or NPZ)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from specc.data.table import Table
from specc.errors import DataError, UsageError
from specc.registries import DATA_SOURCES

if TYPE_CHECKING:
    from specc.run.session import OpenRun


@dataclass
class Inputs:
    """The samples to predict for, in the order of the input.

    Attributes:
        table: Their features (no labels: a label column or array present is ignored).
        names: The file of each sample, relative to the folder (an image folder), else None.
    """

    table: Table
    names: Optional[list] = None


def read_inputs(path_text: str, run: OpenRun) -> Inputs:
    """The samples of a columnar file (.csv, or the suffix of another columnar source; its
    columns read by the names the run was trained on), a .npz/.npy file or an image folder.

    Raises:
        UsageError: No such file or folder, or a kind predict does not read.
        DataError: The file lacks a column the model reads, has no header row, or holds bad values.
    """
    path = Path(path_text)
    if not path.exists():
        raise UsageError(f"no such file or folder: {path_text}")
    if path.is_dir():
        return _image_folder(path, run.resolved)
    suffix = path.suffix.lower()
    by_suffix = _columnar_suffixes()
    if suffix in by_suffix:
        return Inputs(_columnar(by_suffix[suffix], path_text, run))
    if suffix in (".npz", ".npy"):
        return Inputs(_numpy(path, suffix))
    raise UsageError(f"{path_text}: predict reads {', '.join([*by_suffix, '.npz', '.npy'])} or an image folder",
                     "convert the inputs to one of these")


def _columnar_suffixes() -> dict[str, str]:
    """File suffix -> the columnar source that reads it (`.csv` -> csv)."""
    return {suffix: name for name, info in DATA_SOURCES.items() if info.columnar for suffix in info.suffixes}


def _columnar(form: str, path_text: str, run: OpenRun) -> Table:
    from specc.data.sources import SourceContext
    from specc.registry import load_object
    from specc.run.columns import prediction_source, training_options

    spec = prediction_source(form, path_text, run.columns(), training_options(run.resolved, form))
    module: Any = load_object(DATA_SOURCES.get(form).module)
    return module.load(spec, SourceContext(Path.cwd(), run.resolved.get("seed", 0), "--input"))


def _numpy(path: Path, suffix: str) -> Table:
    from specc.data.sources._arrays import archive_array, load_npy

    loaded = load_npy(path, str(path))
    if suffix == ".npy":
        features = {"x": np.asarray(loaded, dtype=np.float32)}
    else:
        keys = [k for k in loaded.files if k not in ("y", "labels")]
        features = {k: np.asarray(archive_array(loaded, k, str(path)), dtype=np.float32) for k in keys}
    return Table(features=features, origin=str(path), rows=np.arange(_count(features)))


def _count(features: dict) -> int:
    return len(next(iter(features.values()))) if features else 0


def _image_folder(folder: Path, resolved: dict) -> Inputs:
    from specc.data.sources.image_folder import IMAGE_SUFFIXES, decode_image

    shape = next(iter(resolved["model"]["inputs"].values()))["shape"]
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
    images = [decode_image(f, str(f), list(shape[:2]), shape[2] if len(shape) > 2 else 3) for f in files]
    table = Table(features={"x": np.stack(images).astype(np.float32)}, origin=str(folder),
                  rows=np.arange(len(files)))
    return Inputs(table, [f.relative_to(folder).as_posix() for f in files])


# --- writing ----------------------------------------------------------------------------

def write_columns(path_text: str, columns: dict, inputs: Inputs) -> None:
    """A paradigm's own prediction columns (name -> one value per sample): CSV after the `row`
    column, or NPZ arrays."""
    from specc.run.records import atomic_write_bytes, atomic_write_text

    if path_text.lower().endswith(".npz"):
        buffer = io.BytesIO()
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in columns.items()}
        np.savez(buffer, **arrays)
        atomic_write_bytes(path_text, buffer.getvalue())
        return
    if not path_text.lower().endswith(".csv"):
        raise UsageError(f"{path_text}: predictions are written as .csv or .npz")
    atomic_write_text(path_text, _csv_text({k: np.asarray(v) for k, v in columns.items()}, inputs))


def write_predictions(path_text: str, predictions: Any, model: Any, resolved: dict, inputs: Inputs,
                      class_names: Optional[list] = None, output_class_names: Optional[dict] = None) -> None:
    """CSV: one row per sample with the predicted class or value (and probabilities); NPZ: raw.

    The CSV's first column, `row`, is the 0-based index of the sample in the input (for every
    kind of input: the data rows of a CSV, the first axis of an array, the sorted files of an
    image folder, whose path follows in an `input` column).
    """
    from specc.run.records import atomic_write_bytes

    outputs = named_outputs(predictions, list(model.output_names))
    if path_text.lower().endswith(".npz"):
        buffer = io.BytesIO()
        # Any: numpy's stub checks **arrays against savez's own allow_pickle keyword too
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in outputs.items()}
        np.savez(buffer, **arrays)
        atomic_write_bytes(path_text, buffer.getvalue())
        return
    write_columns(path_text, task_columns(outputs, resolved, class_names, output_class_names), inputs)


def named_outputs(predictions: Any, output_names: list) -> dict:
    """Output name -> array, of what a model's predict returns (a dict, a list or one array)."""
    if isinstance(predictions, dict):
        return predictions
    if isinstance(predictions, list):
        return dict(zip(output_names, predictions))
    return {output_names[0]: predictions}


def task_columns(outputs: dict, resolved: dict, class_names: Optional[list] = None,
                 output_class_names: Optional[dict] = None) -> dict:
    """The prediction columns of a model's outputs, as the task table reads them: the
    predicted class (by name when the run knows the names) and the probabilities, or the
    values; prefixed with the output's name when the model has several."""
    from specc.render import output_tasks

    tasks = output_tasks(resolved["task"])
    columns = {}
    for name, values in outputs.items():
        prefix = "" if len(outputs) == 1 else f"{name}_"
        names = (output_class_names or {}).get(name, class_names if len(outputs) == 1 else None)
        # one output answers the task's one (whatever a graph named it: `outputs: {liked: ...}`)
        task = tasks.get(name) or (next(iter(tasks.values())) if len(tasks) == 1 == len(outputs) else {})
        columns.update(_columns(prefix, np.asarray(values), task, names))
    return columns


def _columns(prefix: str, values: np.ndarray, task: dict, class_names) -> dict:
    kind = task.get("type")
    values = values.reshape(len(values), -1)
    if kind == "multiclass":
        ids = values.argmax(axis=1)
        names = class_names if class_names and len(class_names) == values.shape[1] else None
        out = {f"{prefix}predicted": [names[i] for i in ids] if names else ids}
        out.update({f"{prefix}probability_{i}": values[:, i] for i in range(values.shape[1])})
        return out
    if kind in ("binary", "multilabel"):
        out = {}
        for i in range(values.shape[1]):
            tag = "" if values.shape[1] == 1 else f"_{i}"
            out[f"{prefix}predicted{tag}"] = (values[:, i] >= 0.5).astype(int)
            out[f"{prefix}probability{tag}"] = values[:, i]
        return out
    if values.shape[1] == 1:
        return {f"{prefix}prediction": values[:, 0]}
    return {f"{prefix}prediction_{i}": values[:, i] for i in range(values.shape[1])}


def json_rows(columns: dict) -> list:
    """The prediction columns as one JSON object per sample (numbers as the CSV writes them)."""
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    count = len(next(iter(arrays.values()))) if arrays else 0
    return [{name: _json_value(values[i]) for name, values in arrays.items()} for i in range(count)]


def _json_value(value: Any) -> Any:
    if isinstance(value, (str, np.str_)):
        return str(value)
    if isinstance(value, (np.integer, int, np.bool_)):
        return int(value)
    return float(value)


def _csv_text(columns: dict, inputs: Inputs) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = list(columns)
    writer.writerow(["row"] + (["input"] if inputs.names else []) + names)
    for i in range(len(inputs.table)):
        first = [i, inputs.names[i]] if inputs.names else [i]
        writer.writerow(first + [_cell(columns[n][i]) for n in names])
    return buffer.getvalue()


def _cell(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    return repr(float(value))
