"""`specc evaluate` and `specc predict` on real runs: the session's LeNet digits run, and a
short run of the two-input, two-output wine spec read from a CSV file."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import SPECS, cli, no_traceback, splits_of, train_run

LENET = SPECS / "lenet-digits.yaml"
WINE_IO = SPECS / "multi-io-wine.yaml"
WINE_CSV = SPECS / "data" / "wine.csv"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits_test():
    """The test split of the LeNet run (same spec, same seed, same split)."""
    return splits_of(LENET).test


@pytest.fixture(scope="module")
def wine_io_run(tmp_path_factory):
    return train_run(WINE_IO, tmp_path_factory.mktemp("wine-io"), "--set", "train.epochs=15", "--no-export")


@pytest.fixture(scope="module")
def no_test_run(tmp_path_factory):
    """A run whose spec makes no test split."""
    return train_run(SPECS / "mlp-wine.yaml", tmp_path_factory.mktemp("no-test"), "--no-export",
                     "--set", "train.epochs=1", "--set", "data.split={validation: 0.2, test: 0}")


def evaluate_json(run, *args) -> dict:
    result = cli("evaluate", run.run_id, "--runs-dir", run.runs_dir, "--format", "json", *args)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def read_csv(path) -> list:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# --- evaluate ------------------------------------------------------------------------------

def test_evaluate_test_split_matches_the_record(lenet_run):
    got = evaluate_json(lenet_run, "--split", "test")
    assert list(got) == ["test"]
    assert got["test"] == pytest.approx(lenet_run.metrics()["test"], abs=1e-6)


def test_evaluate_all_splits(lenet_run):
    got = evaluate_json(lenet_run, "--split", "all")
    recorded = lenet_run.metrics()
    assert list(got) == ["train", "validation", "test"]
    for split, values in got.items():
        assert values == pytest.approx(recorded[split], abs=1e-6)


def test_evaluate_other_data_is_the_whole_of_it(lenet_run):
    got = evaluate_json(lenet_run, "--data", "{builtin: digits}")
    recorded, sizes = lenet_run.metrics(), lenet_run.record()["data"]
    pooled = sum(recorded[s]["accuracy"] * n for s, n in sizes.items()) / sum(sizes.values())
    assert list(got) == ["data"]
    assert got["data"]["accuracy"] == pytest.approx(pooled, abs=1e-4)


def test_evaluate_last_checkpoint(lenet_run, digits_test):
    got = evaluate_json(lenet_run, "--checkpoint", "last")
    model = keras.saving.load_model(lenet_run.path / "checkpoints" / "last.keras")
    x = digits_test.features["x"].reshape(-1, 8, 8, 1)
    probabilities = model.predict(x, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == digits_test.labels))
    assert got["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_evaluate_text_output(lenet_run):
    result = cli("evaluate", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir)
    assert result.exit_code == 0, result.output
    accuracy = lenet_run.metrics()["test"]["accuracy"]
    assert result.stdout.startswith("test ") and f"accuracy {accuracy:.4g}" in result.stdout


def test_evaluate_and_predict_name_the_run_and_checkpoint_on_stderr(lenet_run, digits_test, tmp_path):
    """NAME/latest moves with every run: the commands say which run and checkpoint they used,
    on stderr, so that --format json stays parseable."""
    record = lenet_run.record()
    evaluated = cli("evaluate", "lenet-digits/latest", "--runs-dir", lenet_run.runs_dir, "--format", "json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["test"]
    assert evaluated.stderr == (f"using run {lenet_run.run_id} (checkpoint best.keras, "
                                f"epoch {record['best']['epoch']})\n")
    np.savez(tmp_path / "x.npz", image=digits_test.features["x"].reshape(-1, 8, 8, 1)[:5].astype(np.float32))
    predicted = cli("predict", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir, "--checkpoint", "last",
                    "--input", tmp_path / "x.npz", "--output", tmp_path / "out.csv")
    assert predicted.exit_code == 0, predicted.output
    assert predicted.stderr == (f"using run {lenet_run.run_id} (checkpoint last.keras, "
                                f"epoch {record['epochs_completed']})\n")


def test_evaluate_unknown_run(tmp_path):
    result = cli("evaluate", "20990101-000000-beef", "--runs-dir", tmp_path)
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no run '20990101-000000-beef' under ")


def test_evaluate_missing_split(no_test_run):
    result = cli("evaluate", no_test_run.run_id, "--runs-dir", no_test_run.runs_dir, "--split", "test")
    no_traceback(result)
    assert result.exit_code == 2
    assert f"the spec of run {no_test_run.run_id} has no test split" in result.stderr


@pytest.mark.parametrize("source, code, message", [
    ("{builtin: [digits", 2, "error: --data is not valid YAML"),
    ("[1, 2]", 2, "error: --data takes one source mapping"),
    ("{builtin: iris}", 3, "error: builtin iris: classes the run was not trained on: setosa"),
    ("{builtin: diabetes}", 3, "error: builtin diabetes: sample 0: label 151 is outside the classes 0..9"),
])
def test_evaluate_bad_data_argument(lenet_run, source, code, message):
    result = cli("evaluate", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir, "--data", source)
    no_traceback(result)
    assert result.exit_code == code
    assert result.stderr.startswith(message)


def test_evaluate_other_data_without_labels_points_at_data(lenet_run, digits_test, tmp_path, monkeypatch):
    """The hint sent the user to data.source, which --data does not read."""
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "x.npz", x=digits_test.features["x"][:5])
    result = cli("evaluate", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir,
                 "--data", "{npz: {path: x.npz, labels: null}}")
    no_traceback(result)
    assert result.exit_code == 3
    assert result.stderr == ("error: x.npz: there are no labels, but task.type is multiclass\n"
                             "    hint: name the label column / array in --data\n")


def test_evaluate_other_data_of_the_wrong_shape(lenet_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --data paths are relative to the current folder
    (tmp_path / "small.csv").write_text("a,b,c,y\n1,2,3,0\n4,5,6,1\n")
    named = cli("evaluate", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir,
                "--data", "{csv: {path: small.csv, label: y, features: [a, b, c]}}")
    no_traceback(named)
    assert named.exit_code == 3
    assert named.stderr.startswith("error: small.csv: feature 'x' has shape [3] per sample (3 values) "
                                   "but model input 'image' expects [8 x 8 x 1]")
    # without features: the 64 pixel columns the run was trained on, read by name
    by_name = cli("evaluate", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir,
                  "--data", "{csv: {path: small.csv, label: y}}")
    no_traceback(by_name)
    assert by_name.exit_code == 3
    assert by_name.stderr.startswith("error: small.csv: no columns 'pixel_0_0', 'pixel_0_1', 'pixel_0_2', "
                                     "'pixel_0_3', 'pixel_0_4', ... (64 in all); the file has: a, b, c, y\n")


def test_a_missing_column_list_never_hides_a_single_name(lenet_run, tmp_path, monkeypatch):
    """Six missing columns read "'pixel_0_0', ..., 'pixel_0_4', ... (6 in all)": the "..."
    stood for the one name it hid."""
    monkeypatch.chdir(tmp_path)
    header = [f"pixel_{i // 8}_{i % 8}" for i in range(6, 64)] + ["y"]
    (tmp_path / "some.csv").write_text(",".join(header) + "\n" + ",".join(["0"] * len(header)) + "\n")
    result = cli("evaluate", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir, "--data", "{csv: {path: some.csv}}")
    no_traceback(result)
    assert result.exit_code == 3
    missing = ", ".join(f"'pixel_0_{i}'" for i in range(6))
    assert result.stderr.startswith(f"error: some.csv: no columns {missing}; the file has: pixel_0_6, ")


# --- predict -------------------------------------------------------------------------------

def write_digits_csv(path, table) -> None:
    """The test digits as a CSV: 64 numeric pixel columns named as the builtin data set names
    them (columns are read by name), no label."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.feature_names)
        writer.writerows(table.features["x"].reshape(len(table), 64).tolist())


def test_predict_csv_of_digits(lenet_run, digits_test, tmp_path):
    given, out = tmp_path / "digits.csv", tmp_path / "predictions.csv"
    write_digits_csv(given, digits_test)
    result = cli("predict", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir, "--input", given,
                 "--output", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {len(digits_test)} prediction(s) to {out}"
    rows = read_csv(out)
    assert len(rows) == len(digits_test)
    assert list(rows[0]) == ["row", "predicted"] + [f"probability_{i}" for i in range(10)]
    probabilities = np.array([[float(r[f"probability_{i}"]) for i in range(10)] for r in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    predicted = [r["predicted"] for r in rows]
    assert predicted == [str(i) for i in probabilities.argmax(axis=1)]  # class names of digits
    accuracy = np.mean(np.array(predicted, dtype=int) == digits_test.labels)
    assert accuracy == pytest.approx(lenet_run.metrics()["test"]["accuracy"], abs=1e-6)


def test_predict_npz_in_and_out(lenet_run, digits_test, tmp_path):
    given, out = tmp_path / "digits.npz", tmp_path / "predictions.npz"
    x = digits_test.features["x"].reshape(-1, 8, 8, 1).astype(np.float32)
    np.savez(given, image=x)
    result = cli("predict", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir, "--input", given,
                 "--output", out)
    assert result.exit_code == 0, result.output
    with np.load(out) as saved:
        assert saved.files == ["output"]
        probabilities = saved["output"]
    model = keras.saving.load_model(lenet_run.path / "checkpoints" / "best.keras")
    np.testing.assert_allclose(probabilities, model.predict(x, verbose=0), atol=1e-6)


def test_predict_csv_of_wine_rows_two_outputs(wine_io_run, tmp_path):
    given, out = tmp_path / "wine.csv", tmp_path / "predictions.csv"
    lines = WINE_CSV.read_text().splitlines()
    given.write_text("\n".join(lines[:1] + lines[1::9]) + "\n")  # 20 rows, labels included
    result = cli("predict", wine_io_run.run_id, "--runs-dir", wine_io_run.runs_dir, "--input", given,
                 "--output", out)
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert len(rows) == 20
    assert list(rows[0]) == ["row", "cultivar_predicted", "cultivar_probability_0", "cultivar_probability_1",
                             "cultivar_probability_2", "alcohol_prediction"]
    assert [int(r["row"]) for r in rows] == list(range(20))  # 0-based index of the sample
    probabilities = np.array([[float(r[f"cultivar_probability_{i}"]) for i in range(3)] for r in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    alcohol = np.array([float(r["alcohol_prediction"]) for r in rows])
    assert np.all(np.isfinite(alcohol)) and np.all((alcohol > 5) & (alcohol < 25))


def test_predict_names_the_classes_of_a_multi_output_csv_run(wine_io_run, tmp_path):
    given, out = tmp_path / "wine.csv", tmp_path / "predictions.csv"
    given.write_text("\n".join(WINE_CSV.read_text().splitlines()[:4]) + "\n")
    assert cli("predict", wine_io_run.run_id, "--runs-dir", wine_io_run.runs_dir, "--input", given,
               "--output", out).exit_code == 0
    assert {r["cultivar_predicted"] for r in read_csv(out)} <= {"class_0", "class_1", "class_2"}


def test_evaluate_numbers_the_classes_of_each_output_as_training_did(wine_io_run, tmp_path):
    """Other data that lacks a class: its string labels are numbered as the run's were (per
    output), so the accuracy is that of the predicted names, not of shifted ids."""
    lines = WINE_CSV.read_text().splitlines()
    only = tmp_path / "class_2.csv"
    only.write_text("\n".join([lines[0]] + [line for line in lines[1:] if line.endswith(",class_2")]) + "\n")
    source = f"{{csv: {{path: {only}, label: {{cultivar: cultivar, alcohol: alcohol}}}}}}"
    accuracy = evaluate_json(wine_io_run, "--data", source)["data"]["cultivar_accuracy"]
    out = tmp_path / "predictions.csv"
    assert cli("predict", wine_io_run.run_id, "--runs-dir", wine_io_run.runs_dir, "--input", only,
               "--output", out).exit_code == 0
    named = [r["cultivar_predicted"] == "class_2" for r in read_csv(out)]
    assert accuracy == pytest.approx(sum(named) / len(named), abs=1e-6) and accuracy > 0.5
    unknown = tmp_path / "unknown.csv"
    unknown.write_text(lines[0] + "\n" + lines[1].rsplit(",", 1)[0] + ",class_9\n")
    result = cli("evaluate", wine_io_run.run_id, "--runs-dir", wine_io_run.runs_dir, "--data",
                 source.replace(str(only), str(unknown)))
    no_traceback(result)
    assert result.exit_code == 3 and "classes the run was not trained on: class_9" in result.stderr


def test_predict_refuses_to_overwrite_without_force(lenet_run, digits_test, tmp_path):
    given, out = tmp_path / "digits.csv", tmp_path / "predictions.csv"
    write_digits_csv(given, digits_test)
    out.write_text("keep me\n")
    args = ("predict", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir, "--input", given, "--output", out)
    refused = cli(*args)
    no_traceback(refused)
    assert refused.exit_code == 2
    assert refused.stderr == f"error: {out} exists already\n    hint: remove it, or pass --force\n"
    assert out.read_text() == "keep me\n"
    forced = cli(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert len(read_csv(out)) == len(digits_test)


def test_predict_missing_input(lenet_run, tmp_path):
    result = cli("predict", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir,
                 "--input", tmp_path / "nope.csv", "--output", tmp_path / "out.csv")
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: no such file or folder: {tmp_path / 'nope.csv'}")
    assert not (tmp_path / "out.csv").exists()


def test_predict_unknown_output_format(lenet_run, digits_test, tmp_path):
    given = tmp_path / "digits.csv"
    write_digits_csv(given, digits_test)
    result = cli("predict", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir, "--input", given,
                 "--output", tmp_path / "out.parquet")
    no_traceback(result)
    assert result.exit_code == 2 and "predictions are written as .csv or .npz" in result.stderr
    assert not (tmp_path / "out.parquet").exists()


def test_small_figures_keep_their_significant_digits(tmp_path):
    """A regression loss of ~1e-6 showed as `loss 0.0000` in the text of train and evaluate
    (only --format json had the number)."""
    rows = np.random.default_rng(0).uniform(size=(50, 2))
    lines = ["a,b,y"] + [f"{a:.4f},{b:.4f},{(a + b) / 1000:.6f}" for a, b in rows]
    (tmp_path / "small.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "small.yaml").write_text(
        "specc: 1\nname: small-loss\nseed: 1\n"
        "data: {source: {csv: {path: small.csv, label: y}}, split: {validation: 0.2, test: 0.2}}\n"
        "task: {type: regression}\nmodel: {inputs: {x: [2]}, layers: [{dense: {units: 2, kernel_initializer: zeros}}]}\n"
        "train: {epochs: 1}\n", encoding="utf-8")
    trained = cli("train", tmp_path / "small.yaml", "--runs-dir", tmp_path / "runs", "--no-export")
    assert trained.exit_code == 0, trained.output
    folder = trained.stdout.strip().splitlines()[-1].removeprefix("record: ")
    loss = json.loads((Path(folder) / "metrics.json").read_text())["test"]["loss"]
    assert loss < 1e-3
    assert f"  test       loss {loss:.4g}" in trained.stdout
    evaluated = cli("evaluate", "small-loss/latest", "--runs-dir", tmp_path / "runs")
    assert evaluated.exit_code == 0, evaluated.output
    assert evaluated.stdout.startswith(f"test       loss {loss:.4g}  ")


def test_a_text_cell_in_predict_input_names_the_spec_key(lenet_run, tmp_path):
    """The hint said to list the column under --input.csv.categorical, which does not exist."""
    given = tmp_path / "digits.csv"
    given.write_text(",".join(f"pixel_{i // 8}_{i % 8}" for i in range(64)) + "\n" + "abc" + ",0" * 63 + "\n")
    result = cli("predict", lenet_run.run_id, "--runs-dir", lenet_run.runs_dir, "--input", given,
                 "--output", tmp_path / "out.csv")
    no_traceback(result)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[1] == ("    hint: fix the value (the run reads 'pixel_0_0' as numbers), or list it "
                                             "under data.source.csv.categorical in the spec and train again")
