"""specc: declarative model specs for Keras -- validate, compile, train, evaluate, export.

The public API, imported lazily (so `import specc` never imports TensorFlow):

    doc, warnings = specc.load_and_check("spec.yaml", overrides=["train.epochs=5"])
    resolved = specc.resolved_spec(doc)
    model = specc.build_model(resolved)                     # the keras.Model it trains
    outcome = specc.train(resolved, "spec.yaml", options=specc.TrainOptions(runs_dir="runs"))
    specc.export_run(outcome.record, ["onnx"])
    specc.evaluate_run(str(outcome.record.path), split="test")
    outcomes = specc.run_many(["a.yaml", "b.yaml"], parallel=2)  # warm workers: TensorFlow once

Names of submodules (`specc.validate`, `specc.render`, ...) stay the modules: the facade never
shadows one.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_spec": "specc.load",
    "load_and_check": "specc.api",
    "problems_of": "specc.api",
    "resolved_spec": "specc.api",
    "resolve": "specc.render",
    "build_model": "specc.paradigms",
    "compile_spec": "specc.paradigms",
    "summarize": "specc.paradigms",
    "paradigm_of": "specc.paradigms",
    "register_serializables": "specc.paradigms",
    "train": "specc.run.train",
    "TrainOptions": "specc.run.train",
    "Outcome": "specc.run.train",
    "open_run": "specc.run.session",
    "evaluate_run": "specc.run.session",
    "predict_run": "specc.run.session",
    "export_run": "specc.export",
    "train_and_export": "specc.workflows",
    "run_many": "specc.sweep.workers",
    "PoolOptions": "specc.sweep.workers",
    "RunOutcome": "specc.sweep.workers",
    "SpeccError": "specc.errors",
    "SpecInvalid": "specc.errors",
}

__all__ = sorted(_EXPORTS)



def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'specc' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
