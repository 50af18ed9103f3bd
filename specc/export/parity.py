"""Compare artifacts' outputs (run in a separate process) with the Keras model's."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from specc.errors import ExportError
from specc.export.formats import MIN_AGREEMENT, Format, tolerance
from specc.registries import QUANTIZE_MODES
from specc.export.verify import report_path

if TYPE_CHECKING:
    from specc.run.session import OpenRun

TIMEOUT_SECONDS = 900


def input_dict(model: Any, x: Any) -> dict:
    """Model inputs keyed by the spec's input names: numbers as float32, strings (a model
    with its text preprocessing inside) as Python strings, as Keras takes them."""
    names = [t.name.split(":")[0] for t in model.inputs] if hasattr(model, "inputs") else list(model.input_names)
    if isinstance(x, dict):
        return {name: _input_array(x[name]) for name in names}
    return {names[0]: _input_array(x)}


def _input_array(values: Any) -> np.ndarray:
    array = np.asarray(values)
    return array.astype(np.object_) if array.dtype.kind in "OSU" else array.astype(np.float32)


def reference_outputs(model: Any, inputs: dict) -> dict:
    from specc.export.verify import name_outputs

    single = next(iter(inputs.values())) if len(inputs) == 1 else inputs
    return name_outputs(model.predict(single, verbose=0), list(model.output_names))


class ArtifactChecker:
    """The process that runs the exported artifacts (`python -m specc.export.verify`).

    It starts before the artifacts are written, so that importing the runtimes (TensorFlow
    takes seconds) overlaps with the writing; `run` then hands it the artifacts. Use it as a
    context manager: on the way out the process is stopped if it still runs.
    """

    def __init__(self, formats: list[Format], run: OpenRun):
        self.run_info = run
        self.folder = tempfile.TemporaryDirectory(prefix="specc-verify-")
        self.log = open(Path(self.folder.name) / "stderr.txt", "w+", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "specc.export.verify", *(fmt.info.module for fmt in formats)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=self.log, text=True)

    def __enter__(self) -> "ArtifactChecker":
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.log.close()
        self.folder.cleanup()

    def run(self, jobs: list, inputs: dict, output_names: list) -> list:
        """[(outputs, input signature)] of each (format, artifact path), each artifact run by
        its format's own runtime."""
        tmp = Path(self.folder.name)
        # strings as numpy unicode, which an .npz keeps without pickle (verify.py turns them back)
        np.savez(tmp / "inputs.npz", **{k: v.astype(np.str_) if v.dtype == np.object_ else v for k, v in inputs.items()})
        request = {"inputs": str(tmp / "inputs.npz"), "output_names": output_names,
                   "plugins": self.run_info.resolved.get("plugins", []),
                   "spec_dir": str(self.run_info.spec_dir),
                   "artifacts": [{"format": fmt.name, "module": fmt.info.module, "path": str(path),
                                  "outputs": str(tmp / f"{i}.npz")} for i, (fmt, path) in enumerate(jobs)]}
        try:
            self.process.communicate(json.dumps(request), timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise ExportError(f"the exported artifacts were not checked within {TIMEOUT_SECONDS} s") from None
        if self.process.returncode != 0:
            raise ExportError(f"the exported artifacts could not be checked: {self._last_error()}")
        return [_result(job) for job in request["artifacts"]]

    def _last_error(self) -> str:
        self.log.flush()
        lines = (Path(self.folder.name) / "stderr.txt").read_text(encoding="utf-8").strip().splitlines()
        return lines[-1] if lines else f"the checking process ended with code {self.process.returncode}"


def _result(job: dict) -> tuple:
    report = json.loads(Path(report_path(job["outputs"])).read_text(encoding="utf-8"))
    if "error" in report:
        raise ExportError(f"{job['format']}: the exported artifact could not be run by its runtime: "
                          f"{report['error']}", "nothing was written; report it with the run id")
    with np.load(job["outputs"]) as data:
        return {k: data[k] for k in data.files}, report["inputs"]


def verify_artifacts(items: list, model: Any, samples: tuple, run: OpenRun, checker: ArtifactChecker) -> list:
    """Parity figures of each (format, quantize, artifact path) against the Keras model on
    held-out samples; raises ExportError for the first artifact past its tolerance."""
    x, y = samples
    inputs = input_dict(model, x)
    expected = reference_outputs(model, inputs)
    results = checker.run([(fmt, path) for fmt, _, path in items], inputs, list(model.output_names))
    return [check_parity(fmt, quantize, expected, actual, signature, y, inputs, run)
            for (fmt, quantize, _), (actual, signature) in zip(items, results)]


def check_parity(fmt: Format, quantize: str, expected: dict, actual: dict, signature: list, labels: Any,
                 inputs: dict, run: OpenRun) -> dict:
    """Largest absolute difference and class agreement; raise ExportError past the tolerance
    (`inputs`, the samples compared on by input name, say why quantization could not keep up)."""
    _check_input_names(fmt.name, signature, list(inputs))
    figures = compare(expected, actual, labels, list(expected), run.resolved)
    figures["inputs"] = signature
    figures["tolerance"] = tolerance(fmt, quantize)
    figures["min_agreement"] = MIN_AGREEMENT.get(quantize, 1.0)
    figures["summary"] = _summary(figures)
    _enforce(fmt.name, quantize, figures, inputs)
    return figures


def _check_input_names(fmt_name: str, signature: list, names: list) -> None:
    """Callers of an artifact feed it by the spec's input names: the artifact must take them."""
    found = [entry["name"] for entry in signature]
    if sorted(found) != sorted(names):
        raise ExportError(f"{fmt_name}: the artifact's inputs are named {', '.join(found)}, "
                          f"not {', '.join(names)} as in the spec",
                          "nothing was written; report it with the run id")


def compare(expected: dict, actual: dict, labels: Any, names: list, resolved: dict) -> dict:
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


def _enforce(fmt_name: str, quantize: str, f: dict, inputs: dict) -> None:
    label = fmt_name + ("" if quantize == "none" else f" ({quantize})")
    if not np.isfinite(f["max_abs_diff"]) or f["max_abs_diff"] > f["tolerance"]:
        raise ExportError(f"{label} failed its parity check: outputs differ from Keras by up to "
                          f"{f['max_abs_diff']:.3g} (tolerance {f['tolerance']:g}) on {f['samples']} samples",
                          quantize_hint(quantize, inputs) or "nothing was written; report it with the run id")
    if f["agreement"] is not None and f["agreement"] < f["min_agreement"]:
        raise ExportError(f"{label} failed its parity check: predicted classes agree with Keras on "
                          f"{f['agreement']:.1%} of {f['samples']} samples (need {f['min_agreement']:.0%})",
                          quantize_hint(quantize, inputs) or "nothing was written; report it with the run id")


# Columns whose ranges differ this much share int8's 256 levels badly.
SPREAD_LIMIT = 100.0


def quantize_hint(quantize: str, inputs: dict) -> str:
    """What a quantized artifact that missed its bounds needs: its cause and the remedies;
    "" when it is not quantized (a difference then is a bug)."""
    if quantize == "none":
        return ""
    milder = [m for m in QUANTIZE_MODES[:QUANTIZE_MODES.index(quantize)] if m != "none"]
    remedy = (f"export with a milder --quantize ({' or '.join(reversed(milder))}) or none" if milder
              else "export without --quantize")
    if quantize != "int8":
        return f"nothing was written; {quantize} quantization rounds the weights too coarsely for this model: {remedy}"
    spread = _widest_spread(inputs)
    if spread is None:
        return ("nothing was written; int8 gives each tensor one scale (256 levels) shared by all its values, "
                f"too coarse for this model: {remedy}")
    return ("nothing was written; int8 gives each tensor one scale (256 levels) shared by all its values, and the "
            f"columns of input '{spread[0]}' range over {spread[1]:.3g} to {spread[2]:.3g}, so the narrow ones lose "
            f"their detail: scale the input columns to similar ranges in the data, or {remedy}")


def _widest_spread(inputs: dict) -> Optional[tuple]:
    """(input name, narrowest range, widest range) of the input whose columns' ranges differ
    most, when they differ by SPREAD_LIMIT times or more."""
    found: Optional[tuple] = None
    for name, values in inputs.items():
        flat = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        if flat.shape[1] < 2 or not len(flat):
            continue
        ranges = flat.max(axis=0) - flat.min(axis=0)
        ranges = ranges[ranges > 0]
        if len(ranges) < 2 or ranges.max() < SPREAD_LIMIT * ranges.min():
            continue
        if found is None or ranges.max() / ranges.min() > found[2] / found[1]:
            found = (name, float(ranges.min()), float(ranges.max()))
    return found
