"""`specc export`: every registered format round-trips for an MLP graph (two inputs, two
outputs), the LeNet CNN and the LSTM spec; int8 LiteRT keeps LeNet's accuracy; failures leave
nothing; a format of one module and one registry line runs end to end.

Each artifact is checked here independently of specc's own parity check: sizes and hashes
are recomputed, the SavedModel signature and LiteRT interpreter are opened in this process,
and the `.keras` file is reloaded in a fresh one.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SPECS, cli, no_traceback, read_json, resolved, splits_of, train_run
from specc.export import formats
from specc.registries import EXPORT_FORMATS, QUANTIZE_MODES, ExportFormatInfo

pytestmark = pytest.mark.slow

# every format a network takes: a new one gets its round trips here (trees: tests/test_trees.py)
ALL_FORMATS = tuple(name for name, info in EXPORT_FORMATS.items() if "network" in info.kinds)
QUANTIZABLE = [name for name, info in EXPORT_FORMATS.items() if info.quantizable]
KNOWN = "did you mean 'litert'?"  # unknown names get did-you-mean from the registry
LENET = SPECS / "lenet-digits.yaml"
SPEC_OF = {"lenet": LENET, "wine_io": SPECS / "multi-io-wine.yaml", "lstm": SPECS / "lstm-sequences.yaml"}


def export(run, *args):
    result = cli("export", run.run_id, "--runs-dir", run.runs_dir, *args)
    no_traceback(result)
    return result


def export_all(run) -> None:
    result = export(run, *[a for f in ALL_FORMATS for a in ("--format", f)], "--force")
    assert result.exit_code == 0, result.output
    for name in ALL_FORMATS:
        assert f"exported {name}: " in result.stdout


@pytest.fixture(scope="module")
def lenet(lenet_run, tmp_path_factory):
    """The session's LeNet run: keras, saved_model and litert came from `specc train`
    (the spec's export: section); onnx is added here. Its `.keras` artifact is meanwhile
    reloaded in a fresh process (TensorFlow takes seconds to import: the other tests go on)."""
    lenet_run.fresh_reload = reload_in_fresh_process(lenet_run.path / "exports" / "model.keras",
                                                     tmp_path_factory.mktemp("fresh"))
    result = export(lenet_run, "--format", "onnx")
    assert result.exit_code == 0, result.output
    yield lenet_run
    if lenet_run.fresh_reload[0].poll() is None:
        lenet_run.fresh_reload[0].kill()
        lenet_run.fresh_reload[0].wait()


@pytest.fixture(scope="module")
def wine_io(tmp_path_factory):
    run = train_run(SPEC_OF["wine_io"], tmp_path_factory.mktemp("wine-io"), "--set", "train.epochs=3",
                    "--no-export")
    export_all(run)
    return run


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    run = train_run(SPEC_OF["lstm"], tmp_path_factory.mktemp("lstm"), "--set", "train.epochs=1",
                    "--no-export")
    export_all(run)
    return run


def manifest(run) -> dict:
    return read_json(run.path / "exports" / "manifest.json")


def sha256(path: Path) -> str:
    """A file's sha256; for a folder, of each file's relative name and bytes, in name order."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- the spec's export: section runs at the end of `specc train` ---------------------------

def test_train_applies_the_specs_export_section(lenet_run):
    listed = {a["format"] for a in manifest(lenet_run)["artifacts"]}
    assert {"keras", "saved_model", "litert"} <= listed
    folder = lenet_run.path / "exports"
    for name in ("model.keras", "saved_model", "model.tflite"):
        assert (folder / name).exists()
    recorded = {(e["format"], e["file"]) for e in lenet_run.record()["exports"]}
    assert {("keras", "exports/model.keras"), ("saved_model", "exports/saved_model"),
            ("litert", "exports/model.tflite")} <= recorded


# --- every format, three kinds of model ---------------------------------------------------

@pytest.mark.parametrize("which", list(SPEC_OF))
def test_every_format_round_trips(which, request):
    run = request.getfixturevalue(which)
    spec = resolved(SPEC_OF[which])
    inputs = sorted(spec["model"]["inputs"])
    data = manifest(run)
    assert data["run_id"] == run.run_id
    artifacts = {a["format"]: a for a in data["artifacts"] if a["quantize"] == "none"}
    assert set(artifacts) == set(ALL_FORMATS)
    samples = min(500, run.record()["data"]["test"])
    for name, entry in artifacts.items():
        path = run.path / "exports" / entry["file"]
        assert entry["file"] == formats.get_format(name).artifact
        assert entry["bytes"] == size(path) > 0
        assert entry["sha256"] == sha256(path)
        assert sorted(i["name"] for i in entry["inputs"]) == inputs, name
        parity = entry["parity"]
        assert parity["samples"] == samples
        assert parity["tolerance"] == formats.tolerance(formats.get_format(name), "none")
        assert 0 <= parity["max_abs_diff"] <= parity["tolerance"], name
        assert parity["agreement"] == 1.0
    assert not list((run.path / "exports").glob(".tmp-*"))
    recorded = {e["file"] for e in run.record()["exports"]}
    assert {f"exports/{a['file']}" for a in artifacts.values()} <= recorded


@pytest.mark.parametrize("which", list(SPEC_OF))
def test_saved_model_signature_takes_the_spec_input_names(which, request):
    import tensorflow as tf

    run = request.getfixturevalue(which)
    loaded = tf.saved_model.load(str(run.path / "exports" / "saved_model"))
    serve = loaded.signatures["serving_default"]
    _, named = serve.structured_input_signature
    assert sorted(named) == sorted(resolved(SPEC_OF[which])["model"]["inputs"])
    expected_outputs = ["alcohol", "cultivar"] if which == "wine_io" else ["output"]
    assert sorted(serve.structured_outputs) == expected_outputs


def test_wine_io_signatures_speak_the_specs_names(wine_io):
    import onnxruntime
    from ai_edge_litert.interpreter import Interpreter

    session = onnxruntime.InferenceSession(str(wine_io.path / "exports" / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["chemistry", "color"]
    assert [o.name for o in session.get_outputs()] == ["cultivar", "alcohol"]
    runner = Interpreter(model_path=str(wine_io.path / "exports" / "model.tflite")).get_signature_runner()
    assert sorted(runner.get_input_details()) == ["chemistry", "color"]
    assert sorted(runner.get_output_details()) == ["alcohol", "cultivar"]
    for entry in manifest(wine_io)["artifacts"]:
        assert [o["name"] for o in entry["outputs"]] == ["cultivar", "alcohol"]


KERAS_IN_A_FRESH_PROCESS = """
import sys, numpy as np, keras
model = keras.saving.load_model(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
print(model.name, [t.name for t in model.inputs])
"""


def reload_in_fresh_process(artifact: Path, folder: Path) -> tuple:
    """Start loading a .keras file in a new Python process and predicting the test digits."""
    x = splits_of(LENET).test.features["x"].reshape(-1, 8, 8, 1).astype(np.float32)
    np.save(folder / "x.npy", x)
    process = subprocess.Popen([sys.executable, "-c", KERAS_IN_A_FRESH_PROCESS, str(artifact),
                                str(folder / "x.npy"), str(folder / "y.npy")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, folder, x


# --- int8 LiteRT ----------------------------------------------------------------------------

def litert_accuracy(path: Path, table) -> float:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    (name,) = runner.get_input_details()
    x = table.features["x"].reshape(-1, 1, 8, 8, 1).astype(np.float32)
    predicted = [next(iter(runner(**{name: row}).values())).argmax() for row in x]
    return float(np.mean(np.array(predicted) == table.labels))


def test_int8_litert_keeps_lenet_accuracy(lenet):
    result = export(lenet, "--format", "litert", "--quantize", "int8")
    assert result.exit_code == 0, result.output
    entry = next(a for a in manifest(lenet)["artifacts"] if a["quantize"] == "int8")
    assert entry["file"] == "model.int8.tflite" and entry["sha256"] == sha256(lenet.path / "exports" / entry["file"])
    accuracy = entry["parity"]["accuracy"]["output"]
    assert accuracy["keras"] - accuracy["artifact"] <= 0.02
    float_accuracy = lenet.metrics()["test"]["accuracy"]
    assert accuracy["keras"] == pytest.approx(float_accuracy, abs=1e-6)
    recomputed = litert_accuracy(lenet.path / "exports" / "model.int8.tflite", splits_of(LENET).test)
    assert recomputed == pytest.approx(accuracy["artifact"], abs=1e-6)
    assert float_accuracy - recomputed <= 0.02
    assert (lenet.path / "exports" / "model.int8.tflite").stat().st_size < \
        (lenet.path / "exports" / "model.tflite").stat().st_size / 2


# --- errors ----------------------------------------------------------------------------------

def test_existing_artifact_is_kept_without_force(lenet):
    folder = lenet.path / "exports"
    before = (sha256(folder / "model.keras"), (folder / "manifest.json").read_bytes(),
              (folder / "model.keras").stat().st_mtime_ns)
    result = export(lenet, "--format", "keras")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {folder / 'model.keras'} exists already\n"
                             "    hint: pass --force to replace it\n")
    assert (sha256(folder / "model.keras"), (folder / "manifest.json").read_bytes(),
            (folder / "model.keras").stat().st_mtime_ns) == before


@pytest.mark.parametrize("args, message", [
    (("--format", "tflite"), f"error: unknown export format 'tflite'\n    hint: {KNOWN}\n"),
    (("--format", "pmml"), "error: unknown export format 'pmml'\n"
                           f"    hint: known export formats: {', '.join(EXPORT_FORMATS.names())}\n"),
    (("--format", "onnx", "--quantize", "int8"),
     "error: onnx does not take --quantize int8\n"
     f"    hint: quantization applies to the {' and '.join(QUANTIZABLE)} format\n"),
    (("--format", "litert", "--quantize", "int4"),
     f"error: unknown quantization 'int4'\n    hint: one of: {', '.join(QUANTIZE_MODES)}\n"),
])
def test_usage_errors(lenet, args, message, tmp_path):
    result = export(lenet, *args, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == message
    assert not (tmp_path / "out").exists()


def test_run_without_checkpoints(tmp_path):
    from specc.run.records import RunRecord

    record = RunRecord.create(tmp_path, resolved(LENET), str(LENET))
    result = cli("export", record.run_id, "--runs-dir", tmp_path, "--format", "keras")
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: run {record.run_id} has no best checkpoint")
    assert not any((record.path / "exports").glob("*"))


def test_failed_parity_check_leaves_nothing(lenet, tmp_path, monkeypatch):
    monkeypatch.setattr(formats.get_format("onnx").module, "TOLERANCE", 0.0)
    out = tmp_path / "out"
    record_before = lenet.record()["exports"]
    result = export(lenet, "--format", "litert", "--format", "onnx", "--out", out)
    assert result.exit_code == 5
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: onnx failed its parity check: outputs differ from Keras by up to ")
    assert lines[0].endswith("(tolerance 0) on 359 samples")
    assert lines[1] == "    hint: nothing was written; report it with the run id"
    assert list(out.iterdir()) == []  # not even the litert artifact that passed
    assert lenet.record()["exports"] == record_before


def test_a_quantized_artifact_past_its_bounds_gets_the_quantize_hint(lenet, tmp_path, monkeypatch):
    """It said "report it with the run id", as if quantization missing its bounds were a bug."""
    monkeypatch.setitem(formats.get_format("litert").module.TOLERANCE, "dynamic", 0.0)
    result = export(lenet, "--format", "litert", "--quantize", "dynamic", "--out", tmp_path / "out")
    assert result.exit_code == 5
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: litert (dynamic) failed its parity check: outputs differ from Keras by ")
    assert lines[1] == ("    hint: nothing was written; dynamic quantization rounds the weights too coarsely for "
                        "this model: export with a milder --quantize (float16) or none")


def test_the_int8_hint_names_input_columns_of_very_different_ranges():
    """The wine columns range from about 0.5 (hue) to about 1400 (proline): int8's one scale
    per tensor cannot keep the narrow ones, and the hint says so."""
    from specc.export.parity import quantize_hint

    wine = np.genfromtxt(SPECS / "data" / "wine.csv", delimiter=",", skip_header=1, usecols=range(13))
    hint = quantize_hint("int8", {"features": wine.astype(np.float32)})
    assert hint == ("nothing was written; int8 gives each tensor one scale (256 levels) shared by all its values, "
                    "and the columns of input 'features' range over 0.53 to 1.4e+03, so the narrow ones lose their "
                    "detail: scale the input columns to similar ranges in the data, or export with a milder "
                    "--quantize (dynamic or float16) or none")
    pixels = np.random.default_rng(0).uniform(0, 16, size=(50, 64))
    assert "columns" not in quantize_hint("int8", {"image": pixels})
    assert quantize_hint("none", {"features": wine}) == ""


def test_export_to_another_folder(lenet, tmp_path):
    out = tmp_path / "elsewhere"
    result = export(lenet, "--format", "onnx", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.onnx"]
    entry = read_json(out / "manifest.json")["artifacts"][0]
    assert entry["sha256"] == sha256(out / "model.onnx")
    assert {"format": "onnx", "quantize": "none", "file": str(out.resolve() / "model.onnx")} in \
        lenet.record()["exports"]


# --- a new format: one module and one registry line ------------------------------------

@pytest.fixture
def toy_format(monkeypatch):
    """tests/toys/weights_and_spec.py registered as `weights_and_spec` for one test: its
    registry line is added here and removed after; the checking process imports the module
    from tests/ (on its PYTHONPATH)."""
    tests = str(ROOT / "tests")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p))
    monkeypatch.syspath_prepend(tests)
    monkeypatch.setitem(EXPORT_FORMATS._entries, "weights_and_spec",
                        ExportFormatInfo("weights_and_spec", "toys.weights_and_spec"))
    return "weights_and_spec"


def test_a_format_of_one_module_and_one_registry_line_exports_end_to_end(lenet_run, toy_format, tmp_path):
    out = tmp_path / "out"
    result = export(lenet_run, "--format", toy_format, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"exported {toy_format}: " in result.stdout
    (entry,) = read_json(out / "manifest.json")["artifacts"]
    assert entry["format"] == toy_format and entry["file"] == "weights_and_spec.npz"
    assert entry["sha256"] == sha256(out / entry["file"])
    parity = entry["parity"]  # run back in the checking process by rebuilding the model
    assert parity["samples"] == 359 and parity["agreement"] == 1.0
    assert 0 <= parity["max_abs_diff"] <= parity["tolerance"] == 1e-6
    with np.load(out / entry["file"]) as data:
        assert json.loads(str(data["spec"]))["name"] == "lenet-digits"
        assert str(data["run_id"]) == lenet_run.run_id


# --- last, so that the process started by the `lenet` fixture had time to finish -----

def test_keras_artifact_reloads_in_a_fresh_process(lenet):
    import keras

    process, folder, x = lenet.fresh_reload
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-2000:]
    assert stdout.strip().splitlines()[-1] == "lenet-digits ['image']"
    best = keras.saving.load_model(lenet.path / "checkpoints" / "best.keras")
    np.testing.assert_allclose(np.load(folder / "y.npy"), best.predict(x, verbose=0), atol=1e-6)
