"""Transfer learning: a backbone from an earlier run, freeze-then-fine-tune phases, weights
from files, and their record.

One small CNN is pretrained on the digits 0-4 (examples/transfer/digits04-pretrain.yaml, a
few epochs) for the whole module; its convolutional part is transferred to the digits 5-9.
A frozen phase leaves the backbone's weights (batch normalization's statistics included) bit
for bit as they were; a run killed (kill -9) in its fine-tuning phase resumes to the weights
of an uninterrupted run; the transferred network exports with every format's parity check. A
keras.applications architecture takes its weights from a file a test saved (no download).
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import CHECKPOINT_KILLER, ROOT, cli, no_traceback, read_json, train_run
from specc.registries import EXPORT_FORMATS

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples" / "transfer"
BACKBONE_LAYERS = ("conv1", "norm1", "conv2")

TRANSFER = """specc: 1
name: transfer
seed: 3
data:
  source: {builtin: digits}
  select: {classes: [5, 6, 7, 8, 9]}
  split: {validation: 0.15, test: 0.55, stratify: true}
task: {type: multiclass, classes: 5}
model:
  inputs: {image: [8, 8, 1]}
  layers:
    - backbone: {from: digits04-pretrain, until: features}
    - dense: {units: 16, activation: relu, name: hidden}
    - dropout: 0.25
optimizer: {adam: {learning_rate: 3.0e-3}}
train:
  checkpoints: {every_seconds: 0}
  phases:
    - {name: head, epochs: 2, freeze: [backbone]}
    - {name: fine_tune, epochs: 3, learning_rate: 1.0e-3, early_stopping: {patience: 5}}
"""

# CHECKPOINT_KILLER, counting only the renames of state.json: a kill -9 while the N-th epoch's
# checkpoint is committed (its weights may be in, its state not yet).
STATE_KILLER = CHECKPOINT_KILLER.replace('if "checkpoints" in str(dst):', 'if str(dst).endswith("state.json"):')


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    return train_run(EXAMPLES / "digits04-pretrain.yaml", runs, "--set", "train.epochs=4", "--no-export")


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("transfer")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    path = folder / "transfer.yaml"
    path.write_text(TRANSFER)
    return path


@pytest.fixture(scope="module")
def transferred(pretrained, spec_file):
    return train_run(spec_file, pretrained.runs_dir)


def saved(path: Path):
    return keras.saving.load_model(path)


def backbone_weights(model) -> list:
    """The weights of the transferred layers, in the pretrained model or inside the backbone."""
    inner = model.get_layer("backbone") if "backbone" in [layer.name for layer in model.layers] else model
    return [w for name in BACKBONE_LAYERS for w in inner.get_layer(name).get_weights()]


def test_the_record_names_the_backbone_its_hash_and_the_phases(pretrained, transferred):
    record = transferred.record()
    (source,) = record["weight_sources"]
    best = pretrained.path / "checkpoints" / "best.keras"
    import hashlib

    assert source == {"kind": "run", "path": str(best.resolve()), "run": pretrained.run_id, "layer": "backbone",
                      "sha256": hashlib.sha256(best.read_bytes()).hexdigest()}
    assert [(p["name"], p["first_epoch"], p["last_epoch"]) for p in record["phases"]] == \
        [("head", 1, 2), ("fine_tune", 3, 5)]
    assert [row["epoch"] for row in transferred.history()] == [1, 2, 3, 4, 5]
    shown = cli("runs", "show", transferred.run_id, "--runs-dir", transferred.runs_dir)
    assert source["sha256"][:12] in shown.stdout and "fine_tune" in shown.stdout
    compared = cli("runs", "compare", pretrained.run_id, transferred.run_id, "--runs-dir", transferred.runs_dir)
    assert compared.exit_code == 0, compared.output
    assert f"weights: none -> backbone from run {pretrained.run_id} (sha256:{source['sha256'][:16]})" \
        in compared.stdout


def test_a_frozen_phase_leaves_the_backbone_bit_identical(pretrained, spec_file, tmp_path):
    """Phase 1 alone (the backbone frozen): its weights, batch normalization's moving mean and
    variance included, end bit for bit as the pretrained run left them."""
    runs = tmp_path / "runs"
    shutil.copytree(pretrained.path, runs / "digits04-pretrain" / pretrained.run_id)
    run = train_run(spec_file, runs, "--set", "train.phases=[{name: head, epochs: 3, freeze: [backbone]}]")
    before = backbone_weights(saved(pretrained.path / "checkpoints" / "best.keras"))
    after = saved(run.path / "checkpoints" / "last.keras")
    assert not after.get_layer("backbone").trainable and after.get_layer("hidden").trainable
    for old, new in zip(before, backbone_weights(after), strict=True):
        np.testing.assert_array_equal(old, new)


def test_fine_tuning_trains_the_backbone_but_not_its_statistics(pretrained, transferred):
    """Phase 2 unfreezes the backbone: its kernels move; its batch normalization stays frozen,
    in inference mode (Keras's recipe), so its statistics stay the pretrained ones."""
    before = saved(pretrained.path / "checkpoints" / "best.keras")
    after = saved(transferred.path / "checkpoints" / "last.keras").get_layer("backbone")
    assert after.trainable
    assert not np.array_equal(before.get_layer("conv1").get_weights()[0], after.get_layer("conv1").get_weights()[0])
    assert not after.get_layer("norm1").trainable
    for old, new in zip(before.get_layer("norm1").get_weights(), after.get_layer("norm1").get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("kill_at", [2, 4], ids=["at-the-phase-boundary", "in-fine-tuning"])
def test_a_kill_in_the_fine_tuning_phase_resumes_to_the_same_weights(kill_at, pretrained, spec_file, transferred):
    """Killed while epoch 2's checkpoint (the last of the frozen phase) or epoch 4's (inside
    fine-tuning) was committed: the resumed run ends as the uninterrupted one, bit for bit."""
    runs = spec_file.parent / f"killed-runs-{kill_at}"  # in the spec's project: a resume trusts no run from elsewhere
    shutil.copytree(pretrained.path, runs / "digits04-pretrain" / pretrained.run_id)
    done = subprocess.run([sys.executable, "-c", STATE_KILLER, str(kill_at), str(spec_file), str(runs)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    (run,) = (runs / "transfer").iterdir()
    phase = read_json(run / "checkpoints" / "state.json")["phase"]
    assert phase["name"] == ("head" if kill_at == 2 else "fine_tune")
    result = cli("train", "--resume", run.name, "--runs-dir", runs, "--quiet")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert read_json(run / "record.json")["status"] == "completed"
    for name in ("last.keras", "best.keras"):
        a, b = saved(transferred.path / "checkpoints" / name), saved(run / "checkpoints" / name)
        for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(x, y)
        for x, y in zip(a.optimizer.variables, b.optimizer.variables, strict=True):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y))
    assert read_json(run / "metrics.json") == transferred.metrics()


def test_a_sweep_searches_a_phase_setting(pretrained, spec_file):
    """Each trial trains the phases with its own fine-tuning learning rate (in warm workers)."""
    import csv

    swept = spec_file.parent / "swept.yaml"
    swept.write_text(TRANSFER.replace("name: transfer", "name: swept") + "sweep:\n  trials: 2\n  pruning: false\n"
                     "  space:\n    train.phases[1].learning_rate: {choice: [1.0e-3, 1.0e-4]}\n")
    done = cli("sweep", swept, "--runs-dir", pretrained.runs_dir, "--parallel", "1")
    assert done.exit_code == 0, done.output
    runs = Path(pretrained.runs_dir) / "swept"
    table = list(csv.DictReader((runs / "sweeps" / "swept" / "trials.csv").open()))
    assert [row["state"] for row in table] == ["complete", "complete"]
    for row in table:
        record = read_json(runs / row["run_id"] / "record.json")
        assert [(p["name"], p["first_epoch"], p["last_epoch"]) for p in record["phases"]] == \
            [("head", 1, 2), ("fine_tune", 3, 5)]
        ran = yaml.safe_load((runs / row["run_id"] / "spec.yaml").read_text())
        assert ran["train"]["phases"][1]["learning_rate"] == float(row["train.phases[1].learning_rate"])


def test_the_transferred_network_exports_with_parity(transferred):
    formats = [name for name, info in EXPORT_FORMATS.items() if "network" in info.kinds]
    result = cli("export", transferred.run_id, "--runs-dir", transferred.runs_dir,
                 *[a for f in formats for a in ("--format", f)])
    no_traceback(result)
    assert result.exit_code == 0, result.output
    manifest = read_json(transferred.path / "exports" / "manifest.json")
    checked = {a["format"]: a["parity"] for a in manifest["artifacts"]}
    assert set(checked) == set(formats)
    for name, parity in checked.items():
        assert 0 <= parity["max_abs_diff"] <= parity["tolerance"], name
        assert parity["agreement"] == 1.0, name


# --- keras.applications with weights from a file --------------------------------------------------

APPLICATION = """specc: 1
name: app
seed: 1
data:
  source: {{npz: {{path: images.npz, features: x, labels: y}}}}
  split: {{validation: 0.25, test: 0.25}}
task: {{type: multiclass, classes: 2}}
model:
  inputs: {{x: [32, 32, 3]}}
  layers:
    - backbone: {{application: {name}, weights: {weights}, pooling: avg}}
train: {{epochs: 1, freeze: [backbone]}}
"""


@pytest.fixture(scope="module")
def application_folder(tmp_path_factory) -> Path:
    """A project with 32x32 RGB images and MobileNetV3Small weights saved here (no download)."""
    folder = tmp_path_factory.mktemp("app")
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    rng = np.random.default_rng(0)
    np.savez(folder / "images.npz", x=rng.uniform(0, 255, (32, 32, 32, 3)).astype("float32"),
             y=rng.integers(0, 2, 32))
    keras.utils.set_random_seed(5)
    net = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    net.save_weights(folder / "small.weights.h5")
    keras.layers.Dense(2).build((None, 3))
    tiny = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    tiny.save_weights(folder / "tiny.weights.h5")
    return folder


def test_an_application_takes_its_weights_from_a_file(application_folder, tmp_path):
    spec = application_folder / "app.yaml"
    spec.write_text(APPLICATION.format(name="mobilenet_v3_small", weights="small.weights.h5"))
    run = train_run(spec, tmp_path / "runs", "--no-export")
    saved_net = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    saved_net.load_weights(application_folder / "small.weights.h5")
    model = saved(run.path / "checkpoints" / "last.keras")
    inner = model.get_layer("backbone").get_layer(saved_net.name)
    for old, new in zip(saved_net.get_weights(), inner.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)  # loaded whole, and frozen
    assert run.record()["weight_sources"][0]["kind"] == "application"


def test_a_weights_file_of_another_architecture_is_refused_naming_both(application_folder):
    spec = application_folder / "wrong.yaml"
    spec.write_text(APPLICATION.format(name="MobileNetV3Small", weights="tiny.weights.h5"))
    result = cli("validate", spec)
    assert result.exit_code == 1
    assert "wrong.yaml:11:58: error: $.model.layers[0].backbone.weights" in result.stderr
    assert "weights file tiny.weights.h5 holds 2 tensors (8 values), but MobileNetV3Small" in result.stderr


# --- other sources: a .keras file in a graph, a composite run's part ---------------------------------

GRAPH = """specc: 1
name: graph
data:
  source: {builtin: digits}
  split: {validation: 0.2}
task: {type: multiclass, classes: 10}
model:
  inputs: {image: [8, 8, 1]}
  nodes:
    convs: {backbone: {from: pretrained.keras, until: pool2}, from: image, trainable: false}
    pooled: {global_average_pooling2d: {}, from: convs}
"""

ENCODED = """specc: 1
name: encoded
data:
  source: {builtin: digits}
  split: {validation: 0.2}
task: {type: multiclass, classes: 10}
model:
  inputs: {image: [64]}
  layers:
    - backbone: {from: autoencoder-digits, part: encoder}
    - dense: {units: 16, activation: relu}
"""


def test_a_graph_node_takes_a_keras_file_as_its_backbone(pretrained, tmp_path):
    import specc

    shutil.copy(pretrained.path / "checkpoints" / "best.keras", tmp_path / "pretrained.keras")
    spec = tmp_path / "graph.yaml"
    spec.write_text(GRAPH)
    doc, problems = specc.load_and_check(str(spec))
    assert not [p for p in problems if p.severity == "error"]
    model = specc.build_model(specc.resolved_spec(doc), spec_dir=str(tmp_path))
    convs = model.get_layer("convs")
    assert not convs.trainable and convs.layers[-1].name == "pool2"
    before = backbone_weights(saved(tmp_path / "pretrained.keras"))
    for old, new in zip(before, backbone_weights(convs), strict=True):
        np.testing.assert_array_equal(old, new)


def test_the_encoder_of_an_autoencoder_run_is_a_backbone(tmp_path):
    runs = tmp_path / "runs"
    autoencoder = train_run(ROOT / "specs" / "autoencoder-digits.yaml", runs, "--set", "train.epochs=1", "--no-export")
    spec = tmp_path / "encoded.yaml"
    spec.write_text(ENCODED)
    run = train_run(spec, runs, "--set", "train.epochs=1")
    (source,) = run.record()["weight_sources"]
    assert source["run"] == autoencoder.run_id and source["path"].endswith("encoder.keras")
    model = saved(run.path / "checkpoints" / "last.keras")
    assert model.get_layer("backbone").output.shape[-1] == 8  # the 8-number code


def test_a_pattern_for_an_architectures_layers_that_matches_none_fails_the_build(application_folder, tmp_path):
    """Validate cannot list an architecture's layers; the build refuses the pattern instead."""
    spec = application_folder / "pattern.yaml"
    spec.write_text(APPLICATION.format(name="MobileNetV3Small", weights="none").replace(
        "freeze: [backbone]", "freeze: [backbone/no_such_block*]"))
    result = cli("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert "freeze pattern 'backbone/no_such_block*' matches no layer of the model" in result.stderr
    assert not (tmp_path / "runs").exists()  # refused before the run folder was made


@pytest.mark.parametrize("name", ["digits59-transfer", "digits59-scratch"])
def test_the_example_specs_train(name, pretrained):
    """examples/transfer/ as the README runs it, two short phases (the pretrained run is the
    module's, looked up by its spec's name)."""
    short = "train.phases=[{epochs: 1, freeze: [backbone]}, {epochs: 1, learning_rate: 1.0e-4}]"
    if name == "digits59-scratch":
        short = "train.phases=[{epochs: 2}]"
    run = train_run(EXAMPLES / f"{name}.yaml", pretrained.runs_dir, "--set", short, "--no-export")
    assert run.record()["epochs_completed"] == 2
    assert bool(run.record().get("weight_sources")) == (name == "digits59-transfer")


# --- a KerasHub preset saved on disk ----------------------------------------------------------------

PRESET = """specc: 1
name: hub
seed: 2
data:
  source: {synthetic: {kind: image, samples: 48, shape: [32, 32, 3], classes: 2}}
  split: {validation: 0.25, test: 0.25}
task: {type: multiclass, classes: 2}
model:
  inputs: {image: [32, 32, 3]}
  layers:
    - backbone: {preset: resnet_tiny}
      trainable: false
    - global_average_pooling2d
train: {epochs: 1}
"""


def test_a_kerashub_preset_on_disk_is_a_backbone(tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    folder = tmp_path / "project"
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    keras.utils.set_random_seed(4)
    net = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64], stackwise_num_blocks=[1],
        stackwise_num_strides=[1], block_type="basic_block", image_shape=(32, 32, 3))
    net.save_to_preset(str(folder / "resnet_tiny"))
    (folder / "hub.yaml").write_text(PRESET)
    run = train_run(folder / "hub.yaml", folder / "runs", "--no-export")
    (source,) = run.record()["weight_sources"]
    assert source["kind"] == "preset" and source["path"] == str((folder / "resnet_tiny").resolve())
    inner = saved(run.path / "checkpoints" / "last.keras").get_layer("backbone")  # loads without KerasHub's classes
    for old, new in zip(net.get_weights(), inner.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_the_applications_table_is_the_installed_keras():
    """catalog/applications.json names every architecture of keras.applications, and an entry
    made again from Keras is the shipped one (the whole table: tools/gen_applications.py)."""
    from conftest import tool
    from specc.backbones import applications

    generator = tool("gen_applications")
    found = generator.architectures()
    assert set(found) == set(applications())
    assert generator.entry("VGG16", *found["VGG16"]) == applications()["VGG16"]
