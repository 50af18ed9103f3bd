"""The model a run keeps is its best checkpoint: when an earlier epoch was best, metrics.json,
the end-of-training summary and what is chosen after training (an autoencoder's threshold) are
that checkpoint's, the same model `evaluate`, `predict` and `export` load."""
from __future__ import annotations

import json

import pytest

from conftest import SPECS, cli, no_traceback, splits_of, train_run

# mlp-wine with a learning rate and width whose best validation loss comes before the last epoch
WIDE_FAST = ("--set", "optimizer.rmsprop.learning_rate=0.007196", "--set", "model.layers[0].dense.units=128")


def evaluate(run, *extra) -> dict:
    done = cli("evaluate", run.path, "--split", "all", "--format", "json", *extra)
    no_traceback(done)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_metrics_json_is_the_best_checkpoints_when_an_earlier_epoch_was_best(tmp_path):
    run = train_run(SPECS / "mlp-wine.yaml", tmp_path, "--no-export", *WIDE_FAST)
    record = run.record()
    assert record["best"]["epoch"] < record["epochs_completed"] == 30  # the case this is about
    best = evaluate(run)
    last = evaluate(run, "--checkpoint", "last")
    metrics = run.metrics()
    for split in ("train", "validation", "test"):
        assert metrics[split]["loss"] == pytest.approx(best[split]["loss"], rel=1e-5)
        assert metrics[split]["accuracy"] == pytest.approx(best[split]["accuracy"])
    assert metrics["validation"]["loss"] == pytest.approx(record["best"]["value"], rel=1e-5)
    assert metrics["validation"]["loss"] != pytest.approx(last["validation"]["loss"], rel=1e-3)

    shown = cli("train", SPECS / "mlp-wine.yaml", "--runs-dir", tmp_path, "--no-export", *WIDE_FAST)
    assert f"the best epoch, {record['best']['epoch']} (val_loss " in shown.stdout


def test_an_autoencoders_threshold_is_chosen_on_the_kept_model(tmp_path):
    import keras

    from specc.paradigms.anomaly import state_after_training

    spec = SPECS / "anomaly-digits.yaml"
    extra = ("--set", "train.epochs=8", "--set", "optimizer={adam: {learning_rate: 0.3}}",
             "--set", "train.early_stopping=false")  # no restore_best_weights: the last epoch is in memory
    run = train_run(spec, tmp_path, "--no-export", *extra)
    record = run.record()
    assert record["best"]["epoch"] < record["epochs_completed"]  # the case this is about
    overrides = list(extra[1::2])
    splits = splits_of(spec, *overrides)
    from conftest import resolved

    task = resolved(spec, *overrides)["task"]
    def threshold(checkpoint: str) -> float:
        model = keras.saving.load_model(run.path / "checkpoints" / checkpoint)
        return state_after_training(model, splits.validation, task)["anomaly"]["threshold"]

    kept, last = threshold("best.keras"), threshold("last.keras")
    assert kept != pytest.approx(last, rel=1e-3)
    assert record["paradigm"]["anomaly"]["threshold"] == pytest.approx(kept, rel=1e-5)


def test_with_keep_last_the_last_epoch_is_kept_and_measured(tmp_path):
    shown = cli("train", SPECS / "mlp-wine.yaml", "--runs-dir", tmp_path, "--no-export", *WIDE_FAST,
                "--set", "train.checkpoints.keep=last")
    no_traceback(shown)
    assert shown.exit_code == 0, shown.output
    assert "the best epoch" not in shown.stdout
    from conftest import Run
    from pathlib import Path

    run = Run(Path(shown.stdout.strip().splitlines()[-1].removeprefix("record: ")), tmp_path)
    assert not (run.path / "checkpoints" / "best.keras").exists()
    last = evaluate(run, "--checkpoint", "last")
    assert run.metrics()["validation"]["loss"] == pytest.approx(last["validation"]["loss"], rel=1e-5)
