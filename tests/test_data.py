"""Tests for specc.data: sources, checks, splits, fingerprints and tf.data pipelines, on real data."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from specc.data import Splits, Table, check_labels, fingerprint, load_source, split_table
from specc.errors import DataError


# ---------------------------------------------------------------- helpers

def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def iris_csv(tmp_path: Path, rows: int = 30) -> Path:
    """A real CSV: the first rows of scikit-learn's iris with string species names."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    order = np.arange(rows) * (150 // rows)
    for i in order:
        values = ",".join(f"{v:.1f}" for v in iris.data[i])
        lines.append(f"{values},{iris.target_names[iris.target[i]]}")
    return write_csv(tmp_path / "data" / "iris.csv", "\n".join(lines))


def csv_source(**fields) -> dict:
    spec = {"path": "data/iris.csv", "label": "species", "features": "auto",
            "categorical": [], "delimiter": ","}
    spec.update(fields)
    return {"csv": spec}


def raises(match_all: list, fn, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    message = info.value.message
    for part in match_all:
        assert part in message, f"{part!r} not in {message!r}"
    assert info.value.exit_code == 3
    return info.value


def write_pngs(root: Path, counts: dict, size=(12, 10), channels=3) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for name, count in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=size + (channels,), dtype=np.uint8)
            (root / name / f"{i:03d}.png").write_bytes(tf.io.encode_png(pixels).numpy())


# ---------------------------------------------------------------- builtin + synthetic

@pytest.mark.parametrize("name, n, width, label_dtype, classes", [
    ("digits", 1797, 64, np.int64, 10), ("iris", 150, 4, np.int64, 3), ("wine", 178, 13, np.int64, 3),
    ("breast_cancer", 569, 30, np.int64, 2), ("diabetes", 442, 10, np.float32, None),
    ("linnerud", 20, 3, np.float32, None)])
def test_builtin(name, n, width, label_dtype, classes):
    table = load_source({"builtin": name}, Path("."), 0)
    assert table.features["x"].shape == (n, width) and table.features["x"].dtype == np.float32
    assert table.labels.dtype == label_dtype and len(table.labels) == n
    assert len(table.feature_names) == width
    if classes:
        assert len(table.class_names) == classes
        assert table.description.startswith(f"{name}: {n} samples, {width} features, {classes} classes")


def test_builtin_descriptions():
    assert load_source({"builtin": "digits"}, Path("."), 0).description == \
        "digits: 1797 samples, 64 features, 10 classes"
    assert load_source({"builtin": "linnerud"}, Path("."), 0).labels.shape == (20, 3)


def test_a_split_counts_the_classes_it_holds():
    """The training banner of specs/anomaly-digits.yaml (the 9s held out) said 10 classes."""
    from conftest import SPECS, splits_of

    splits = splits_of(SPECS / "anomaly-digits.yaml")
    assert splits.train.description.endswith(", 64 features, 9 classes")
    assert splits.test.description.endswith(", 64 features, 10 classes")


def _nearest_centroid_accuracy(x, y):
    x = x.reshape(len(x), -1)
    centres = np.stack([x[y == c].mean(axis=0) for c in np.unique(y)])
    guess = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return float((guess == y).mean())


@pytest.mark.parametrize("spec, shape, label_shape", [
    ({"kind": "classification", "samples": 300, "features": 6, "classes": 4}, (300, 6), (300,)),
    ({"kind": "regression", "samples": 100, "features": 5, "targets": 2}, (100, 5), (100, 2)),
    ({"kind": "regression", "samples": 100, "features": 5}, (100, 5), (100,)),
    ({"kind": "sequence", "samples": 64, "shape": [10, 3]}, (64, 10, 3), (64,)),
    ({"kind": "image", "samples": 90, "shape": [8, 8, 1], "classes": 3}, (90, 8, 8, 1), (90,)),
])
def test_synthetic_shapes_and_determinism(spec, shape, label_shape):
    a = load_source({"synthetic": spec}, Path("."), 7)
    b = load_source({"synthetic": spec}, Path("."), 7)
    c = load_source({"synthetic": dict(spec, seed=99)}, Path("."), 7)
    assert a.features["x"].shape == shape and a.features["x"].dtype == np.float32
    assert a.labels.shape == label_shape
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_synthetic_is_learnable():
    blobs = load_source({"synthetic": {"kind": "classification", "samples": 400, "classes": 3}}, Path("."), 0)
    assert _nearest_centroid_accuracy(blobs.features["x"], blobs.labels) > 0.9
    images = load_source({"synthetic": {"kind": "image", "samples": 120, "classes": 4}}, Path("."), 0)
    assert _nearest_centroid_accuracy(images.features["x"], images.labels) > 0.95
    seq = load_source({"synthetic": {"kind": "sequence", "samples": 200}}, Path("."), 0)
    assert np.array_equal(seq.labels, (seq.features["x"][:, :, 0].sum(axis=1) > 0).astype(np.int64))
    three = load_source({"synthetic": {"kind": "sequence", "samples": 300, "classes": 3}}, Path("."), 0)
    assert np.bincount(three.labels).tolist() == [100, 100, 100]
    reg = load_source({"synthetic": {"kind": "regression", "samples": 200, "features": 4}}, Path("."), 0)
    x1 = np.c_[reg.features["x"], np.ones(200)]
    residual = reg.labels - x1 @ np.linalg.lstsq(x1, reg.labels, rcond=None)[0]
    assert residual.std() < 0.2


def test_synthetic_adding_problem():
    """Two markers, one in each half; the target is the sum of the marked values; predicting
    the mean scores about 1/6 (the variance of a sum of two uniform values)."""
    table = load_source({"synthetic": {"kind": "adding", "samples": 4000, "shape": [20, 2]}}, Path("."), 3)
    x, y = table.features["x"], table.labels
    assert x.shape == (4000, 20, 2) and y.shape == (4000,) and y.dtype == np.float32
    markers = x[:, :, 1]
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :10].sum(axis=1) == 1) and np.all(markers[:, 10:].sum(axis=1) == 1)
    np.testing.assert_allclose(y, (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    assert np.all((x[:, :, 0] >= 0) & (x[:, :, 0] < 1))
    assert abs(float(np.mean((y - y.mean()) ** 2)) - 1 / 6) < 0.01
    assert load_source({"synthetic": {"kind": "adding"}}, Path("."), 0).features["x"].shape == (256, 50, 2)
    raises(["synthetic adding: shape must be [timesteps, 2]"],
           load_source, {"synthetic": {"kind": "adding", "shape": [20, 3]}}, Path("."), 0)


def test_builtin_class_names_are_scikit_learns():
    """Validation names a builtin data set's classes without loading it (specc/registries.py)."""
    from specc.registries import BUILTIN_DATA_SETS

    for name, info in BUILTIN_DATA_SETS.items():
        table = load_source({"builtin": name}, Path("."), 0)
        assert list(info.class_names) == (table.class_names or []), name
        assert info.classes == (len(table.class_names) if table.class_names else None), name


# ---------------------------------------------------------------- csv

def test_csv_string_labels(tmp_path):
    iris_csv(tmp_path)
    table = load_source(csv_source(), tmp_path, 0)
    assert table.features["x"].shape == (30, 4) and table.features["x"].dtype == np.float32
    assert table.labels.dtype == np.int64
    assert table.class_names == ["setosa", "versicolor", "virginica"]
    assert table.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert table.description == "data/iris.csv: 30 samples, 4 features, 3 classes"
    assert table.where(0) == "data/iris.csv: row 0 (line 2 of the file)"


def test_csv_categorical_and_groups(tmp_path):
    write_csv(tmp_path / "h.csv", """
age;city;rooms;price;sold
30;paris;3;1.5;1
41;rome;2;0.5;0
25;paris;4;2.5;1
""")
    spec = {"csv": {"path": "h.csv", "label": "sold", "features": "auto", "categorical": ["city"],
                    "delimiter": ";"}}
    table = load_source(spec, tmp_path, 0)
    assert set(table.features) == {"x", "city"}
    assert table.features["x"].shape == (3, 3) and table.feature_names == ["age", "rooms", "price"]
    assert table.features["city"].tolist() == ["paris", "rome", "paris"]
    assert table.categorical == {"city": ["paris", "rome"]}
    assert table.labels.tolist() == [1, 0, 1] and table.labels.dtype == np.int64

    grouped = load_source({"csv": dict(spec["csv"], features={"numbers": ["age", "rooms"], "city": ["city"]},
                                       label={"sold": "sold", "price": "price"})}, tmp_path, 0)
    assert grouped.features["numbers"].shape == (3, 2)
    assert grouped.labels["price"].dtype == np.float32 and grouped.labels["sold"].dtype == np.int64

    several = load_source({"csv": dict(spec["csv"], features=["age"], label=["rooms", "price"])}, tmp_path, 0)
    assert several.labels.shape == (3, 2) and several.features["x"].shape == (3, 1)


def test_csv_errors(tmp_path):
    iris_csv(tmp_path)
    raises(["data/nope.csv", "file not found", "data.source.csv.path"],
           load_source, csv_source(path="data/nope.csv"), tmp_path, 0)
    error = raises(["data/iris.csv", "no column 'specis'", "did you mean 'species'", "'petal_width'"],
                   load_source, csv_source(label="specis"), tmp_path, 0)
    assert "data.source.csv.label" in error.hint
    raises(["no column 'petal_widht'", "did you mean 'petal_width'"],
           load_source, csv_source(features=["sepal_length", "petal_widht"]), tmp_path, 0)

    lines = (tmp_path / "data" / "iris.csv").read_text().splitlines()
    bad = lines.copy()
    bad[13] = bad[13].split(",", 3)[0] + ",3.0,1.0,abc," + bad[13].rsplit(",", 1)[1]
    write_csv(tmp_path / "data" / "bad.csv", "\n".join(bad))
    raises(["data/bad.csv: row 12 (line 14 of the file), column 'petal_width': 'abc' is not a number"],
           load_source, csv_source(path="data/bad.csv"), tmp_path, 0)

    empty_cell = lines.copy()
    empty_cell[5] = "5.0,,1.4,0.2,setosa"
    write_csv(tmp_path / "data" / "gap.csv", "\n".join(empty_cell))
    raises(["data/gap.csv: row 4 (line 6 of the file), column 'sepal_width' is empty"],
           load_source, csv_source(path="data/gap.csv"), tmp_path, 0)

    nan = lines.copy()
    nan[9] = "5.0,nan,1.4,0.2,setosa"
    write_csv(tmp_path / "data" / "nan.csv", "\n".join(nan))
    raises(["data/nan.csv: row 8 (line 10 of the file), column 'sepal_width': NaN in the features"],
           load_source, csv_source(path="data/nan.csv"), tmp_path, 0)

    ragged = lines.copy()
    ragged[3] = "5.0,1.4,0.2,setosa"
    write_csv(tmp_path / "data" / "ragged.csv", "\n".join(ragged))
    raises(["data/ragged.csv: row 2 (line 4 of the file) has 4 fields but the header has 5"],
           load_source, csv_source(path="data/ragged.csv"), tmp_path, 0)

    (tmp_path / "data" / "empty.csv").write_text("")
    raises(["data/empty.csv: the file is empty"], load_source, csv_source(path="data/empty.csv"), tmp_path, 0)
    write_csv(tmp_path / "data" / "head.csv", lines[0])
    raises(["data/head.csv: the file has a header but no data rows"],
           load_source, csv_source(path="data/head.csv"), tmp_path, 0)
    no_label = lines.copy()
    no_label[2] = no_label[2].rsplit(",", 1)[0] + ","
    write_csv(tmp_path / "data" / "nolabel.csv", "\n".join(no_label))
    raises(["data/nolabel.csv: row 1 (line 3 of the file), column 'species' is empty"],
           load_source, csv_source(path="data/nolabel.csv"), tmp_path, 0)
    error = raises(["data/iris.csv: the header has a single column"],
                   load_source, csv_source(delimiter=";"), tmp_path, 0)
    assert "delimiter ','" in error.hint


def test_csv_first_row_that_is_not_a_header_is_not_echoed(tmp_path):
    """A file whose first line is a token, not column names, is refused without quoting it."""
    rng = np.random.default_rng(7)
    alphabet = list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    token, second = ("".join(rng.choice(alphabet, 64)) for _ in range(2))
    write_csv(tmp_path / "key.csv", f"{token}\n{second}\n")
    missing = raises(["key.csv: no column 'kind'; the first row of the file does not look like a header"],
                     load_source, {"csv": {"path": "key.csv", "label": "kind"}}, tmp_path, 0)
    not_number = raises(["key.csv: row 0 (line 2 of the file), column 1: a value of 64 characters is not a number"],
                        load_source, {"csv": {"path": "key.csv"}}, tmp_path, 0)
    for error in (missing, not_number):
        assert token not in error.format() and second not in error.format()
    # A real header with one odd cell: the names are listed, the odd cell is not.
    write_csv(tmp_path / "odd.csv", f"age,{token},sold\n1,2,0\n")
    odd = raises(["odd.csv: no column 'kind'; available: 'age', 'sold' (not shown: 1 cell that does not"],
                 load_source, {"csv": {"path": "odd.csv", "label": "kind"}}, tmp_path, 0)
    assert token not in odd.format()


def test_csv_longer_than_a_read_chunk(tmp_path):
    """A file of several read chunks gives what the rows hold: values, line numbers (a blank
    line counted), a label that turns to names after the first chunk; its errors come in the
    order of a reader that checks the whole file first."""
    from specc.data.sources._csv_parse import CHUNK_CELLS

    n = 2 * CHUNK_CELLS // 4 + 1000   # rows of 4 columns: more than two chunks
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=(n, 2)), 4)
    colors = rng.choice(["red", "green"], n)
    kinds = rng.integers(0, 3, n).astype(str).astype(object)
    kinds[n - 10] = "other"
    lines = ["a,b,color,kind"] + [f"{x[i, 0]},{x[i, 1]},{colors[i]},{kinds[i]}" for i in range(n)]
    lines.insert(1001, "")
    write_csv(tmp_path / "big.csv", "\n".join(lines))
    spec = {"csv": {"path": "big.csv", "label": "kind", "categorical": ["color"]}}
    table = load_source(spec, tmp_path, 0)
    assert np.array_equal(table.features["x"], x.astype(np.float32))
    assert table.features["color"].tolist() == colors.tolist() and table.categorical == {"color": ["green", "red"]}
    assert table.class_names == ["0", "1", "2", "other"]
    assert table.labels.dtype == np.int64 and table.labels.tolist() == [table.class_names.index(k) for k in kinds]
    assert table.rows.tolist() == list(range(n))
    assert table.lines.tolist() == [i + 2 if i < 1000 else i + 3 for i in range(n)]
    assert table.where(n - 1) == f"big.csv: row {n - 1} (line {n + 2} of the file)"

    late_empty = lines.copy()
    late_empty[n - 5] = "," + late_empty[n - 5].split(",", 1)[1]
    late_empty[5] = late_empty[5].split(",")[0] + ",abc," + late_empty[5].split(",", 2)[2]
    write_csv(tmp_path / "big.csv", "\n".join(late_empty))
    raises([f"big.csv: row {n - 7} (line {n - 4} of the file), column 'a' is empty"], load_source, spec, tmp_path, 0)
    write_csv(tmp_path / "big.csv", "\n".join(late_empty + ["1,2,red"]))
    raises([f"big.csv: row {n} (line {n + 3} of the file) has 3 fields but the header has 4"], load_source, spec, tmp_path, 0)


def test_non_finite_features_found_across_blocks():
    x = np.zeros((150_000, 3), np.float32)
    x[140_000, 2], x[70_000, 1], x[149_999, 0] = np.inf, np.nan, np.nan
    table = Table(features={"x": x}, feature_names=["p", "q", "r"], origin="big.npz", rows=np.arange(len(x)),
                  row_word="sample")
    from specc.data.checks import check_table

    raises(["big.npz: sample 70000, column 'q': NaN in the features; features must be finite numbers "
            "(2 more non-finite values in the features)"], check_table, table)


def test_labels_outside_classes(tmp_path):
    write_csv(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,4,1\n5,6,7\n7,8,2\n")
    table = load_source({"csv": {"path": "d.csv", "label": "y"}}, tmp_path, 0)
    check_labels(table, {"type": "multiclass", "classes": 8})
    raises(["d.csv: row 2 (line 4 of the file), column 'y': label 7 is outside the classes 0..2 (task.classes: 3)"],
           check_labels, table, {"type": "multiclass", "classes": 3})
    raises(["d.csv: row 2 (line 4 of the file), column 'y': label 7 is not 0 or 1"], check_labels, table, {"type": "binary"})
    raises(["multilabel labels need shape [samples, 3]"], check_labels, table, {"type": "multilabel", "labels": 3})
    raises(["the data has 1 target(s) per sample but task.targets is 2"],
           check_labels, table, {"type": "regression", "targets": 2})
    iris_csv(tmp_path)
    named = load_source(csv_source(), tmp_path, 0)
    raises(["data/iris.csv: the labels have 3 classes (setosa, versicolor, virginica) but task.classes is 2"],
           check_labels, named, {"type": "multiclass", "classes": 2})
    raises(["binary labels need 2 classes"], check_labels, named, {"type": "binary"})
    part = split_table(named, {"test": 0.5, "stratify": True}, 0).test
    bad = part.labels.copy()
    bad[3] = 5
    part.labels = bad
    raises([f"data/iris.csv: row {part.rows[3]} (line {part.lines[3]} of the file), column 'species': label 5 is outside"],
           check_labels, part, {"type": "multiclass", "classes": 3})


def test_label_checks_on_arrays(tmp_path):
    x = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    good = Table(features={"x": x}, labels=np.array([[0, 1], [1, 1], [0, 0], [1, 0], [0, 1], [1, 1]]),
                 origin="m.npz", rows=np.arange(6))
    check_labels(good, {"type": "multilabel", "labels": 2})
    good.labels[2, 1] = 3
    raises(["m.npz: sample 2: label [0, 3] has values other than 0 and 1"],
           check_labels, good, {"type": "multilabel", "labels": 2})
    reg = Table(features={"x": x}, labels=np.array([0.5, 1, np.nan, 2, 3, 4], dtype=np.float32),
                origin="r.npy", label_origin="t.npy", rows=np.arange(6))
    raises(["t.npy: sample 2: label NaN is not a finite number"], check_labels, reg, {"type": "regression"})
    multi = Table(features={"x": x}, labels={"kind": np.array([0, 1, 2, 0, 1, 2]), "size": np.ones(6)},
                  origin="m.npz", rows=np.arange(6))
    check_labels(multi, {"outputs": {"kind": {"type": "multiclass", "classes": 3},
                                     "size": {"type": "regression"}}})
    raises(["no labels for output 'sizes'", "did you mean 'size'"], check_labels, multi,
           {"outputs": {"sizes": {"type": "regression"}}})
    onehot = Table(features={"x": x}, labels=np.eye(3)[[0, 1, 2, 0, 1, 2]], origin="o.npz", rows=np.arange(6))
    check_labels(onehot, {"type": "multiclass", "classes": 3, "encoding": "one_hot"})
    raises(["multiclass labels must be one value per sample"], check_labels, onehot,
           {"type": "multiclass", "classes": 3})


# ---------------------------------------------------------------- npz / npy

def test_npz_and_npy(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 8, 8)), rng.integers(0, 4, size=50)
    np.savez(tmp_path / "d.npz", images=x, target=y)
    table = load_source({"npz": {"path": "d.npz", "features": "images", "labels": "target"}}, tmp_path, 0)
    assert table.features["x"].shape == (50, 8, 8) and table.features["x"].dtype == np.float32
    assert table.labels.dtype == np.int64 and table.description == "d.npz: 50 samples, shape 8x8, 4 classes"
    raises(["d.npz: no array 'lables'", "'target'"],
           load_source, {"npz": {"path": "d.npz", "features": "images", "labels": "lables"}}, tmp_path, 0)

    np.save(tmp_path / "x.npy", x.astype(np.float64))
    np.save(tmp_path / "y.npy", y.astype(np.float64) * 0.5)
    arrays = load_source({"npy": {"features": "x.npy", "labels": "y.npy"}}, tmp_path, 0)
    assert arrays.features["x"].dtype == np.float32 and arrays.labels.dtype == np.float32
    np.save(tmp_path / "short.npy", y[:49])
    raises(["x.npy has 50 samples but short.npy has 49 labels"],
           load_source, {"npy": {"features": "x.npy", "labels": "short.npy"}}, tmp_path, 0)
    raises(["missing.npy: file not found", "data.source.npy.labels"],
           load_source, {"npy": {"features": "x.npy", "labels": "missing.npy"}}, tmp_path, 0)
    x_inf = x.copy()
    x_inf[17, 3, 5] = np.inf
    np.save(tmp_path / "inf.npy", x_inf)
    raises(["inf.npy: sample 17, position [3, 5]: inf in the features"],
           load_source, {"npy": {"features": "inf.npy", "labels": "y.npy"}}, tmp_path, 0)
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    raises(["junk.npy: not a NumPy .npy / .npz file"], load_source, {"npy": {"features": "junk.npy", "labels": "y.npy"}}, tmp_path, 0)


# ---------------------------------------------------------------- image folder + tfrecord

def test_image_folder(tmp_path):
    write_pngs(tmp_path / "imgs", {"dogs": 3, "cats": 2})
    table = load_source({"image_folder": {"path": "imgs", "size": [8, 6], "color": "rgb"}}, tmp_path, 0)
    assert table.features["x"].shape == (5, 8, 6, 3) and table.features["x"].dtype == np.float32
    assert table.class_names == ["cats", "dogs"] and table.labels.tolist() == [0, 0, 1, 1, 1]
    assert 0 <= table.features["x"].min() and table.features["x"].max() <= 255 and table.features["x"].max() > 1
    gray = load_source({"image_folder": {"path": "imgs", "size": [12, 10], "color": "grayscale"}}, tmp_path, 0)
    assert gray.features["x"].shape == (5, 12, 10, 1)
    (tmp_path / "imgs" / "cats" / "broken.png").write_bytes(b"\x89PNG not really")
    raises(["imgs/cats/broken.png: cannot decode the image"],
           load_source, {"image_folder": {"path": "imgs", "size": [8, 6]}}, tmp_path, 0)
    (tmp_path / "flat").mkdir()
    raises(["flat: has no class sub-folders"], load_source, {"image_folder": {"path": "flat", "size": [4, 4]}},
           tmp_path, 0)
    raises(["nowhere: folder not found", "data.source.image_folder.path"],
           load_source, {"image_folder": {"path": "nowhere", "size": [4, 4]}}, tmp_path, 0)


def write_tfrecord(path: Path, n: int) -> np.ndarray:
    import tensorflow as tf

    images = np.random.default_rng(1).random((n, 8, 8, 1)).astype(np.float32)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(n):
            feature = {
                "image": tf.train.Feature(float_list=tf.train.FloatList(value=images[i].ravel())),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 3])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return images


def test_tfrecord(tmp_path):
    images = write_tfrecord(tmp_path / "d.tfrecord", 12)
    features = {"image": {"dtype": "float32", "shape": [8, 8, 1]}, "label": {"dtype": "int64", "shape": []}}
    table = load_source({"tfrecord": {"path": "d.tfrecord", "features": features, "label": "label"}}, tmp_path, 0)
    assert table.features["x"].shape == (12, 8, 8, 1)
    np.testing.assert_array_equal(table.features["x"], images)
    assert table.labels.dtype == np.int64 and table.labels.tolist() == [i % 3 for i in range(12)]
    wrong = dict(features, image={"dtype": "float32", "shape": [8, 8, 3]})
    raises(["d.tfrecord: record 0 does not match data.source.tfrecord.features"],
           load_source, {"tfrecord": {"path": "d.tfrecord", "features": wrong, "label": "label"}}, tmp_path, 0)
    raises(["no declared feature 'lable'", "did you mean 'label'"],
           load_source, {"tfrecord": {"path": "d.tfrecord", "features": features, "label": "lable"}}, tmp_path, 0)


# ---------------------------------------------------------------- split

def test_split_sizes_stratified_and_deterministic():
    digits = load_source({"builtin": "digits"}, Path("."), 0)
    spec = {"validation": 0.1, "test": 0.2, "stratify": True}
    splits = split_table(digits, spec, 42)
    assert isinstance(splits, Splits)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (1259, 179, 359)
    whole = np.bincount(digits.labels) / len(digits)
    for part in (splits.train, splits.validation, splits.test):
        counts = np.bincount(part.labels, minlength=10)
        assert np.all(np.abs(counts - whole * len(part)) <= 1), counts
    rows = np.concatenate([splits.train.rows, splits.validation.rows, splits.test.rows])
    assert sorted(rows.tolist()) == list(range(len(digits)))
    again = split_table(digits, spec, 42)
    other = split_table(digits, spec, 43)
    assert all(fingerprint(a) == fingerprint(b) for (_, a), (_, b) in zip(splits.items(), again.items()))
    assert fingerprint(splits.test) != fingerprint(other.test)
    np.testing.assert_array_equal(digits.features["x"][splits.test.rows], splits.test.features["x"])


def test_split_random_and_edge_cases():
    diabetes = load_source({"builtin": "diabetes"}, Path("."), 0)
    splits = split_table(diabetes, {"validation": 0.25, "test": 0, "stratify": True}, 0)
    assert (len(splits.train), len(splits.validation), splits.test) == (332, 110, None)
    whole = split_table(diabetes, {}, 0)
    assert whole.validation is None and len(whole.train) == 442
    tiny = Table(features={"x": np.zeros((3, 2), np.float32)}, labels=np.array([0, 1, 0]), origin="t")
    raises(["the validation split is empty: 3 samples * 0.1 < 1; use a larger fraction or more data"],
           split_table, tiny, {"validation": 0.1}, 0)
    raises(["the train split is empty"], split_table, tiny, {"validation": 0.5, "test": 0.5}, 0)


def test_split_explicit_sources(tmp_path):
    iris_csv(tmp_path)
    write_csv(tmp_path / "data" / "val.csv", "sepal_length,sepal_width,petal_length,petal_width,species\n"
                                             "6.0,3.0,5.0,2.0,virginica\n5.0,3.4,1.5,0.2,setosa\n")
    write_csv(tmp_path / "data" / "odd.csv", "sepal_length,sepal_width,petal_length,petal_width,species\n"
                                             "6.0,3.0,5.0,2.0,daisy\n")
    train = load_source(csv_source(), tmp_path, 0)
    splits = split_table(train, {"validation": {"source": csv_source(path="data/val.csv")}, "test": 0.2}, 0,
                         base_dir=tmp_path)
    assert splits.validation.labels.tolist() == [2, 0]
    assert splits.validation.class_names == train.class_names
    assert len(splits.train) == 24 and len(splits.test) == 6
    raises(["data/odd.csv: the validation split has classes the training data does not have: daisy"],
           split_table, train, {"validation": {"source": csv_source(path="data/odd.csv")}}, 0, base_dir=tmp_path)
    raises(["data/gone.csv: file not found (from data.split.test.source.csv.path"],
           split_table, train, {"test": {"source": csv_source(path="data/gone.csv")}}, 0, base_dir=tmp_path)


# ---------------------------------------------------------------- fingerprint

def test_fingerprint_stable_and_sensitive(tmp_path):
    iris = load_source({"builtin": "iris"}, Path("."), 0)
    value = fingerprint(iris)
    assert value.startswith("sha256:") and value == fingerprint(load_source({"builtin": "iris"}, Path("."), 0))
    code = ("from pathlib import Path; from specc.data import load_source, fingerprint; "
            "print(fingerprint(load_source({'builtin': 'iris'}, Path('.'), 0)))")
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other_process.stdout.strip() == value
    changed = load_source({"builtin": "iris"}, Path("."), 0)
    changed.features["x"][77, 2] += 0.1
    assert fingerprint(changed) != value
    relabelled = load_source({"builtin": "iris"}, Path("."), 0)
    relabelled.labels[5] = 2
    assert fingerprint(relabelled) != value
    iris_csv(tmp_path)
    strings = load_source(csv_source(categorical=["species"], label=None), tmp_path, 0)
    assert fingerprint(strings) == fingerprint(load_source(csv_source(categorical=["species"], label=None),
                                                           tmp_path, 0))


# ---------------------------------------------------------------- pipeline

def _batches(feed, epochs: int = 1) -> list:
    """The batches of `epochs` epochs of a training feed."""
    return list(feed.dataset.take(feed.steps * epochs))


def test_feed_batching_strategies():
    from specc.data.feed import seeded_batches
    from specc.data.pipeline import tf_ready, to_arrays

    digits = load_source({"builtin": "digits"}, Path("."), 0)
    part = split_table(digits, {"test": 0.2}, 0)
    train = part.train.take(np.arange(100))
    shapes = {"image": [8, 8, 1]}
    arrays = tf_ready(to_arrays(train, ["image"], shapes))

    def feed(batch, seed=0, first=0, epochs=1):
        return seeded_batches(arrays, 100, batch, seed, first, epochs, "digits")

    mini = _batches(feed({"strategy": "mini_batch", "size": 32}))
    assert [x.shape[0] for x, _ in mini] == [32, 32, 32, 4]
    assert tuple(mini[0][0].shape[1:]) == (8, 8, 1) and mini[0][1].dtype.name == "int64"
    full = _batches(feed({"strategy": "full_batch", "shuffle": False}))
    assert len(full) == 1 and tuple(full[0][0].shape) == (100, 8, 8, 1)
    np.testing.assert_array_equal(full[0][0].numpy().reshape(100, 64), train.features["x"])
    sgd = feed({"strategy": "stochastic"})
    assert sgd.steps == 100 and all(tuple(x.shape) == (1, 8, 8, 1) for x, _ in _batches(sgd)[:10])
    dropped = feed({"strategy": "mini_batch", "size": 32, "drop_remainder": True})
    assert dropped.steps == 3 and [x.shape[0] for x, _ in _batches(dropped)] == [32, 32, 32]
    bigger = feed({"strategy": "mini_batch", "size": 500, "drop_remainder": True})  # one batch of all 100
    assert bigger.steps == 1 and bigger.batch_size == 100

    def epoch_labels(seed, epoch):
        one = feed({"strategy": "mini_batch", "size": 25}, seed=seed, first=epoch, epochs=epoch + 1)
        return np.concatenate([y.numpy() for _, y in _batches(one)])

    # the order of epoch e is a function of (seed, e) alone: a resumed run sees the same batches
    assert np.array_equal(epoch_labels(3, 0), epoch_labels(3, 0))
    assert not np.array_equal(epoch_labels(3, 0), train.labels)
    two = np.concatenate([y.numpy() for _, y in _batches(feed({"strategy": "mini_batch", "size": 25},
                                                              seed=3, epochs=2), epochs=2)])
    assert np.array_equal(two[:100], epoch_labels(3, 0)) and np.array_equal(two[100:], epoch_labels(3, 1))
    assert not np.array_equal(two[:100], two[100:]) and sorted(two[:100]) == sorted(two[100:])

    x, y = to_arrays(train, ["image"], {"image": {"shape": [8, 8, 1], "dtype": "float32"}})
    assert x.shape == (100, 8, 8, 1) and y.shape == (100,)
    raises(["feature 'x' has shape [64] per sample (64 values) but model input 'image' expects [7 x 7]"],
           to_arrays, train, ["image"], {"image": [7, 7]})
    seq, _ = to_arrays(train, ["x"], {"x": [None, 1]})
    assert seq.shape == (100, 64, 1)


def test_feed_multi_input(tmp_path):
    from specc.data.feed import seeded_batches
    from specc.data.pipeline import tf_ready, to_arrays

    write_csv(tmp_path / "h.csv", """
age,city,rooms,price,sold
30,paris,3,1.5,1
41,rome,2,0.5,0
25,paris,4,2.5,1
33,oslo,1,0.7,0
52,rome,5,3.1,1
""")
    spec = {"csv": {"path": "h.csv", "label": {"sold": "sold", "price": "price"}, "categorical": ["city"],
                    "features": {"numbers": ["age", "rooms"], "city": ["city"]}}}
    table = load_source(spec, tmp_path, 0)
    arrays = to_arrays(table, ["numbers", "city"], {"numbers": [2], "city": {"shape": [], "dtype": "string"}},
                       ["sold", "price"])
    feed = seeded_batches(tf_ready(arrays), len(table), {"strategy": "mini_batch", "size": 2, "shuffle": False},
                          0, 0, 1, "h.csv")
    batches = _batches(feed)
    assert len(batches) == 3
    inputs, targets = batches[0]
    assert set(inputs) == {"numbers", "city"} and set(targets) == {"sold", "price"}
    assert tuple(inputs["numbers"].shape) == (2, 2) and inputs["city"].dtype.name == "string"
    assert inputs["city"].numpy().tolist() == [b"paris", b"rome"]
    assert targets["price"].dtype.name == "float32"
    raises(["model input 'citys' has no matching data feature", "did you mean 'city'"],
           to_arrays, table, ["numbers", "citys"], None, ["sold", "price"])
    raises(["no labels for model output 'solds'", "did you mean 'sold'"],
           to_arrays, table, ["numbers", "city"], None, ["solds", "price"])
    x, y = to_arrays(table, ["numbers", "city"], None, ["sold"])
    assert set(x) == {"numbers", "city"} and y.tolist() == [1, 0, 1, 0, 1]


def test_arrays_without_labels_are_inputs_alone():
    from specc.data.pipeline import to_arrays

    table = Table(features={"x": np.arange(12, dtype=np.float32).reshape(6, 2)}, origin="t")
    x, y = to_arrays(table, ["x"])
    assert x.shape == (6, 2) and y is None


# ---------------------------------------------------------------- import discipline

def test_import_does_not_load_tensorflow():
    code = ("import sys, specc.data, specc.data.sources, specc.data.split, specc.data.pipeline; "
            "from pathlib import Path; t = specc.data.load_source({'synthetic': {'kind': 'classification'}}, "
            "Path('.'), 0); specc.data.split_table(t, {'validation': 0.2}, 0); "
            "specc.data.pipeline.to_arrays(t, ['x']); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False False"
