"""Autoencoders for anomaly detection (specc/paradigms/anomaly.py), on real digits.

One short run of specs/anomaly-digits.yaml (trained on 0-8, the 9s held out into the test
split) serves every test: the threshold the run keeps, the ROC AUC / precision / recall that
`specc evaluate` reports, the columns `specc predict` writes, `--with normal=` and
`--with threshold=`, and the encoder loading in plain Keras without specc.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SPECS, cli, no_traceback, train_run

pytestmark = pytest.mark.slow

SPEC = SPECS / "anomaly-digits.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("anomaly")
    return train_run(SPEC, runs, "--no-export", "--set", "train.epochs=8")


def evaluate(run, *extra) -> dict:
    result = cli("evaluate", run.path, "--format", "json", *extra)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def digits_npz(path: Path, classes: list) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    keep = np.isin(data.target, classes)
    x, y = data.data[keep].astype("float32"), data.target[keep]
    np.savez(path, image=x)
    return x, y


def test_the_run_keeps_a_threshold_chosen_on_the_validation_split(run):
    kept = run.record()["paradigm"]["anomaly"]
    assert kept["threshold"] > 0
    assert "95th percentile" in kept["rule"]
    assert kept["units"] == "the data's units"  # the rescaling is undone
    assert kept["validation_error_median"] < kept["threshold"]


def test_evaluate_scores_the_held_out_class_as_anomalies(run):
    test = evaluate(run)["test"]
    assert {"loss", "reconstruction_error", "flagged", "anomalies", "roc_auc", "precision",
            "recall"} <= set(test)
    # all 180 nines, and a fifth of the 1617 other digits
    assert test["anomalies"] == pytest.approx(180 / (180 + 0.2 * 1617), abs=0.01)
    assert test["roc_auc"] > 0.6  # the 9s reconstruct worse than the digits trained on
    assert 0.0 <= test["precision"] <= 1.0 and 0.0 < test["recall"] <= 1.0
    validation = evaluate(run, "--split", "validation")["validation"]
    assert validation["anomalies"] == 0.0 and "roc_auc" not in validation
    assert validation["flagged"] == pytest.approx(0.05, abs=0.03)  # the 95th percentile


def test_with_normal_and_threshold_change_the_figures_not_the_run(run):
    before = run.record()
    everything = evaluate(run, "--with", "normal=[0,1,2,3,4,5,6,7,8,9]")["test"]
    assert everything["anomalies"] == 0.0 and "roc_auc" not in everything
    strict = evaluate(run, "--with", "threshold=0")["test"]
    assert strict["flagged"] == 1.0 and strict["recall"] == 1.0
    assert run.record() == before


def test_a_normal_class_the_data_lacks_is_refused(run):
    result = cli("evaluate", run.path, "--with", "normal=[eleven]")
    no_traceback(result)
    assert result.exit_code == 2 and "eleven" in result.output


def test_messages_say_an_autoencoder(run):
    result = cli("evaluate", run.path, "--with", "shots=1")
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["error: --with shots: not a setting of an autoencoder run",
                                          "    hint: an autoencoder run takes: normal, threshold"]
    assert run.record()["device"]["jit_reason"].startswith("auto: off for an autoencoder ")


@pytest.mark.parametrize("given", ["normal=[10]", "normal=[0, 1.5]"])
def test_a_normal_class_id_the_data_lacks_is_refused(run, given):
    """An id was taken as it came: every sample counted as an anomaly, and roc_auc, precision
    and recall were silently left out."""
    result = cli("evaluate", run.path, "--with", given)
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: normal class 1") and " is not a class of builtin digits\n" in result.stderr
    assert result.stderr.endswith("    hint: the classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9\n")


def test_predict_writes_the_error_and_the_flag_per_sample(run, tmp_path):
    x, y = digits_npz(tmp_path / "in.npz", [0, 9])
    out = tmp_path / "out.csv"
    result = cli("predict", run.path, "--input", tmp_path / "in.npz", "--output", out)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    import csv

    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(x) and {"reconstruction_error", "anomaly"} <= set(rows[0])
    errors = np.array([float(r["reconstruction_error"]) for r in rows])
    flags = np.array([int(r["anomaly"]) for r in rows])
    threshold = run.record()["paradigm"]["anomaly"]["threshold"]
    np.testing.assert_array_equal(flags, (errors > threshold).astype(int))
    assert errors[y == 9].mean() > errors[y == 0].mean()


def test_the_encoder_loads_in_plain_keras_without_specc(run, tmp_path):
    """checkpoints/encoder.keras is a plain Keras file: a process that cannot import specc
    loads it and embeds raw pixels (its rescaling is inside)."""
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name == 'specc' or name.startswith('specc.'): raise ImportError('specc is off limits')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "import numpy as np, keras\n"
        f"m = keras.saving.load_model({str(run.path / 'checkpoints' / 'encoder.keras')!r})\n"
        "code = m.predict(np.full((3, 64), 8.0, 'float32'), verbose=0)\n"
        "print(code.shape, 'specc' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "(3, 8) False"
