"""`device.jit: auto` on the CPU decides from the model and the run's work (specc/run/jit.py),
says why in the record, and the paradigms' flags hold what their code does."""
import json

import pytest

from conftest import SPECS, resolved, train_run

keras = pytest.importorskip("keras")


def _mlp(widths):
    inputs = keras.Input((widths[0],))
    x = inputs
    for units in widths[1:]:
        x = keras.layers.Dense(units)(x)
    return keras.Model(inputs, x)


def _cnn():
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(64, 3, padding="same")(inputs)
    x = keras.layers.Conv2D(64, 3, padding="same")(x)
    x = keras.layers.Flatten()(keras.layers.MaxPooling2D(8)(x))
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def test_a_large_dense_run_gets_xla_and_a_small_one_does_not():
    from specc.run.jit import auto_jit

    model = _mlp((1024, 2048, 2048, 10))  # ~6.3 M multiply-adds: ~38 MFLOP per sample per step
    on, why = auto_jit(model, 16384, 4)
    assert on and "2.48 TFLOP" in why and "over" in why
    off, why = auto_jit(model, 1000, 2)
    assert not off and "under" in why


def test_a_convolutional_run_stays_without_xla_however_long():
    from specc.run.jit import auto_jit

    off, why = auto_jit(_cnn(), 1_000_000, 100)
    assert not off and "convolutions" in why


@pytest.mark.slow
def test_the_record_says_what_auto_became_and_why(tmp_path):
    run = train_run(SPECS / "mlp-iris-sgd.yaml", tmp_path, "--no-export", "--set", "train.epochs=1")
    device = json.loads((run.path / "record.json").read_text())["device"]
    assert device["jit"] is False and device["jit_reason"].startswith("auto: ")


@pytest.mark.slow
def test_jit_true_trains_with_xla(tmp_path):
    run = train_run(SPECS / "mlp-iris-sgd.yaml", tmp_path, "--no-export", "--set", "train.epochs=2",
                    "--set", "device.jit=true")
    record = json.loads((run.path / "record.json").read_text())
    assert record["device"]["jit"] is True and "jit_reason" not in record["device"]
    assert record["status"] == "completed" and record["epochs_completed"] == 2


@pytest.mark.parametrize("spec", ["mlp-iris-sgd", "autoencoder-digits", "gan-digits", "protonet-digits"])
def test_keeps_parts_says_whether_a_paradigm_has_parts(spec):
    from specc.paradigms import paradigm_of

    spec_values = resolved(SPECS / f"{spec}.yaml")
    paradigm = paradigm_of(spec_values)
    model = paradigm.build(spec_values)
    assert paradigm.keeps_parts == bool(paradigm.parts(model))


@pytest.mark.slow
def test_tensorboard_reads_the_epoch_scalars_of_a_run(tmp_path):
    """specc's own scalar writer keeps Keras's layout: train/ and validation/, epoch_ tags."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train_run(SPECS / "mlp-iris-sgd.yaml", tmp_path, "--no-export", "--set", "train.epochs=3")
    history = json.loads((run.path / "history.json").read_text())
    seen = {}
    for split in ("train", "validation"):
        events = EventAccumulator(str(run.path / "tensorboard" / split))
        events.Reload()
        seen[split] = {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    assert seen["train"]["epoch_loss"] == pytest.approx([row["loss"] for row in history])
    assert seen["validation"]["epoch_accuracy"] == pytest.approx([row["val_accuracy"] for row in history])
    assert seen["train"]["epoch_learning_rate"] == pytest.approx([0.01] * 3)
