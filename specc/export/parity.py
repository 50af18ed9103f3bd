"""Compare an artifact's outputs (run in a separate process) with the Keras model's."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from specc.errors import ExportError
from specc.export.formats import MIN_AGREEMENT, tolerance

TIMEOUT_SECONDS = 900


def input_dict(model, x) -> dict:
    """Model inputs keyed by the spec's input names."""
    names = [t.name.split(":")[0] for t in model.inputs]
    if isinstance(x, dict):
        return {name: np.asarray(x[name], dtype=np.float32) for name in names}
    return {names[0]: np.asarray(x, dtype=np.float32)}


def reference_outputs(model, inputs: dict) -> dict:
    from specc.export.verify import name_outputs

    single = next(iter(inputs.values())) if len(inputs) == 1 else inputs
    return name_outputs(model.predict(single, verbose=0), list(model.output_names))


def run_artifact(fmt_name: str, artifact: Path, inputs: dict, output_names: list, run) -> dict:
    """Outputs of the artifact, computed by `python -m specc.export.verify` in a new process."""
    with tempfile.TemporaryDirectory() as tmp:
        given, got = Path(tmp) / "inputs.npz", Path(tmp) / "outputs.npz"
        np.savez(given, **inputs)
        command = [sys.executable, "-m", "specc.export.verify", fmt_name, str(artifact), str(given),
                   str(got), json.dumps(output_names), json.dumps(run.resolved.get("plugins", [])),
                   str(run.spec_dir)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise ExportError(f"{fmt_name}: the exported artifact could not be run by its runtime: {last}")
        with np.load(got) as data:
            return {k: data[k] for k in data.files}


def check_parity(fmt, quantize: str, artifact: Path, model, samples, run) -> dict:
    """Largest absolute difference and class agreement; raise ExportError past the tolerance."""
    x, y = samples
    inputs = input_dict(model, x)
    names = list(model.output_names)
    expected = reference_outputs(model, inputs)
    actual = run_artifact(fmt.name, artifact, inputs, names, run)
    figures = compare(expected, actual, y, names, run.resolved)
    figures["tolerance"] = tolerance(fmt, quantize)
    figures["min_agreement"] = MIN_AGREEMENT.get(quantize, 1.0)
    figures["summary"] = _summary(figures)
    _enforce(fmt.name, quantize, figures)
    return figures


def compare(expected: dict, actual: dict, labels, names: list, resolved: dict) -> dict:
    from specc.render import output_tasks

    tasks = output_tasks(resolved["task"])
    diffs, agreement, accuracy = [], [], {}
    for name in names:
        if name not in actual:
            raise ExportError(f"the artifact has no output '{name}'; it has {', '.join(actual)}")
        a, b = expected[name].astype(np.float64), actual[name].astype(np.float64).reshape(expected[name].shape)
        diffs.append(float(np.max(np.abs(a - b))) if a.size else 0.0)
        kind = tasks.get(name, {}).get("type")
        if kind in ("multiclass", "binary", "multilabel"):
            pa, pb = _classes(a, kind), _classes(b, kind)
            agreement.append(float(np.mean(pa == pb)))
            truth = _truth(labels, name, len(names))
            if truth is not None:
                accuracy[name] = _accuracy(pa, pb, truth, kind)
    return {"samples": int(len(next(iter(expected.values())))), "max_abs_diff": max(diffs),
            "agreement": min(agreement) if agreement else None, "accuracy": accuracy}


def _classes(values: np.ndarray, kind: str) -> np.ndarray:
    if kind == "multiclass":
        return values.reshape(len(values), -1).argmax(axis=1)
    return (values.reshape(len(values), -1) >= 0.5).astype(int)


def _truth(labels, name, count):
    if labels is None:
        return None
    if isinstance(labels, dict):
        return np.asarray(labels.get(name)) if name in labels else None
    return np.asarray(labels) if count == 1 else None


def _accuracy(pa, pb, truth, kind) -> dict:
    truth = truth.reshape(pa.shape) if kind != "multiclass" else truth.reshape(-1)
    keras_acc, artifact_acc = float(np.mean(pa == truth)), float(np.mean(pb == truth))
    return {"keras": keras_acc, "artifact": artifact_acc, "drop": keras_acc - artifact_acc}


def _summary(f: dict) -> str:
    text = f"max |diff| {f['max_abs_diff']:.2e} <= {f['tolerance']:g}"
    if f["agreement"] is not None:
        text += f", classes agree {f['agreement']:.1%}"
    for name, acc in f["accuracy"].items():
        if acc["drop"]:
            text += f", accuracy {acc['keras']:.3f} -> {acc['artifact']:.3f}"
    return text


def _enforce(fmt_name: str, quantize: str, f: dict) -> None:
    label = fmt_name + ("" if quantize == "none" else f" ({quantize})")
    if not np.isfinite(f["max_abs_diff"]) or f["max_abs_diff"] > f["tolerance"]:
        raise ExportError(f"{label} failed its parity check: outputs differ from Keras by up to "
                          f"{f['max_abs_diff']:.3g} (tolerance {f['tolerance']:g}) on {f['samples']} samples",
                          "nothing was written; report it with the run id")
    if f["agreement"] is not None and f["agreement"] < f["min_agreement"]:
        raise ExportError(f"{label} failed its parity check: predicted classes agree with Keras on "
                          f"{f['agreement']:.1%} of {f['samples']} samples (need {f['min_agreement']:.0%})",
                          "try a milder quantization (float16 or dynamic)")
