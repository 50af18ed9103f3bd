"""`tfrecord`: tf.train.Example records with a declared feature spec (read with TensorFlow)."""
from __future__ import annotations

from typing import Any, cast

import numpy as np

from specc.data.checks import existing_path, missing_key
from specc.data.sources._arrays import label_array
from specc.data.table import Table
from specc.errors import DataError

_TF_DTYPES = {"float32": "float32", "int64": "int64", "string": "string"}


def load(spec: dict, context: Any) -> Table:
    """Parse tf.train.Example records with the declared {name: {dtype, shape}} feature spec."""
    import tensorflow as tf

    base_dir, key = context.base_dir, context.key
    text = spec["path"]
    path = existing_path(text, base_dir, f"{key}.tfrecord.path")
    declared = spec["features"]
    label = spec.get("label")
    if label is not None and label not in declared:
        raise missing_key(text, "declared feature", label, list(declared), f"{key}.tfrecord.label")
    parse_spec = {name: tf.io.FixedLenFeature(list(d.get("shape") or []), getattr(tf, _TF_DTYPES[d["dtype"]]))
                  for name, d in declared.items()}
    columns: dict[str, list] = {name: [] for name in declared}
    records = tf.data.TFRecordDataset(str(path))
    index = 0
    try:
        for index, raw in enumerate(records):
            parsed = tf.io.parse_single_example(raw, parse_spec)
            for name, value in parsed.items():
                columns[name].append(value.numpy())
    except tf.errors.DataLossError:
        raise DataError(f"{text}: not a TFRecord file, or it is truncated (after record {index})") from None
    except tf.errors.OpError as err:
        reason = str(err.message).strip().splitlines()[0][:300]
        raise DataError(f"{text}: record {index} does not match {key}.tfrecord.features: {reason}",
                        hint="make the declared dtype/shape match how the records were written") from None
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    labels, class_names = (None, None)
    if label is not None:
        labels, class_names = _record_labels(arrays.pop(label))
    features = {name: _record_feature(a) for name, a in arrays.items()}
    if len(features) == 1:
        features = {"x": next(iter(features.values()))}
    # no array left: the label was the only declared feature (the schema requires a label)
    n = len(next(iter(arrays.values()))) if arrays else len(cast(np.ndarray, labels))
    return Table(features=features, labels=labels, class_names=class_names, origin=text,
                 feature_names=list(arrays) if len(arrays) > 1 else None,
                 rows=np.arange(n, dtype=np.int64), row_word="record")


def _record_feature(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind in "SO":
        return np.array([v.decode("utf-8", "replace") for v in array.ravel()],
                        dtype=object).reshape(array.shape)
    return array.astype(np.float32)


def _record_labels(array: np.ndarray):
    if array.dtype.kind in "SO":
        values = [v.decode("utf-8", "replace") for v in array.ravel()]
        names = sorted(set(values))
        index = {n: i for i, n in enumerate(names)}
        return np.array([index[v] for v in values], dtype=np.int64).reshape(array.shape), names
    return label_array(array), None
