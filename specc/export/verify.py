"""Run exported artifacts with their own runtimes, in a process of their own.

    python -m specc.export.verify [FORMAT...] < REQUEST.json

The FORMATs' runtimes are imported first (the parent starts this process before it writes
the artifacts, so the imports overlap with the writing); then the request is read from
stdin: {"inputs": INPUTS.npz, "output_names": [...], "plugins": [...], "spec_dir": ...,
"artifacts": [{"format": ..., "path": ..., "outputs": OUTPUTS.npz}, ...]}. INPUTS.npz holds
one array per model input (keyed by input name). For each artifact, OUTPUTS.npz receives one
array per model output (keyed by output name) and OUTPUTS.json the artifact's own input
signature ({"inputs": [{name, shape, dtype}]}, as its runtime reports it), or {"error": ...}
when the runtime could not run it. One process checks every artifact of an export, so
TensorFlow is imported once, not once per format.
"""
from __future__ import annotations

import json
import os
import re
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run_keras(path, inputs, plugins, spec_dir):
    import keras

    from specc.compile import load_plugins

    load_plugins(plugins, spec_dir)
    model = keras.saving.load_model(path)
    signature = [_spec(t.name.split(":")[0], t.shape, t.dtype) for t in model.inputs]
    return model.predict(_single(inputs), verbose=0), signature


def run_saved_model(path, inputs, plugins, spec_dir):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    specs = serve.structured_input_signature[1]
    signature = [_spec(name, spec.shape, spec.dtype.name) for name, spec in specs.items()]
    feed = _feed(list(specs), inputs)
    outputs = serve(**{k: tf.constant(v) for k, v in feed.items()})
    return {k: v.numpy() for k, v in outputs.items()}, signature


def run_litert(path, inputs, plugins, spec_dir):
    runner = _litert_interpreter(path).get_signature_runner()
    details = runner.get_input_details()
    signature = [_spec(name, [None if d < 0 else int(d) for d in info["shape_signature"]], info["dtype"])
                 for name, info in details.items()]
    feed = _feed(list(details), inputs)
    batch = len(next(iter(feed.values())))
    rows = [runner(**{k: v[i:i + 1] for k, v in feed.items()}) for i in range(batch)]
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}, signature


def _litert_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=path)


def run_onnx(path, inputs, plugins, spec_dir):
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    signature = [_spec(i.name, [d if isinstance(d, int) else None for d in i.shape], i.type)
                 for i in session.get_inputs()]
    values = session.run(None, _feed([i.name for i in session.get_inputs()], inputs))
    return {o.name: v for o, v in zip(session.get_outputs(), values)}, signature


def _feed(names: list, inputs: dict) -> dict:
    """The inputs keyed by the artifact's input names; a single input is passed whatever its
    name (the parent process then reports a name that is not the spec's)."""
    if len(names) == 1 and len(inputs) == 1:
        return {names[0]: next(iter(inputs.values()))}
    missing = [name for name in names if name not in inputs]
    if missing:
        raise KeyError(f"the artifact's inputs {names} are not the model's {list(inputs)}")
    return {name: inputs[name] for name in names}


def _spec(name: str, shape, dtype) -> dict:
    dims = [None if d is None else int(d) for d in (shape if shape is not None else [])]
    return {"name": str(name), "shape": dims, "dtype": _dtype_name(dtype)}


ONNX_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16"}


def _dtype_name(dtype) -> str:
    """float32 for Keras's 'float32', tf.float32, numpy.float32 and ONNX's 'tensor(float)'."""
    text = getattr(dtype, "__name__", None) or str(dtype)
    return ONNX_TYPES.get(text, text.removeprefix("tensor(").removesuffix(")"))


RUNNERS = {"keras": run_keras, "saved_model": run_saved_model, "litert": run_litert, "onnx": run_onnx}


def _single(inputs: dict):
    return next(iter(inputs.values())) if len(inputs) == 1 else inputs


def name_outputs(result, output_names: list) -> dict:
    """Key a runtime's outputs by the model's output names."""
    if isinstance(result, dict):
        if set(output_names) <= set(result):
            return {name: np.asarray(result[name]) for name in output_names}
        ordered = sorted(result, key=_natural)
        return dict(zip(output_names, (np.asarray(result[k]) for k in ordered)))
    if isinstance(result, (list, tuple)):
        return dict(zip(output_names, (np.asarray(v) for v in result)))
    return {output_names[0]: np.asarray(result)}


def _natural(text: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def main(argv: list[str]) -> int:
    """argv: the formats to come (their runtimes are imported first); then the request is
    read from stdin."""
    for name in argv:
        preload(name)
    request = json.loads(sys.stdin.read())
    with np.load(request["inputs"]) as data:
        inputs = {k: data[k] for k in data.files}
    for job in request["artifacts"]:
        run_job(job, inputs, request)
    return 0


def preload(fmt: str) -> None:
    """Import a format's runtime now, while the parent is still writing the artifacts."""
    modules = {"keras": "keras", "saved_model": "tensorflow", "onnx": "onnxruntime",
               "litert": "ai_edge_litert.interpreter"}
    try:
        __import__(modules.get(fmt, "json"))
    except ImportError:  # reported when the artifact is run
        pass


def run_job(job: dict, inputs: dict, request: dict) -> None:
    """Run one artifact; write its outputs and its input signature, or the error it raised."""
    try:
        result, signature = RUNNERS[job["format"]](job["path"], inputs, request["plugins"],
                                                   request["spec_dir"])
        np.savez(job["outputs"], **name_outputs(result, request["output_names"]))
        report = {"inputs": signature}
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the export
        lines = [line for line in str(exc).splitlines() if line.strip()] or [""]
        report = {"error": f"{type(exc).__name__}: {lines[0]}"[:500]}
    with open(report_path(job["outputs"]), "w", encoding="utf-8") as handle:
        json.dump(report, handle)


def report_path(outputs_path: str) -> str:
    """Where the report of one artifact goes, beside its OUTPUTS.npz."""
    return os.path.splitext(outputs_path)[0] + ".json"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
