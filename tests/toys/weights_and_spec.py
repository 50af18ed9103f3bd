"""A toy export format, the proof that a new format is one module plus one registry line:
the weights and the resolved spec in one `.npz`, run back by building the model from the
spec and setting the weights. tests/test_export.py registers it for one test only.
"""
from __future__ import annotations

import json

import numpy as np

from specc.export.formats._signature import single, spec
from specc.export.formats.protocol import ExportContext, RuntimeContext

ARTIFACT = "weights_and_spec.npz"
TOLERANCE = 1e-6  # the same weights in the same layers
RUNTIME = "keras"


def write(context: ExportContext) -> None:
    weights = {f"weight_{i}": w for i, w in enumerate(context.model.get_weights())}
    with open(context.path, "wb") as handle:  # np.savez would add .npz to another name
        np.savez(handle, spec=np.array(json.dumps(context.resolved)), run_id=np.array(context.record["run_id"]),
                 **weights)


def run(context: RuntimeContext) -> tuple:
    """Build the spec's model (its paradigm's exported part), then set the weights."""
    from specc.paradigms import build_model, paradigm_of

    with np.load(context.path) as data:
        resolved = json.loads(str(data["spec"]))
        weights = [data[f"weight_{i}"] for i in range(len(data.files) - 2)]
    model = paradigm_of(resolved).export_model(build_model(resolved, spec_dir=context.spec_dir))
    model.set_weights(weights)
    signature = [spec(t.name.split(":")[0], t.shape, t.dtype) for t in model.inputs]
    return model.predict(single(context.inputs), verbose=0), signature
