"""Turn a Table into what Keras consumes: numpy (x, y) keyed by the model's input and output
names. No TensorFlow here (specc/data/feed.py makes the tf.data pipelines).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from specc.errors import DataError
from specc.data.checks import did_you_mean
from specc.data.table import Table

_CASTS = {"float32": np.float32, "float16": np.float16, "int32": np.int32,
          "int64": np.int64, "bool": np.bool_}


def to_arrays(table: Table, input_names: Optional[list] = None, input_shapes: Optional[dict] = None,
              output_names: Optional[list] = None) -> tuple[Any, Any]:
    """Return numpy (x, y) for model.fit / evaluate / predict.

    Args:
        table: The data (one split).
        input_names: The model's input names. With one input, x is a plain array (the
            feature of that name, or the table's only feature); with several, a dict keyed
            by input name, each taken from the feature of the same name. None: "x" alone
            as an array, else every feature in a dict.
        input_shapes: Input name -> shape without the batch axis (a list, possibly with
            None), or -> {"shape": [...], "dtype": "..."}. Features are reshaped to it when
            the number of values per sample matches.
        output_names: The model's output names; with several, y is a dict keyed by them.

    Returns:
        (x, y); y is None when the table has no labels.

    Raises:
        DataError: An input has no matching feature, or its shape cannot be matched.
    """
    return _inputs(table, input_names, input_shapes or {}), _targets(table, output_names)


def tf_ready(value: Any) -> Any:
    """Strings as numpy bytes arrays (tf.string); everything else unchanged."""
    if isinstance(value, tuple):
        return tuple(tf_ready(v) for v in value)
    if isinstance(value, dict):
        return {k: tf_ready(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "OU":
        return np.char.encode(value.astype(str), "utf-8")
    return value


def _shape_and_dtype(entry) -> tuple:
    if entry is None:
        return None, None
    if isinstance(entry, dict):
        return entry.get("shape"), entry.get("dtype")
    return list(entry), None


def _inputs(table: Table, input_names, input_shapes: dict):
    features = table.features
    if not input_names:
        if list(features) == ["x"]:
            return _shaped(table, "x", "x", None, None)
        return {key: _shaped(table, key, key, None, None) for key in features}
    names = list(input_names)
    if len(names) == 1:
        name = names[0]
        key = name if name in features else (next(iter(features)) if len(features) == 1 else None)
        if key is None:
            raise _no_feature(table, name)
        return _shaped(table, key, name, *_shape_and_dtype(input_shapes.get(name)))
    missing = [name for name in names if name not in features]
    if missing:
        raise _no_feature(table, missing[0], several=True)
    return {name: _shaped(table, name, name, *_shape_and_dtype(input_shapes.get(name))) for name in names}


def _no_feature(table: Table, name: str, several: bool = False) -> DataError:
    have = ", ".join(f"'{k}'" for k in table.features)
    hint = ("with several model inputs each needs a data feature of the same name "
            "(csv: features: {input: [columns]}; npz: features: {input: key})") if several else \
        "name the model input like the data feature, or select one feature group"
    return DataError(f"{table.origin}: model input '{name}' has no matching data feature"
                     f"{did_you_mean(name, list(table.features))}; the data has {have}", hint=hint,
                     spec_path=("model", "inputs", name))


def _shaped(table: Table, key: str, name: str, shape, dtype) -> np.ndarray:
    array = table.features[key]
    if dtype == "string" or array.dtype.kind in "OU":
        return array
    if dtype in _CASTS:
        array = array.astype(_CASTS[dtype], copy=False)
    if shape is None:
        return array
    shape = list(shape)
    per_sample = list(array.shape[1:])
    if _fits(per_sample, shape):
        return array
    count = int(np.prod(per_sample))
    if None not in shape and int(np.prod(shape)) == count:
        return array.reshape((len(array),) + tuple(int(d) for d in shape))
    if None in shape and len(shape) == len(per_sample) + 1 and shape[-1] == 1 and _fits(per_sample, shape[:-1]):
        return array[..., np.newaxis]
    wanted = " x ".join("?" if d is None else str(d) for d in shape)
    raise DataError(
        f"{table.origin}: feature '{key}' has shape {per_sample} per sample ({count} values) "
        f"but model input '{name}' expects [{wanted}]",
        hint="change the input shape in the spec, or the data; features are reshaped only "
             "when the number of values per sample is the same", spec_path=("model", "inputs", name))


def _fits(per_sample: list, shape: list) -> bool:
    return len(per_sample) == len(shape) and all(d is None or d == p for d, p in zip(shape, per_sample))


def _targets(table: Table, output_names):
    labels = table.labels
    if labels is None:
        return None
    names = list(output_names or [])
    if not isinstance(labels, dict):
        if len(names) > 1:
            raise DataError(f"{table.origin}: the model has outputs {', '.join(names)} "
                            f"but the data has a single label set",
                            hint="give one label column / array per output")
        return labels
    if not names:
        return next(iter(labels.values())) if len(labels) == 1 else dict(labels)
    missing = [n for n in names if n not in labels]
    if missing and len(names) == 1 and len(labels) == 1:
        return next(iter(labels.values()))
    if missing:
        raise DataError(f"{table.origin}: no labels for model output '{missing[0]}'"
                        f"{did_you_mean(missing[0], list(labels))}; the data has labels for "
                        f"{', '.join(labels)}")
    if len(names) == 1:
        return labels[names[0]]
    return {n: labels[n] for n in names}
