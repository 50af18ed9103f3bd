"""TensorFlow's SavedModel (what TensorFlow Serving loads), with a serving signature named
after the spec's inputs and outputs."""
from __future__ import annotations

from specc.export.formats._signature import feed, spec
from specc.export.formats.protocol import ExportContext, RuntimeContext

ARTIFACT = "saved_model"
TOLERANCE = 1e-5
RUNTIME = "tensorflow"


def write(context: ExportContext) -> None:
    from specc.export.formats import named_outputs

    named_outputs(context.model).export(str(context.path), format="tf_saved_model", verbose=False)


def run(context: RuntimeContext) -> tuple:
    import tensorflow as tf

    loaded = tf.saved_model.load(context.path)
    serve = loaded.signatures["serving_default"]
    specs = serve.structured_input_signature[1]
    signature = [spec(name, s.shape, s.dtype.name) for name, s in specs.items()]
    given = feed(list(specs), context.inputs)
    outputs = serve(**{k: tf.constant(v) for k, v in given.items()})
    return {k: v.numpy() for k, v in outputs.items()}, signature
