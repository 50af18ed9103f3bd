"""Load a spec's `data.source` (builtin, csv, npz, npy, image_folder, tfrecord, synthetic).

Only the image_folder and tfrecord readers use TensorFlow, imported inside them; the
others need numpy (and scikit-learn for builtin data sets).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from specc.errors import DataError
from specc.data.checks import check_table, existing_path, missing_key
from specc.data.csvfile import load_csv
from specc.data.synthetic import load_synthetic
from specc.data.table import Table, describe

__all__ = ["Table", "load_source", "BUILTIN"]

BUILTIN = ("digits", "iris", "wine", "breast_cancer", "diabetes", "linnerud")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def load_source(source: dict, base_dir: Path, seed: int, key: str = "data.source") -> Table:
    """Load one data source into a checked Table.

    Args:
        source: The source mapping with exactly one form, e.g. {"builtin": "digits"} or
            {"csv": {"path": "data/x.csv", "label": "species", ...}}.
        base_dir: Directory that relative paths are relative to (the spec's directory).
        seed: The spec's seed (used by synthetic data without its own seed).
        key: Spec key of `source`, used in messages (e.g. "data.split.test.source").

    Returns:
        The Table, after check_table (non-empty, lengths agree, finite features).

    Raises:
        DataError: Anything wrong with the data, naming the file and row/column.
    """
    if not isinstance(source, dict) or len(source) != 1:
        forms = ", ".join(_LOADERS)
        raise DataError(f"{key} must have exactly one of: {forms}")
    (form, spec), = source.items()
    if form not in _LOADERS:
        raise missing_key(key, "source form", form, list(_LOADERS), key)
    base_dir = Path(base_dir)
    if form == "builtin":
        table = _builtin(spec)
    elif form == "synthetic":
        table = load_synthetic(spec or {}, seed)
    else:
        table = _LOADERS[form](spec, base_dir, key)
    check_table(table)
    name = table.origin if form != "builtin" else str(spec)
    table.description = describe(name, table)
    return table


def _builtin(name) -> Table:
    """Load one of scikit-learn's bundled data sets (no download)."""
    if isinstance(name, dict):
        name = name.get("name")
    if name not in BUILTIN:
        raise missing_key("builtin", "data set", name, BUILTIN, "data.source.builtin")
    from sklearn import datasets  # scikit-learn is slow to import; only pay when used

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float32)
    regression = name in ("diabetes", "linnerud")
    y = np.asarray(bunch.target, dtype=np.float32 if regression else np.int64)
    class_names = None if regression else [str(c) for c in bunch.target_names]
    return Table(features={"x": x}, labels=y, class_names=class_names,
                 feature_names=[str(f) for f in bunch.feature_names], origin=f"builtin {name}",
                 rows=np.arange(len(x), dtype=np.int64))


def _feature_array(array: np.ndarray) -> np.ndarray:
    """Numbers become float32 (the models' input dtype); strings stay strings."""
    if array.dtype.kind in "biuf":
        return array.astype(np.float32)
    if array.dtype.kind in "US":
        return array.astype(str).astype(object)
    return array


def _label_array(array: np.ndarray) -> np.ndarray:
    """Whole-number labels become int64 class ids; other numbers float32."""
    if array.dtype.kind in "biu":
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    return array


def _load_npy(path: Path, text: str) -> np.ndarray:
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if not (magic.startswith(b"\x93NUMPY") or magic.startswith(b"PK")):
        raise DataError(f"{text}: not a NumPy .npy / .npz file",
                        hint="write it with numpy.save / numpy.savez")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise DataError(f"{text}: cannot read the array ({err})",
                        hint="save it with numpy.save / numpy.savez without object arrays") from None
    except (OSError, EOFError) as err:
        raise DataError(f"{text}: not a NumPy file or truncated ({err})") from None


def _npz(spec: dict, base_dir: Path, key: str) -> Table:
    text = spec["path"]
    path = existing_path(text, base_dir, f"{key}.npz.path")
    archive = _load_npy(path, text)
    if not hasattr(archive, "files"):
        raise DataError(f"{text}: is a single array, not an .npz archive", hint="use the npy: form")
    with archive:
        names = list(archive.files)

        def get(name, what):
            if name not in names:
                raise missing_key(text, "array", name, names, f"{key}.npz.{what}")
            return archive[name]

        wanted = spec.get("features") or "x"
        if isinstance(wanted, str):
            features = {"x": _feature_array(get(wanted, "features"))}
        elif isinstance(wanted, dict):
            features = {k: _feature_array(get(v, "features")) for k, v in wanted.items()}
        else:
            features = {k: _feature_array(get(k, "features")) for k in wanted}
        label = spec.get("labels", "y")
        if label is None:
            labels = None
        elif isinstance(label, dict):
            labels = {k: _label_array(get(v, "labels")) for k, v in label.items()}
        else:
            labels = _label_array(get(label, "labels"))
    n = len(next(iter(features.values())))
    return Table(features=features, labels=labels, origin=text, rows=np.arange(n, dtype=np.int64))


def _npy(spec: dict, base_dir: Path, key: str) -> Table:
    wanted = spec["features"]
    if isinstance(wanted, dict):
        features = {k: _feature_array(_npy_file(v, base_dir, f"{key}.npy.features.{k}"))
                    for k, v in wanted.items()}
        origin = next(iter(wanted.values()))
    else:
        features = {"x": _feature_array(_npy_file(wanted, base_dir, f"{key}.npy.features"))}
        origin = wanted
    label_text = spec.get("labels")
    labels = None
    if label_text:
        labels = _label_array(_npy_file(label_text, base_dir, f"{key}.npy.labels"))
    n = len(next(iter(features.values())))
    return Table(features=features, labels=labels, origin=origin, label_origin=label_text,
                 rows=np.arange(n, dtype=np.int64))


def _npy_file(text: str, base_dir: Path, key: str) -> np.ndarray:
    array = _load_npy(existing_path(text, base_dir, key), text)
    if hasattr(array, "files"):
        raise DataError(f"{text}: is an .npz archive, not a single array", hint="use the npz: form")
    if array.ndim == 0:
        raise DataError(f"{text}: holds a single number, not an array of samples")
    return array


def _image_folder(spec: dict, base_dir: Path, key: str) -> Table:
    """One sub-folder per class (sorted names = class ids); images resized, raw 0..255 float32."""
    text = spec["path"].rstrip("/")
    folder = existing_path(text, base_dir, f"{key}.image_folder.path", folder=True)
    size = [int(d) for d in spec["size"]]
    channels = 1 if spec.get("color") == "grayscale" else 3
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{text}: has no class sub-folders",
                        hint="put the images of each class in their own sub-folder, e.g. cats/, dogs/")
    images, labels = [], []
    for class_id, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not files:
            raise DataError(f"{text}/{name}: has no images ({', '.join(IMAGE_SUFFIXES)})",
                            hint="remove the empty class folder or add images to it")
        for file in files:
            images.append(_decode_image(file, f"{text}/{name}/{file.name}", size, channels))
            labels.append(class_id)
    x = np.stack(images).astype(np.float32)
    return Table(features={"x": x}, labels=np.asarray(labels, dtype=np.int64), class_names=classes,
                 origin=text, rows=np.arange(len(x), dtype=np.int64))


def _decode_image(path: Path, text: str, size: list, channels: int) -> np.ndarray:
    import tensorflow as tf

    try:
        image = tf.io.decode_image(path.read_bytes(), channels=channels, expand_animations=False)
    except (tf.errors.OpError, ValueError) as err:
        reason = str(getattr(err, "message", err)).strip().splitlines()[0][:200]
        raise DataError(f"{text}: cannot decode the image ({reason})",
                        hint="replace or remove the file; PNG, JPEG, GIF and BMP are supported") from None
    if list(image.shape[:2]) != size:
        image = tf.image.resize(image, size)
    return image.numpy().astype(np.float32)


_TF_DTYPES = {"float32": "float32", "int64": "int64", "string": "string"}


def _tfrecord(spec: dict, base_dir: Path, key: str) -> Table:
    """Parse tf.train.Example records with the declared {name: {dtype, shape}} feature spec."""
    import tensorflow as tf

    text = spec["path"]
    path = existing_path(text, base_dir, f"{key}.tfrecord.path")
    declared = spec["features"]
    label = spec.get("label")
    if label is not None and label not in declared:
        raise missing_key(text, "declared feature", label, list(declared), f"{key}.tfrecord.label")
    parse_spec = {name: tf.io.FixedLenFeature(list(d.get("shape") or []), getattr(tf, _TF_DTYPES[d["dtype"]]))
                  for name, d in declared.items()}
    columns = {name: [] for name in declared}
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
    n = len(next(iter(arrays.values()))) if arrays else len(labels)
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
    return _label_array(array), None


_LOADERS = {"builtin": _builtin, "csv": load_csv, "npz": _npz, "npy": _npy,
            "image_folder": _image_folder, "tfrecord": _tfrecord, "synthetic": load_synthetic}
