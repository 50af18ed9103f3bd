"""Run an exported artifact with its own runtime, in a process of its own.

    python -m specc.export.verify FORMAT ARTIFACT INPUTS.npz OUTPUTS.npz OUTPUT_NAMES_JSON \
        [PLUGINS_JSON SPEC_DIR]

INPUTS.npz holds one array per model input (keyed by input name); OUTPUTS.npz receives one
array per model output (keyed by output name). Exit 0 on success; otherwise the error is
printed on stderr for the parent to report.
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
    return model.predict(_single(inputs), verbose=0)


def run_saved_model(path, inputs, plugins, spec_dir):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    return {k: v.numpy() for k, v in serve(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def run_litert(path, inputs, plugins, spec_dir):
    interpreter = _litert_interpreter(path)
    runner = interpreter.get_signature_runner()
    names = list(runner.get_input_details())
    if len(names) == 1 and len(inputs) == 1:
        feed = {names[0]: next(iter(inputs.values()))}
    else:
        feed = {name: inputs[name] for name in names}
    batch = len(next(iter(feed.values())))
    rows = [runner(**{k: v[i:i + 1] for k, v in feed.items()}) for i in range(batch)]
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


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
    names = [i.name for i in session.get_inputs()]
    if len(names) == 1 and len(inputs) == 1:
        feed = {names[0]: next(iter(inputs.values()))}
    else:
        feed = {name: inputs[name] for name in names}
    values = session.run(None, feed)
    return {o.name: v for o, v in zip(session.get_outputs(), values)}


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
    fmt, artifact, inputs_path, outputs_path, names_json = argv[:5]
    plugins = json.loads(argv[5]) if len(argv) > 5 else []
    spec_dir = argv[6] if len(argv) > 6 else "."
    with np.load(inputs_path) as data:
        inputs = {k: data[k] for k in data.files}
    result = RUNNERS[fmt](artifact, inputs, plugins, spec_dir)
    np.savez(outputs_path, **name_outputs(result, json.loads(names_json)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
