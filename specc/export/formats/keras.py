"""The `.keras` format: Keras's own file, read back by `keras.saving.load_model`."""
from __future__ import annotations

from specc.export.formats._signature import single, spec
from specc.export.formats.protocol import ExportContext, RuntimeContext

ARTIFACT = "model.keras"
TOLERANCE = 1e-6
RUNTIME = "keras"


def write(context: ExportContext) -> None:
    context.model.save(context.path)


def run(context: RuntimeContext) -> tuple:
    """Outputs and input signature, read back by Keras (specc's classes and the spec's
    plugins registered first)."""
    import keras

    from specc.compile import load_plugins
    from specc.paradigms import register_serializables

    register_serializables()
    load_plugins(context.plugins, context.spec_dir)
    model = keras.saving.load_model(context.path)
    signature = [spec(t.name.split(":")[0], t.shape, t.dtype) for t in model.inputs]
    return model.predict(single(context.inputs), verbose=0), signature
