"""Run exported artifacts with their own runtimes, in a process of their own.

    python -m specc.export.verify [MODULE...] < REQUEST.json

The format MODULEs (`specc.export.formats.onnx`: the parent names each format by the module
of its registry line, so a format registered at run time is known here too) and their
runtimes are imported first (the parent starts this process before it writes
the artifacts, so the imports overlap with the writing); then the request is read from
stdin: {"inputs": INPUTS.npz, "output_names": [...], "plugins": [...], "spec_dir": ...,
"artifacts": [{"format": ..., "module": ..., "path": ..., "outputs": OUTPUTS.npz}, ...]}. INPUTS.npz holds
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
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def name_outputs(result: Any, output_names: list) -> dict:
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
    """argv: the modules of the formats to come (their runtimes are imported first); then the
    request is read from stdin."""
    for module in argv:
        preload(module)
    request = json.loads(sys.stdin.read())
    with np.load(request["inputs"]) as data:
        inputs = {k: data[k].astype(np.object_) if data[k].dtype.kind == "U" else data[k] for k in data.files}
    for job in request["artifacts"]:
        run_job(job, inputs, request)
    return 0


def preload(module: str) -> None:
    """Import a format's runtime now, while the parent is still writing the artifacts."""
    from specc.export.formats import format_module

    try:
        __import__(format_module(module).RUNTIME)
    except ImportError:  # reported when the artifact is run
        pass


def run_job(job: dict, inputs: dict, request: dict) -> None:
    """Run one artifact; write its outputs and its input signature, or the error it raised."""
    from specc.export.formats import RuntimeContext, format_module

    try:
        context = RuntimeContext(job["path"], inputs, request["plugins"], request["spec_dir"])
        result, signature = format_module(job["module"]).run(context)
        np.savez(job["outputs"], **name_outputs(result, request["output_names"]))
        report: dict = {"inputs": signature}
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
