"""A GAN's sample grids (task.samples) and its quality figures measured with a classifier run
(`specc evaluate GAN_RUN --with classifier=RUN`, specc/paradigms/quality.py).

The classifier is the session's lenet-digits run (conftest's `lenet_run`, trained once for all
the tests that read it); one short dcgan-digits run (10 epochs) is trained per module, through
`specc train`; the figures of real digits and of an untrained generator are computed with the
same classifier through the library.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import SPECS, cli, no_traceback, resolved, splits_of, train_run

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DCGAN = SPECS / "dcgan-digits.yaml"
LENET = SPECS / "lenet-digits.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- the figures themselves (numpy only) ------------------------------------------------------------

def test_inception_score_is_the_number_of_sharp_even_classes_and_1_for_one_class():
    from specc.paradigms.quality import classes_covered, inception_score

    sharp_ten = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(sharp_ten) == pytest.approx(10.0, rel=1e-6)
    assert classes_covered(sharp_ten) == 10
    one_class = np.eye(10)[np.zeros(1000, dtype=int)]
    assert inception_score(one_class) == pytest.approx(1.0, rel=1e-6)
    assert classes_covered(one_class) == 1
    unsure = np.full((1000, 10), 0.1)
    assert inception_score(unsure) == pytest.approx(1.0, rel=1e-6)
    # 2% of the samples in class 9 is not "covering" it (the cut is 3%)
    rare = np.eye(10)[np.r_[np.arange(980) % 9, np.full(20, 9)]]
    assert classes_covered(rare) == 9


def test_frechet_distance_agrees_with_scipy_sqrtm_and_is_0_for_the_same_set():
    from scipy import linalg

    from specc.paradigms.quality import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6))
    b = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) + 0.5
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((a.mean(0) - b.mean(0)) ** 2)
                + np.trace(cov_a + cov_b - 2 * np.real(linalg.sqrtm(cov_a @ cov_b))))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    # a feature that never varies (a dead ReLU) leaves a singular covariance: still finite
    dead = np.c_[a, np.zeros(len(a))]
    assert np.isfinite(frechet_distance(dead, np.c_[b, np.zeros(len(b))]))


# --- sample grids -------------------------------------------------------------------------------

def test_samples_are_drawn_as_images_when_they_have_an_image_shape():
    from specc.paradigms.gan_samples import as_images, grid_png

    rng = np.random.default_rng(0)
    assert as_images(rng.random((5, 64))).shape == (5, 8, 8)
    assert as_images(rng.random((5, 8, 8, 1))).shape == (5, 8, 8)
    assert as_images(rng.random((5, 6, 7, 3))).shape == (5, 6, 7, 3)
    assert as_images(rng.random((5, 10))) is None      # flat, not a square
    assert as_images(rng.random((5, 4, 4, 2))) is None  # two channels
    png = grid_png(rng.random((64, 64)) * 16, "flat digits", (0.0, 16.0))
    assert png is not None and png.startswith(PNG_SIGNATURE)
    assert grid_png(rng.random((3, 10)), "tabular") is None


def test_no_grids_with_samples_false():
    from specc.paradigms import paradigm_of

    spec = resolved(SPECS / "gan-digits.yaml", "task.samples=false")
    assert spec["task"]["samples"] is False
    assert paradigm_of(spec).callbacks(None, spec) == []
    partial = resolved(SPECS / "gan-digits.yaml", "task.samples={every: 3}")
    assert partial["task"]["samples"] == {"every": 3, "count": 64, "seed": 0}


# --- runs ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory, lenet_run):
    """The lenet-digits run's runs folder (the classifier's, found there by name), that run, and
    a 10-epoch dcgan-digits run in a folder of its own."""
    dcgan = train_run(DCGAN, tmp_path_factory.mktemp("gan-quality"), "--set", "train.epochs=10",
                      "--set", "task.samples.every=4")
    return lenet_run.runs_dir, lenet_run, dcgan


def evaluate_json(*args) -> dict:
    result = cli("evaluate", *args, "--format", "json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def read_png_size(data: bytes) -> tuple:
    """(width, height) from a PNG's IHDR chunk."""
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.slow
def test_sample_grids_are_written_every_few_epochs_and_at_the_end(runs):
    from matplotlib.image import imread

    _, _, dcgan = runs
    grids = dcgan.record()["sample_grids"]
    assert grids == [{"epoch": e, "file": f"samples/epoch-{e:04d}.png"} for e in (4, 8, 10)]
    assert sorted(p.name for p in (dcgan.path / "samples").iterdir()) == [
        "epoch-0004.png", "epoch-0008.png", "epoch-0010.png"]
    for grid in grids:
        data = (dcgan.path / grid["file"]).read_bytes()
        assert read_png_size(data) == (500, 540)
        pixels = imread(dcgan.path / grid["file"])  # decodes: a whole, valid PNG
        assert pixels.shape[:2] == (540, 500) and pixels.std() > 0


@pytest.mark.slow
def test_real_digits_score_high_and_an_untrained_generator_low(runs):
    """The classifier-based figures: real test digits ~9.6 of 10 with every class present, an
    untrained generator ~1 (its samples all look alike)."""
    import keras

    from specc.paradigms import build_model
    from specc.paradigms._common import input_array
    from specc.paradigms.quality import classifier_of, quality_figures

    _, lenet, _ = runs
    classifier = classifier_of(keras.saving.load_model(lenet.path / "checkpoints" / "best.keras"), lenet.run_id)
    spec = resolved(DCGAN)
    splits = splits_of(DCGAN)
    keras.utils.set_random_seed(3)
    untrained = build_model(spec)
    sample = untrained.discriminator.inputs[0]
    real, train = input_array(splits.test, sample), input_array(splits.train, sample)
    z = np.random.default_rng(1234).normal(size=(2000, 32)).astype("float32")
    figures = quality_figures(untrained.generator.predict(z, verbose=0), real, train, classifier)
    assert figures["real_inception_score"] > 9.0 and figures["real_classes_covered"] == 10
    assert figures["real_frechet_distance"] < 5.0
    assert figures["inception_score"] < 2.0 and figures["frechet_distance"] > 50.0
    # real digits measured as if generated: the same high score
    as_generated = quality_figures(train, real, None, classifier)
    assert as_generated["inception_score"] > 9.0 and as_generated["classes_covered"] == 10


@pytest.mark.slow
def test_a_short_dcgan_training_improves_the_figures_evaluate_reports(runs):
    folder, lenet, dcgan = runs
    by_name = evaluate_json(dcgan.path, "--with", "classifier=lenet-digits/latest", "--runs-dir", folder,
                            "--with", "samples=1000")["test"]
    assert {"d_loss", "g_loss", "loss"} <= set(by_name)
    assert by_name["real_inception_score"] > 9.0 and by_name["real_classes_covered"] == 10
    # 10 of the spec's 150 epochs: far from its ~8.4, but well above an untrained generator's ~1
    assert by_name["inception_score"] > 3.0, by_name
    assert by_name["classes_covered"] >= 5 and by_name["frechet_distance"] < 100.0
    # the figures are the same for any reference to the classifier run (fixed latent seed)
    by_path = evaluate_json(dcgan.path, "--with", f"classifier={lenet.path}", "--with", "samples=1000")["test"]
    assert by_path == by_name
    other_seed = evaluate_json(dcgan.path, "--with", f"classifier={lenet.path}", "--with", "samples=1000",
                               "--with", "seed=5")["test"]
    assert other_seed["inception_score"] != by_name["inception_score"]
    # without a classifier: the losses only, as before
    assert set(evaluate_json(dcgan.path)["test"]) == {"d_loss", "g_loss", "loss"}


@pytest.mark.slow
def test_a_classifier_of_other_data_or_classes_is_refused(runs, tmp_path):
    folder, lenet, dcgan = runs
    iris = train_run(SPECS / "mlp-iris-sgd.yaml", tmp_path, "--set", "train.epochs=1", "--no-export")
    result = cli("evaluate", dcgan.path, "--with", f"classifier={iris.path}")
    no_traceback(result)
    assert result.exit_code == 2
    assert f"--with classifier={iris.path}: run {iris.run_id} was trained on other data (builtin: iris)" \
        in result.stderr
    assert "than this run (builtin: digits)" in result.stderr

    five = train_run(LENET, tmp_path, "--set", "train.epochs=1", "--no-export",
                     "--set", "data.select={classes: [0, 1, 2, 3, 4]}", "--set", "task.classes=5")
    result = cli("evaluate", dcgan.path, "--with", f"classifier={five.path}")
    assert result.exit_code == 2
    assert "was trained on other data (builtin: digits, select classes [0, 1, 2, 3, 4])" in result.stderr

    result = cli("evaluate", dcgan.path, "--with", f"classifier={dcgan.path}")
    assert result.exit_code == 2
    assert f"run {dcgan.run_id} is a gan run, not a classifier" in result.stderr

    result = cli("evaluate", dcgan.path, "--with", "samples=100")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --with samples: a setting of the quality figures, which need a "
                                    "classifier")
    result = cli("evaluate", dcgan.path, "--with", f"classifier={lenet.path}", "--with", "samples=many")
    assert result.exit_code == 2 and "--with samples=many: give a whole number" in result.stderr
    np.savez(tmp_path / "latent.npz", z=np.zeros((4, 32), dtype="float32"))
    result = cli("predict", dcgan.path, "--input", tmp_path / "latent.npz", "--output", tmp_path / "out.npz",
                 "--with", f"classifier={lenet.path}")
    assert result.exit_code == 2 and "a setting of `specc evaluate`" in result.stderr
    assert not (tmp_path / "out.npz").exists()
