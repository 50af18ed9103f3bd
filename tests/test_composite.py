"""The composite paradigms: autoencoder, GAN and prototypical few-shot networks.

Each bundled spec validates, compiles, trains through the generic loop (record, history,
checkpoints, metrics) and evaluates; the paradigm-specific behaviour is checked on short
runs (a few epochs of a few episodes), so the whole file stays well under a minute and a half.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")

from specc.cli import main  # noqa: E402
from specc.data import load_source  # noqa: E402
from specc.data.split import split_table  # noqa: E402
from specc.errors import DataError  # noqa: E402
from specc.load import load_spec, parse_text  # noqa: E402
from specc.render import resolve  # noqa: E402
from specc.validate import validate  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
AE = ROOT / "specs" / "autoencoder-digits.yaml"
GAN = ROOT / "specs" / "gan-digits.yaml"
PROTO = ROOT / "specs" / "protonet-digits.yaml"
RECORD_FILES = ("spec.yaml", "spec.source.yaml", "record.json", "history.csv", "history.json",
                "metrics.json", "curves.png", "checkpoints/best.keras", "checkpoints/last.keras",
                "checkpoints/state.json")


def train_run(spec: Path, runs: Path, *overrides: str, callbacks=()):
    """Train through the library (what `specc train` calls) and return the Outcome."""
    from specc.load import apply_overrides
    from specc.run.train import TrainOptions, train

    doc = load_spec(str(spec))
    sets = ("train.checkpoints.every_seconds=0",) + overrides
    doc = apply_overrides(doc, sets)
    assert [p for p in validate(doc) if p.severity == "error"] == []
    return train(resolve(doc.data), str(spec), where=doc.position_of,
                 options=TrainOptions(runs_dir=str(runs), callbacks=list(callbacks)))


def assert_complete(record, parts: tuple, best_is_last: bool = False) -> dict:
    """Every file of a completed run; a paradigm whose best epoch is its last writes no
    best.keras (its record says best is last.keras)."""
    folder = Path(record.path)
    files = [f for f in RECORD_FILES if not (best_is_last and f == "checkpoints/best.keras")]
    for name in files + [f"checkpoints/{p}.keras" for p in parts]:
        assert (folder / name).exists(), name
    assert (folder / "checkpoints" / "best.keras").exists() != best_is_last
    assert (folder / "tensorboard").is_dir()
    data = json.loads((folder / "record.json").read_text())
    assert data["status"] == "completed"
    assert data["parts"] == {p: f"checkpoints/{p}.keras" for p in parts}
    return data


def digits_x(count: int = 64) -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().data[:count].astype("float32")


# --- validate, render, compile -------------------------------------------------------------------

@pytest.mark.parametrize("spec", [AE, GAN, PROTO], ids=lambda p: p.stem)
def test_specs_validate_render_and_compile(spec):
    from specc.paradigms import compile_spec, summarize

    doc = load_spec(str(spec))
    assert validate(doc) == []
    resolved = resolve(doc.data)
    model = compile_spec(resolved, total_steps=10, where=doc.position_of, spec_dir=str(spec.parent))
    assert model.compiled and model.optimizer is not None
    text = summarize(model, resolved, where=doc.position_of)
    assert "Training:" in text
    if spec == AE:
        assert {"Model: encoder", "Model: decoder"} <= set(text.splitlines())
        assert model.get_layer("encoder").outputs[0].shape[-1] == 8
    if spec == GAN:
        assert {"Model: generator", "Model: discriminator"} <= set(text.splitlines())
        assert "Optimizer[discriminator]: adam" in text
        assert model.d_optimizer is not model.optimizer
    if spec == PROTO:
        assert "5-way 5-shot" in text and "rotations by 90, 180, 270 degrees" in text
        assert "Evaluation: 1000 episodes, 5-way 5-shot" in text


def test_composite_spec_problems():
    def problems(text):
        data, positions, keys = parse_text(text, "t.yaml")
        from specc.load import Document

        return [(".".join(map(str, p.path)), p.severity) for p in validate(Document(data, positions, keys, ["t.yaml"]))]

    base = "specc: 1\nname: t\ndata: {source: {builtin: digits}}\n"
    gan = base + ("task: {type: gan}\nloss: mse\nmodel: {generator: {layers: [{dense: 64}]}, "
                  "discriminator: {layers: [{dense: 1}]}}\nexport: {formats: [keras]}\n")
    assert {("task", "error"), ("loss", "error"), ("export.formats", "error")} <= set(problems(gan))
    split = base.replace("{builtin: digits}}", "{builtin: digits}, split: {by: class, test: 0.3}}") + \
        "task: {type: multiclass, classes: 10}\nmodel: {inputs: {x: [64]}, layers: [{dense: 8}]}\n"
    assert ("data.split.by", "error") in problems(split)
    ae = base + "task: {type: autoencoder}\nmodel: {encoder: {layers: [{dense: 8}]}, decoder: {layers: [{dense: 64}]}}\n"
    assert ("model.encoder", "error") in problems(ae)


def test_split_by_class_gives_each_split_its_own_classes(tmp_path):
    table = load_source({"builtin": "digits"}, tmp_path, 0)
    splits = split_table(table, {"by": "class", "validation": 0.2, "test": 0.3}, seed=0)
    assert sorted(set(splits.train.labels)) == [0, 1, 2, 3, 4]
    assert sorted(set(splits.validation.labels)) == [5, 6]
    assert sorted(set(splits.test.labels)) == [7, 8, 9]
    assert len(splits.train) + len(splits.validation) + len(splits.test) == len(table)
    with pytest.raises(DataError, match="classes"):
        split_table(table, {"by": "class", "validation": 0.5, "test": 0.5}, seed=0)


# --- autoencoder -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    from specc.paradigms import compile_spec
    from specc.run.data import prepare_data
    from specc.run.evaluate import evaluate_table

    runs = tmp_path_factory.mktemp("ae")
    resolved = resolve(load_spec(str(AE)).data)
    untrained = compile_spec(resolved, total_steps=10, spec_dir=str(AE.parent))
    test = prepare_data(resolved, AE.parent).splits.test
    from specc.paradigms import paradigm_of

    before = evaluate_table(paradigm_of(resolved), untrained, test)["loss"]
    outcome = train_run(AE, runs, "train.epochs=6")
    return outcome, before


def test_autoencoder_trains_and_reconstructs_better(ae_run):
    outcome, before = ae_run
    data = assert_complete(outcome.record, ("encoder", "decoder"))
    assert data["epochs_completed"] == 6
    after = outcome.metrics["test"]["loss"]
    assert after < 0.6 * before, (before, after)
    history = json.loads((Path(outcome.record.path) / "history.json").read_text())
    assert history[-1]["loss"] < history[0]["loss"]
    assert set(outcome.metrics) == {"train", "validation", "test"}


def test_autoencoder_noise_is_off_at_inference_and_the_encoder_embeds(ae_run):
    outcome, _ = ae_run
    folder = Path(outcome.record.path) / "checkpoints"
    model = keras.saving.load_model(folder / "best.keras")
    x = digits_x()
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (64, 64) and 0.0 <= first.min() and first.max() <= 1.0
    noisy = keras.ops.convert_to_numpy(model(x, training=True))
    assert not np.allclose(noisy, first)  # the Gaussian noise is on in training
    encoder = keras.saving.load_model(folder / "encoder.keras")
    assert encoder.predict(x, verbose=0).shape == (64, 8)


def test_autoencoder_evaluates_from_the_cli(ae_run):
    outcome, _ = ae_run
    result = CliRunner().invoke(main, ["evaluate", str(outcome.record.path), "--format", "json"])
    assert result.exit_code == 0, result.output
    test = json.loads(result.stdout)["test"]
    # trained on every digit: none is an anomaly, so no ROC AUC; ~5% are above the threshold
    assert set(test) == {"loss", "reconstruction_error", "flagged", "anomalies"}
    assert test["anomalies"] == 0.0 and 0.0 < test["flagged"] < 0.2


# --- GAN -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("gan")
    return train_run(GAN, runs, "train.epochs=3")


def test_gan_trains_logs_both_losses_and_saves_its_networks(gan_run):
    data = assert_complete(gan_run.record, ("generator", "discriminator"), best_is_last=True)
    assert data["checkpoints"]["best"] == "checkpoints/last.keras"
    assert data["best"] == {"epoch": 3, "monitor": "last epoch", "value": None}
    history = json.loads((Path(gan_run.record.path) / "history.json").read_text())
    assert {"d_loss", "g_loss", "loss", "val_d_loss", "val_g_loss", "val_loss"} <= set(history[0])
    for split in ("train", "validation", "test"):
        values = gan_run.metrics[split]
        assert values["loss"] == pytest.approx(values["d_loss"] + values["g_loss"], rel=1e-5)
    generator = keras.saving.load_model(Path(gan_run.record.path) / "checkpoints" / "generator.keras")
    samples = generator.predict(np.random.default_rng(0).normal(size=(8, 16)).astype("float32"), verbose=0)
    assert samples.shape == (8, 64) and samples.min() >= 0.0 and samples.max() <= 16.0


def test_gan_checkpoint_reloads_with_both_optimizers(gan_run):
    from specc.run.session import evaluate_run

    folder = Path(gan_run.record.path) / "checkpoints"
    model = keras.saving.load_model(folder / "last.keras")
    steps = int(model.optimizer.iterations.numpy())
    assert steps > 0 and int(model.d_optimizer.iterations.numpy()) == steps
    again = evaluate_run(str(gan_run.record.path), split="test", checkpoint="last")
    assert again["test"] == pytest.approx(gan_run.metrics["test"], rel=1e-5)


def test_gan_resumes_where_it_stopped(tmp_path, gan_run):
    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_run(GAN, tmp_path, "train.epochs=3", callbacks=[Stop()])
    from specc.run.records import find_run
    from specc.run.session import open_run
    from specc.run.train import TrainOptions, train

    record = find_run("gan-digits/latest", str(tmp_path))
    assert record.read()["status"] == "interrupted"
    resumed = train(open_run(record.run_id, str(tmp_path)).resolved, str(GAN),
                    options=TrainOptions(runs_dir=str(tmp_path), resume=record.run_id))
    assert resumed.record.read()["status"] == "completed"
    assert resumed.metrics["test"] == pytest.approx(gan_run.metrics["test"], rel=1e-5)


def digits_score(samples: np.ndarray) -> float:
    """A classifier-based score of generated digits, exp(E[KL(p(y|x) || p(y))]): near 1 for
    samples no class claims (or all one class), near 10 for sharp samples of all ten digits.
    The classifier is a logistic regression on scikit-learn's digits (0..16 pixels)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    classifier = LogisticRegression(max_iter=2000).fit(digits.data, digits.target)
    p = classifier.predict_proba(samples.reshape(len(samples), -1))
    marginal = p.mean(axis=0)
    kl = np.sum(p * (np.log(p + 1e-12) - np.log(marginal + 1e-12)), axis=1)
    return float(np.exp(kl.mean()))


def test_a_gan_run_predicts_with_a_good_generator_by_default(tmp_path):
    """`best` of a GAN is its last epoch (its losses do not rank generators): `specc predict`
    with the default checkpoint makes digits a classifier recognises, far above an untrained
    generator's. (A loss-chosen "best" picked a noise-making epoch 1-4 generator in trials.)"""
    from specc.paradigms import build_model

    outcome = train_run(GAN, tmp_path / "runs", "train.epochs=40")
    record = outcome.record.read()
    assert record["best"]["epoch"] == 40 and record["checkpoints"]["best"] == "checkpoints/last.keras"
    z = np.random.default_rng(0).normal(size=(1000, 16)).astype("float32")
    np.savez(tmp_path / "latent.npz", z=z)
    result = CliRunner().invoke(main, ["predict", str(outcome.record.path), "--input", str(tmp_path / "latent.npz"),
                                       "--output", str(tmp_path / "samples.npz")])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "samples.npz") as made:
        trained = digits_score(made["generator"])
    untrained = digits_score(build_model(resolve(load_spec(str(GAN)).data)).generator.predict(z, verbose=0))
    assert trained > 5.0 and trained > untrained + 3.0, (trained, untrained)
    evaluated = CliRunner().invoke(main, ["evaluate", str(outcome.record.path), "--format", "json"])
    assert json.loads(evaluated.stdout)["test"] == pytest.approx(outcome.metrics["test"], rel=1e-5)


def test_ctrl_c_mid_epoch_keeps_both_gan_optimizers(tmp_path):
    """Checkpoint files are written only at the end (every_seconds is large), so Ctrl-C in
    epoch 2 saves last.keras from the in-memory snapshot of epoch 1: the generator's and the
    discriminator's optimizer state both come from that snapshot, and the resumed run ends
    exactly where an uninterrupted one does."""
    from specc.run.records import find_run
    from specc.run.session import open_run
    from specc.run.train import TrainOptions, train

    class StopInEpochTwo(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == 1 and batch == 4:
                raise KeyboardInterrupt

    slow = ("train.checkpoints.every_seconds=3600", "train.epochs=3", "train.steps_per_execution=1")
    whole = train_run(GAN, tmp_path / "whole", *slow)
    with pytest.raises(KeyboardInterrupt):
        train_run(GAN, tmp_path / "cut", *slow, callbacks=[StopInEpochTwo()])
    record = find_run("gan-digits/latest", str(tmp_path / "cut"))
    snapshot = keras.saving.load_model(Path(record.path) / "checkpoints" / "last.keras")
    steps_per_epoch = int(np.ceil(whole.record.read()["data"]["train"] / 32))
    assert int(snapshot.optimizer.iterations.numpy()) == steps_per_epoch
    assert int(snapshot.d_optimizer.iterations.numpy()) == steps_per_epoch
    resumed = train(open_run(record.run_id, str(tmp_path / "cut")).resolved, str(GAN),
                    options=TrainOptions(runs_dir=str(tmp_path / "cut"), resume=record.run_id))
    ends = [keras.saving.load_model(Path(r.record.path) / "checkpoints" / "last.keras") for r in (whole, resumed)]
    for a, b in zip(ends[0].get_weights(), ends[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    for name in ("optimizer", "d_optimizer"):
        for a, b in zip(getattr(ends[0], name).variables, getattr(ends[1], name).variables):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


# --- prototypical networks -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proto_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("proto")
    return train_run(PROTO, runs, "train.epochs=3", "task.episodes=40")


def test_protonet_beats_chance_on_classes_it_never_saw(proto_run):
    data = assert_complete(proto_run.record, ("embedding",))
    assert data["data"]["train"] + data["data"]["test"] == 1797
    test = proto_run.metrics["test"]
    assert test["accuracy"] > 1 / 5 + 0.15, test  # 5-way episodes of the digits 5-9
    assert proto_run.metrics["train"]["accuracy"] > 0.5


def test_protonet_evaluation_is_seeded_and_the_embedding_is_kept(proto_run):
    from specc.run.session import evaluate_run

    again = evaluate_run(str(proto_run.record.path), split="test", checkpoint="last")
    assert again["test"] == pytest.approx(proto_run.metrics["test"], rel=1e-5)
    embedding = keras.saving.load_model(Path(proto_run.record.path) / "checkpoints" / "embedding.keras")
    assert embedding.predict(digits_x(5).reshape(5, 8, 8, 1), verbose=0).shape == (5, 256)
