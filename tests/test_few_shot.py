"""Few-shot evaluation, prediction with a support set, and rotated training classes.

One short run of the shipped spec (specs/protonet-digits.yaml: trained on the digits 0-4,
tested on 5-9) is shared by the evaluation and prediction tests; two tiny runs with other
seeds show that the evaluation episodes do not depend on the training seed.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, cli, no_traceback, read_json, train_run

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

pytestmark = pytest.mark.slow

SPEC = ROOT / "specs" / "protonet-digits.yaml"
TEST_DIGITS = (5, 6, 7, 8, 9)


@pytest.fixture(scope="module")
def shipped_run(tmp_path_factory):
    """The shipped spec, briefly: 4 epochs of 25 episodes."""
    runs = tmp_path_factory.mktemp("protonet")
    return train_run(SPEC, runs, "--set", "train.epochs=4", "--set", "task.episodes=25",
                     "--set", "train.checkpoints.every_seconds=0")


def digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data.reshape(-1, 8, 8, 1).astype("float32"), bunch.target


def evaluate(run, *settings) -> dict:
    from specc.run.session import evaluate_run

    options = dict(s.split("=") for s in settings)
    return evaluate_run(str(run.path), options={k: int(v) for k, v in options.items()})["test"]


# --- the shipped spec learns ------------------------------------------------------------------------

def test_the_shipped_spec_learns_on_classes_it_never_saw(shipped_run):
    record, history = shipped_run.record(), shipped_run.history()
    assert record["status"] == "completed"
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]  # several points on the curves
    assert history[-1]["accuracy"] > history[0]["accuracy"]
    test = shipped_run.metrics()["test"]
    assert test["accuracy"] > 1 / 5 + 0.4, test  # 5-way episodes of the digits 5-9
    assert record["data"] == {"train": 901, "test": 896}  # digits 0-4 and 5-9


def test_the_figures_have_a_confidence_interval_and_a_raw_input_baseline(shipped_run):
    test = shipped_run.metrics()["test"]
    assert set(test) == {"loss", "accuracy", "accuracy_ci95", "baseline_accuracy", "baseline_accuracy_ci95"}
    assert 0 < test["accuracy_ci95"] < 0.02  # 1000 episodes
    assert 1 / 5 < test["baseline_accuracy"] < 1
    assert test["baseline_accuracy"] == pytest.approx(0.89, abs=0.02)  # raw pixels, 5-way 5-shot on 5-9


def test_the_confidence_interval_is_that_of_the_episode_accuracies():
    from specc.data.table import Table
    from specc.paradigms.episodes import evaluation_episodes
    from specc.paradigms.prototypes import episode_figures, episode_scores

    x, y = digits()
    table = Table(features={"x": x}, labels=y.astype(np.int64), origin="digits")
    episodes = evaluation_episodes(table, {"ways": 5, "shots": 5, "queries": 15, "episodes": 200, "seed": 0})
    accuracy, _ = episode_scores(x, episodes)
    figures = episode_figures(x, x, episodes)
    assert figures["accuracy"] == pytest.approx(accuracy.mean())
    assert figures["accuracy_ci95"] == pytest.approx(1.96 * accuracy.std() / np.sqrt(200))
    assert figures["baseline_accuracy"] == figures["accuracy"]  # the same points, the same episodes


# --- evaluation episodes ---------------------------------------------------------------------------

def test_evaluation_episodes_are_the_same_for_two_training_seeds(tmp_path):
    from specc.paradigms import build_model
    from specc.paradigms.episodes import evaluation_episodes
    from specc.run.data import prepare_data

    from conftest import resolved

    models, tests = [], []
    for seed in (1, 2):
        spec = resolved(SPEC, f"seed={seed}")
        models.append(build_model(spec))
        tests.append(prepare_data(spec, SPEC.parent).splits.test)
    first, second = (evaluation_episodes(t, m.evaluation) for t, m in zip(tests, models))
    np.testing.assert_array_equal(first.indices, second.indices)
    assert (first.ways, first.shots, first.queries) == (5, 5, 15) and len(first.indices) == 1000
    runs = [train_run(SPEC, tmp_path, "--set", f"seed={seed}", "--set", "train.epochs=1",
                      "--set", "task.episodes=3") for seed in (1, 2)]
    test = [run.metrics()["test"] for run in runs]
    assert test[0]["baseline_accuracy"] == test[1]["baseline_accuracy"]  # scored on the same episodes
    assert test[0]["accuracy"] != test[1]["accuracy"]  # by different models


def test_validation_during_training_scores_the_evaluation_episodes(tmp_path):
    run = train_run(SPEC, tmp_path, "--set", "data.split={by: class, validation: [3, 4], test: [5, 6, 7, 8, 9]}",
                    "--set", "train.epochs=1", "--set", "task.episodes=5", "--set", "task.evaluation.episodes=200")
    last, validation = run.history()[-1], run.metrics()["validation"]
    # the model's test step on the episodes as a stream, and the embedded split scored in numpy
    assert last["val_accuracy"] == pytest.approx(validation["accuracy"], abs=1e-4)
    assert last["val_loss"] == pytest.approx(validation["loss"], rel=1e-3)
    assert validation["baseline_accuracy"] > 1 / 2  # 2-way: the validation split has the digits 3 and 4


def test_with_shots_1_rescores_without_retraining(shipped_run):
    checkpoint = shipped_run.path / "checkpoints" / "best.keras"
    stamp = checkpoint.stat().st_mtime_ns
    five = evaluate(shipped_run)
    one = evaluate(shipped_run, "shots=1")
    assert five == pytest.approx(shipped_run.metrics()["test"], rel=1e-6)
    assert one["accuracy"] != five["accuracy"]
    assert one["baseline_accuracy"] < five["baseline_accuracy"]  # one example of a class says less than five
    assert one["baseline_accuracy"] > 1 / 5
    assert evaluate(shipped_run, "shots=1") == one  # the same episodes again
    three_way = evaluate(shipped_run, "ways=3")
    assert three_way["baseline_accuracy"] > five["baseline_accuracy"]  # fewer classes to confuse
    assert checkpoint.stat().st_mtime_ns == stamp
    assert len(list(shipped_run.path.parent.iterdir())) == 1  # no new run


def test_evaluate_prints_the_figures_side_by_side(shipped_run):
    result = cli("evaluate", shipped_run.path, "--with", "shots=1", "--with", "ways=5")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "accuracy_ci95" in result.output and "baseline_accuracy" in result.output


@pytest.mark.parametrize("setting, message", [
    ("ways=6", "--with ways=6: builtin digits has 5 classes"),
    ("shots=0", "expected a whole number of at least 1"),
    ("shots=two", "expected a whole number"),
    ("shot=1", "did you mean 'shots'?"),
    ("support=s.npz", "--with support is a setting of specc predict"),
])
def test_bad_evaluation_settings_are_refused(shipped_run, setting, message):
    result = cli("evaluate", shipped_run.path, "--with", setting)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert message in result.output


# --- prediction with a support set -------------------------------------------------------------------

def support_and_queries(tmp_path: Path, shots: int = 5) -> tuple:
    """An .npz support set of `shots` examples of each test digit, named; the other test
    digits as queries, with their true names."""
    x, y = digits()
    rng = np.random.default_rng(3)
    support = np.concatenate([rng.choice(np.flatnonzero(y == d), shots, replace=False) for d in TEST_DIGITS])
    queries = np.setdiff1d(np.flatnonzero(y >= 5), support)
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    np.savez(tmp_path / "support.npz", x=x[support], y=names[y[support]])
    np.savez(tmp_path / "queries.npz", x=x[queries])
    return tmp_path / "support.npz", tmp_path / "queries.npz", names[y[queries]]


def test_predict_with_a_support_set_names_classes_it_never_saw(shipped_run, tmp_path):
    support, queries, truth = support_and_queries(tmp_path)
    out = tmp_path / "out.csv"
    result = cli("predict", shipped_run.path, "--input", queries, "--output", out, "--with", f"support={support}")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(truth)
    names = ["eight", "five", "nine", "seven", "six"]
    assert list(rows[0]) == (["row", "predicted"] + [f"distance_{n}" for n in names]
                             + [f"probability_{n}" for n in names])
    predicted = np.array([row["predicted"] for row in rows])
    assert np.mean(predicted == truth) > 1 / 5 + 0.4
    first = rows[0]
    assert sum(float(first[f"probability_{n}"]) for n in names) == pytest.approx(1.0)
    assert first["predicted"] == min(names, key=lambda n: float(first[f"distance_{n}"]))


def test_predict_with_an_image_folder_support_set(shipped_run, tmp_path):
    import tensorflow as tf

    x, y = digits()
    for digit in (5, 6):
        folder = tmp_path / "support" / f"digit{digit}"
        folder.mkdir(parents=True)
        for i in np.flatnonzero(y == digit)[:5]:
            png = tf.io.encode_png(np.clip(x[i] * 16, 0, 255).astype("uint8"))
            (folder / f"{i}.png").write_bytes(png.numpy())
    queries = np.flatnonzero((y == 5) | (y == 6))[10:70]
    np.savez(tmp_path / "queries.npz", x=x[queries] * 16)  # the pixels as a PNG holds them, 0..255
    out = tmp_path / "out.npz"
    result = cli("predict", shipped_run.path, "--input", tmp_path / "queries.npz", "--output", out,
                 "--with", f"support={tmp_path / 'support'}")
    assert result.exit_code == 0, result.output
    predicted = np.load(out)["predicted"]
    assert set(predicted) <= {"digit5", "digit6"}
    assert np.mean(predicted == np.where(y[queries] == 5, "digit5", "digit6")) > 0.7


def test_predict_without_a_support_set_writes_the_embeddings(shipped_run, tmp_path):
    _, queries, _ = support_and_queries(tmp_path)
    out = tmp_path / "out.npz"
    result = cli("predict", shipped_run.path, "--input", queries, "--output", out)
    assert result.exit_code == 0, result.output
    assert np.load(out)["embedding"].shape[1] == 256


@pytest.mark.parametrize("setting, message", [
    ("shots=1", "--with shots is a setting of specc evaluate"),
    ("support=missing.npz", "missing.npz"),
    ("support=s.csv", "a CSV file needs its label column named"),
])
def test_bad_prediction_settings_are_refused(shipped_run, tmp_path, setting, message):
    _, queries, _ = support_and_queries(tmp_path)
    result = cli("predict", shipped_run.path, "--input", queries, "--output", tmp_path / "o.csv",
                 "--with", setting)
    no_traceback(result)
    assert result.exit_code in (2, 3), result.output
    assert message in result.output


# --- export: the embedding network ----------------------------------------------------------------

def test_export_writes_the_embedding_network(shipped_run, tmp_path):
    import keras
    import onnxruntime

    out = tmp_path / "out"
    result = cli("export", shipped_run.path, "--format", "keras", "--format", "onnx", "--out", out)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    x, _ = digits()
    embedding = keras.saving.load_model(shipped_run.path / "checkpoints" / "embedding.keras")
    expected = embedding.predict(x[:50], verbose=0)
    assert expected.shape == (50, 256)
    exported = keras.saving.load_model(out / "model.keras")  # a plain Keras model: no specc classes
    np.testing.assert_allclose(exported.predict(x[:50], verbose=0), expected, atol=1e-6)
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    (values,) = session.run(None, {session.get_inputs()[0].name: x[:50]})
    np.testing.assert_allclose(values, expected, atol=1e-4)
    for entry in read_json(out / "manifest.json")["artifacts"]:
        assert entry["parity"]["max_abs_diff"] <= entry["parity"]["tolerance"]
        assert entry["outputs"][0]["shape"] == [None, 256]


def test_a_few_shot_spec_may_name_export_formats():
    result = cli("validate", SPEC, "--set", "export.formats=[keras, onnx]")
    assert result.exit_code == 0, result.output


# --- rotated training classes -----------------------------------------------------------------------

def test_rotations_multiply_the_training_classes():
    from specc.paradigms.episodes import by_class, rotated_classes

    x, y = digits()
    keep = y < 5
    rotated, labels = rotated_classes(x[keep], y[keep], [90, 180, 270])
    assert len(by_class(labels, 20)) == 20  # 5 digits x 4 turns
    assert len(rotated) == 4 * keep.sum()
    n = keep.sum()
    np.testing.assert_array_equal(rotated[n:2 * n], np.rot90(x[keep], 1, axes=(1, 2)))
    np.testing.assert_array_equal(labels[3 * n:], y[keep] + 15)


def test_training_episodes_draw_from_the_rotated_classes():
    from specc.paradigms import build_model
    from specc.paradigms._common import input_array
    from specc.paradigms.episodes import class_labels, episode_feed, rotated_classes
    from specc.run.data import prepare_data

    from conftest import resolved

    spec = resolved(SPEC, "task.episodes=20")
    model = build_model(spec)
    train = prepare_data(spec, SPEC.parent).splits.train
    assert model.rotations == [90, 180, 270]
    x, labels = rotated_classes(input_array(train, model.inputs[0]), class_labels(train), model.rotations)
    class_of = {sample.tobytes(): int(label) for sample, label in zip(x, labels)}
    seen = set()
    for inputs, _ in episode_feed(train, model, 0, 1).dataset.take(20):
        support = inputs["support"].numpy()
        assert support.shape == (5, 5, 8, 8, 1)
        seen.update(class_of[sample.tobytes()] for sample in support.reshape(25, 8, 8, 1))
    assert len(seen) > 10  # of the 20 classes: the digits 0-4 and their three turns each
    assert max(seen) >= 5


@pytest.mark.parametrize("inputs, message", [
    ("{x: [64]}", "the model's input must be [height, width] or [height, width, channels], found [64]"),
    ("{x: [8, 6, 1]}", "a 90-degree rotation of a 8x6 image is 6x8"),
])
def test_rotations_need_square_images(inputs, message):
    from specc.load import apply_overrides, load_spec
    from specc.validate import validate

    doc = apply_overrides(load_spec(str(SPEC)), (f"model.inputs={inputs}",))
    problems = [p for p in validate(doc) if p.path == ("task", "augment", "rotations")]
    assert problems and message in problems[0].message


def test_a_partial_evaluation_mapping_is_completed_by_the_defaults():
    from conftest import resolved

    task = resolved(SPEC, "task.evaluation={shots: 1}")["task"]
    assert task["evaluation"] == {"ways": 5, "shots": 1, "queries": 15, "episodes": 1000, "seed": 0}
    assert resolved(SPEC, "task.evaluation={}")["task"]["evaluation"]["shots"] == 5
