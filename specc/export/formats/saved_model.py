"""TensorFlow's SavedModel (what TensorFlow Serving loads), with a serving signature named
after the spec's inputs and outputs."""
from __future__ import annotations

from typing import Any, Callable, Optional

from specc.export.formats._signature import feed, spec

ARTIFACT = "saved_model"
TOLERANCE = 1e-5
RUNTIME = "tensorflow"


def write(model: Any, path: Any, quantize: str, calibration: Optional[Callable]) -> None:
    from specc.export.formats import named_outputs

    named_outputs(model).export(str(path), format="tf_saved_model", verbose=False)


def run(path: str, inputs: dict, plugins: list, spec_dir: str) -> tuple:
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    specs = serve.structured_input_signature[1]
    signature = [spec(name, s.shape, s.dtype.name) for name, s in specs.items()]
    given = feed(list(specs), inputs)
    outputs = serve(**{k: tf.constant(v) for k, v in given.items()})
    return {k: v.numpy() for k, v in outputs.items()}, signature
