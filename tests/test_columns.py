"""Data read by name, never by position; runs that fail leave no clutter.

A short run of iris read from a CSV file (written here, with a header and the species as
names): `specc predict` and `specc evaluate --data` read the columns the run was trained on by
their names, in any order, beside columns the model does not read; a missing column and a
file without a header row are refused. The `row` column of predictions counts samples the
same way for every kind of input. A spec that cannot be built leaves no run folder, and the
temporary files of writes a killed process left are removed when the run is opened again.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import cli, no_traceback, read_json, train_run

pytestmark = pytest.mark.slow

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

IRIS_SPEC = """\
specc: 1
name: iris-csv
seed: 5
data:
  source: {csv: {path: iris.csv, label: species}}
  split: {validation: 0.2, test: 0.2, stratify: true}
  preprocessing: [normalization]
task: {type: multiclass, classes: 3}
model:
  inputs: {features: [4]}
  layers: [{dense: {units: 8, activation: relu}}]
optimizer: {adam: {learning_rate: 0.05}}
train: {epochs: 8}
"""


def iris_rows() -> tuple[np.ndarray, list]:
    from sklearn.datasets import load_iris

    iris = load_iris()
    return iris.data.astype(np.float32), [str(iris.target_names[t]) for t in iris.target]


def write_csv(path, header: list, rows: list) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def iris_table(order: list, x: np.ndarray, species: list, extra: bool = False) -> tuple[list, list]:
    """(header, rows) of the iris samples with the columns in `order` ("species" among them or
    not), and an unrelated `note` column first when `extra`."""
    header = (["note"] if extra else []) + order
    rows = []
    for i, (values, name) in enumerate(zip(x.tolist(), species)):
        cells = dict(zip(COLUMNS, (repr(v) for v in values)), species=name)
        rows.append(([f"sample {i}"] if extra else []) + [cells[c] for c in order])
    return header, rows


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris-csv")
    x, species = iris_rows()
    write_csv(folder / "iris.csv", *iris_table(COLUMNS + ["species"], x, species))
    (folder / "iris.yaml").write_text(IRIS_SPEC)
    return train_run(folder / "iris.yaml", folder / "runs", "--no-export")


def predict(run, given, out, *, code: int = 0):
    result = cli("predict", run.run_id, "--runs-dir", run.runs_dir, "--input", given, "--output", out)
    no_traceback(result)
    assert result.exit_code == code, result.output
    return result


def evaluate(run, source: str, *, code: int = 0):
    result = cli("evaluate", run.run_id, "--runs-dir", run.runs_dir, "--data", source, "--format", "json")
    no_traceback(result)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else result


def read_rows(path) -> list:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# --- what the run records ---------------------------------------------------------------

def test_the_run_records_the_columns_it_was_trained_on(iris_run):
    assert iris_run.record()["columns"] == {"inputs": {"x": COLUMNS}, "labels": "species", "categorical": []}


def test_a_builtin_run_records_the_data_sets_feature_names(lenet_run):
    from sklearn.datasets import load_digits

    assert lenet_run.record()["columns"] == {"inputs": {"x": list(load_digits().feature_names)},
                                             "labels": None, "categorical": []}


# --- predict ------------------------------------------------------------------------------

def test_predict_reads_columns_by_name_and_ignores_the_label(iris_run, tmp_path):
    x, species = iris_rows()
    as_trained, shuffled, unlabelled = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_csv(as_trained, *iris_table(COLUMNS + ["species"], x, species))
    write_csv(shuffled, *iris_table(["petal_width", "species", "sepal_length", "petal_length", "sepal_width"],
                                    x, ["not a species"] * len(x), extra=True))
    write_csv(unlabelled, *iris_table(COLUMNS[::-1], x, species))
    outputs = []
    for given in (as_trained, shuffled, unlabelled):
        predict(iris_run, given, tmp_path / f"{given.stem}.out.csv")
        outputs.append((tmp_path / f"{given.stem}.out.csv").read_text())
    assert outputs[0] == outputs[1] == outputs[2]
    rows = read_rows(tmp_path / "a.out.csv")
    assert [int(r["row"]) for r in rows] == list(range(150))
    predicted = [r["predicted"] for r in rows]
    assert set(predicted) <= {"setosa", "versicolor", "virginica"}
    assert np.mean(np.array(predicted) == np.array(species)) > 0.8


def test_predict_refuses_a_missing_column(iris_run, tmp_path):
    x, species = iris_rows()
    header, rows = iris_table(COLUMNS + ["species"], x[:5], species[:5])
    header[3] = "petal_widht"
    write_csv(tmp_path / "typo.csv", header, rows)
    result = predict(iris_run, tmp_path / "typo.csv", tmp_path / "out.csv", code=3)
    assert result.stderr.startswith(f"error: {tmp_path / 'typo.csv'}: no column 'petal_width' "
                                    "(did you mean 'petal_widht'?); the file has: sepal_length, "
                                    "sepal_width, petal_length, petal_widht, species\n")
    assert "columns are matched by name, in any order" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_predict_refuses_a_file_without_a_header_row(iris_run, tmp_path):
    x, species = iris_rows()
    _, rows = iris_table(COLUMNS, x[:5], species[:5])
    write_csv(tmp_path / "bare.csv", [], rows)
    result = predict(iris_run, tmp_path / "bare.csv", tmp_path / "out.csv", code=3)
    assert result.stderr == (f"error: {tmp_path / 'bare.csv'}: the file seems to have no header row "
                             f"(its first row holds {len(rows[0])} numbers); columns are read by their names\n"
                             "    hint: add a header row naming the columns; needed: "
                             "sepal_length,sepal_width,petal_length,petal_width\n")
    assert rows[0][0] not in result.stderr  # a row of data is not echoed: it could be anything


def test_the_row_column_counts_samples_alike_for_csv_and_npz(iris_run, tmp_path):
    x, species = iris_rows()
    picked = np.arange(3, 150, 7)
    write_csv(tmp_path / "some.csv", *iris_table(COLUMNS, x[picked], [species[i] for i in picked]))
    np.savez(tmp_path / "some.npz", features=x[picked])
    predict(iris_run, tmp_path / "some.csv", tmp_path / "from_csv.csv")
    predict(iris_run, tmp_path / "some.npz", tmp_path / "from_npz.csv")
    from_csv, from_npz = read_rows(tmp_path / "from_csv.csv"), read_rows(tmp_path / "from_npz.csv")
    assert [r["row"] for r in from_csv] == [r["row"] for r in from_npz] == [str(i) for i in range(len(picked))]
    assert [r["predicted"] for r in from_csv] == [r["predicted"] for r in from_npz]
    for a, b in zip(from_csv, from_npz):
        assert float(a["probability_0"]) == pytest.approx(float(b["probability_0"]), abs=1e-6)


def test_the_row_column_of_an_image_folder_counts_its_sorted_files(lenet_run, tmp_path):
    import tensorflow as tf

    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for i, name in enumerate(["b.png", "a.png", "sub/c.png"]):
        pixels = np.full((8, 8, 1), 40 * i, dtype=np.uint8)
        (folder / name).write_bytes(tf.io.encode_png(pixels).numpy())
    predict(lenet_run, folder, tmp_path / "out.csv")
    rows = read_rows(tmp_path / "out.csv")
    assert list(rows[0])[:3] == ["row", "input", "predicted"]
    assert [(r["row"], r["input"]) for r in rows] == [("0", "a.png"), ("1", "b.png"), ("2", "sub/c.png")]


def copied_run(run, tmp_path, change):
    """A copy of a run folder with its record.json changed by `change(record)`, its spec's
    files copied beside its runs folder (a project moved as a whole: a run reads its spec's
    relative paths only inside its project)."""
    folder = tmp_path / "copy" / run.path.parent.name / run.path.name
    shutil.copytree(run.path, folder)
    record = read_json(folder / "record.json")
    spec_file = Path(record["spec_file"])
    for path in spec_file.parent.iterdir():
        if path.is_file():
            shutil.copy2(path, tmp_path / path.name)
    record["spec_file"] = str(tmp_path / spec_file.name)
    change(record)
    (folder / "record.json").write_text(json.dumps(record))
    return type(run)(folder, tmp_path / "copy")


def test_an_older_csv_run_reads_the_columns_its_spec_names(iris_run, tmp_path):
    """A run recorded before `columns` existed: its spec's csv settings and its training
    file's header say which columns, by name."""
    older = copied_run(iris_run, tmp_path, lambda record: record.pop("columns"))
    x, species = iris_rows()
    write_csv(tmp_path / "a.csv", *iris_table(COLUMNS, x, species))
    write_csv(tmp_path / "b.csv", *iris_table(COLUMNS[::-1], x, species, extra=True))
    predict(older, tmp_path / "a.csv", tmp_path / "a.out.csv")
    predict(older, tmp_path / "b.csv", tmp_path / "b.out.csv")
    assert (tmp_path / "a.out.csv").read_text() == (tmp_path / "b.out.csv").read_text()


def test_a_csv_cannot_be_matched_to_a_run_without_column_names(lenet_run, iris_run, tmp_path):
    older = copied_run(lenet_run, tmp_path / "older", lambda record: record.pop("columns"))
    nameless = copied_run(iris_run, tmp_path / "nameless", lambda record: record.update(columns=None))
    write_csv(tmp_path / "x.csv", ["a", "b"], [["1", "2"]])
    result = predict(older, tmp_path / "x.csv", tmp_path / "out.csv", code=3)
    assert result.stderr.startswith(f"error: run {lenet_run.run_id} was recorded before specc kept the "
                                    "column names of its training data, and its source is builtin")
    result = predict(nameless, tmp_path / "x.csv", tmp_path / "out.csv", code=3)
    assert result.stderr == (f"error: run {iris_run.run_id} was trained on data without column names, "
                             "so a CSV cannot be matched to its inputs by name\n"
                             "    hint: give the inputs as .npz or .npy (arrays in the order of training)\n")


# --- evaluate --data ----------------------------------------------------------------------

def test_evaluate_data_reads_columns_by_name(iris_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --data paths are relative to the current folder
    x, species = iris_rows()
    write_csv(tmp_path / "a.csv", *iris_table(COLUMNS + ["species"], x, species))
    write_csv(tmp_path / "b.csv", *iris_table(["species", "petal_width", "sepal_length", "petal_length",
                                               "sepal_width"], x, species, extra=True))
    as_trained = evaluate(iris_run, "{csv: {path: a.csv, label: species}}")["data"]
    shuffled = evaluate(iris_run, "{csv: {path: b.csv, label: species}}")["data"]
    label_from_the_run = evaluate(iris_run, "{csv: {path: b.csv}}")["data"]
    assert shuffled == pytest.approx(as_trained, abs=1e-6)
    assert label_from_the_run == pytest.approx(as_trained, abs=1e-6)
    assert as_trained["accuracy"] > 0.8


def test_evaluate_data_refuses_missing_columns_and_a_missing_header(iris_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, species = iris_rows()
    write_csv(tmp_path / "nolabel.csv", *iris_table(COLUMNS, x[:9], species[:9]))
    result = evaluate(iris_run, "{csv: {path: nolabel.csv}}", code=3)
    assert result.stderr.startswith("error: nolabel.csv: no column 'species'; the file has: sepal_length, "
                                    "sepal_width, petal_length, petal_width\n")
    _, rows = iris_table(COLUMNS + ["species"], x[:9], species[:9])
    write_csv(tmp_path / "bare.csv", [], [[c if c not in species else "1" for c in r] for r in rows])
    result = evaluate(iris_run, "{csv: {path: bare.csv, label: species}}", code=3)
    assert result.stderr.startswith("error: bare.csv: the file seems to have no header row")
    assert "needed: sepal_length,sepal_width,petal_length,petal_width,species" in result.stderr


def test_evaluate_data_names_the_columns_of_a_run_without_names(iris_run, tmp_path, monkeypatch):
    """`features:` in --data names the columns itself; without it, a run trained on data
    without column names refuses a CSV."""
    nameless = copied_run(iris_run, tmp_path / "runs", lambda record: record.update(columns=None))
    monkeypatch.chdir(tmp_path)
    x, species = iris_rows()
    write_csv(tmp_path / "a.csv", *iris_table(["species"] + COLUMNS[::-1], x, species))
    named = evaluate(nameless, "{csv: {path: a.csv, label: species, features: "
                               "[sepal_length, sepal_width, petal_length, petal_width]}}")["data"]
    by_record = evaluate(iris_run, "{csv: {path: a.csv}}")["data"]
    assert named == pytest.approx(by_record, abs=1e-6)
    refused = evaluate(nameless, "{csv: {path: a.csv, label: species}}", code=3)
    assert refused.stderr.startswith(f"error: run {iris_run.run_id} was trained on data without column names")


# --- runs that fail leave no clutter ------------------------------------------------------

CANNOT_BUILD = """specc: 1
name: cannot-build
plugins: [picky]
data:
  source: {builtin: digits}
task: {type: multiclass, classes: 10}
model:
  inputs: {image: [64]}
  layers:
    - picky: {}
    - dense: 8
"""


def test_a_spec_that_cannot_be_built_leaves_no_run_folder(tmp_path):
    """Only building finds the error (a plugin layer that refuses its input; validation cannot
    know a plugin's shapes): exit 1, positioned, and no run folder."""
    (tmp_path / "picky.py").write_text(PICKY_PLUGIN)
    spec = tmp_path / "cannot-build.yaml"
    spec.write_text(CANNOT_BUILD)
    assert cli("validate", spec).exit_code == 0  # valid; only building the model finds the error
    result = cli("train", spec, "--runs-dir", tmp_path / "runs")
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert "cannot-build.yaml:" in result.stderr and "picky takes 3 features" in result.stderr
    assert not (tmp_path / "runs").exists()


PICKY_PLUGIN = """import keras


@keras.saving.register_keras_serializable(package="picky")
class Picky(keras.layers.Layer):
    def build(self, shape):
        if shape[-1] != 3:
            raise ValueError(f"picky takes 3 features, got {shape[-1]}")

    def call(self, x):
        return x
"""


TEMPORARIES = [".record.json.k2j4x9a1.tmp", "checkpoints/.last.tmp.keras", "checkpoints/.encoder.tmp.keras",
               "checkpoints/.state.json.0abc_d1e.tmp", "exports/.tmp-model.keras", "exports/.tmp-saved_model/"]


def make_temporaries(folder, age: float) -> None:
    """The files writes leave when their process is killed between writing and renaming."""
    then = time.time() - age
    for name in TEMPORARIES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir()
            (path / "saved_model.pb").write_bytes(b"half")
            os.utime(path / "saved_model.pb", (then, then))
        else:
            path.write_bytes(b"half")
        os.utime(path, (then, then))


def left(folder) -> list:
    return [name for name in TEMPORARIES if (folder / name.rstrip("/")).exists()]


def test_stale_temporary_files_go_when_a_finished_run_is_opened(iris_run, tmp_path, monkeypatch):
    from specc.run.session import open_run

    monkeypatch.chdir(tmp_path)
    run = copied_run(iris_run, tmp_path, lambda record: None)
    make_temporaries(run.path, age=2 * 3600)
    (run.path / "notes.tmp").write_text("the user's, not specc's")
    x, species = iris_rows()
    write_csv(tmp_path / "a.csv", *iris_table(COLUMNS + ["species"], x[:10], species[:10]))
    predict(run, tmp_path / "a.csv", tmp_path / "out.csv")
    assert left(run.path) == []
    assert (run.path / "notes.tmp").exists() and (run.path / "checkpoints" / "best.keras").exists()
    make_temporaries(run.path, age=5)  # fresh: perhaps an export at work in another process
    open_run(str(run.path))
    assert left(run.path) == TEMPORARIES


def test_a_running_run_keeps_its_temporary_files(iris_run, tmp_path):
    from specc.run.session import open_run

    running = copied_run(iris_run, tmp_path, lambda record: record.update(status="running"))
    make_temporaries(running.path, age=2 * 3600)
    open_run(str(running.path))
    assert left(running.path) == TEMPORARIES
