"""ONNX (`pip install 'specc[onnx]'`), converted by tf2onnx and run by onnxruntime."""
from __future__ import annotations

from specc.export.formats._signature import feed, spec
from specc.export.formats.protocol import ExportContext, RuntimeContext

ARTIFACT = "model.onnx"
TOLERANCE = 1e-4
RUNTIME = "onnxruntime"


def write(context: ExportContext) -> None:
    """tf2onnx's Keras converter, with the model's input names and output names.

    Not `model.export(format="onnx")`: that goes through tf2onnx's `from_function`, which
    turns the tensors a model captures (an adapted Normalization's mean and variance) into
    extra graph inputs that no caller can feed.
    """
    import tensorflow as tf
    import tf2onnx

    _patch_tf2onnx()
    model = context.model
    signature = [tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=t.name.split(":")[0])
                 for t in model.inputs]
    tf2onnx.convert.from_keras(model, input_signature=signature, output_path=str(context.path))


def _patch_tf2onnx() -> None:
    """Keras's fixes that let tf2onnx run with numpy 2 (when this Keras has them)."""
    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:
        return
    patch_tf2onnx()


def run(context: RuntimeContext) -> tuple:
    import onnxruntime as ort

    session = ort.InferenceSession(context.path, providers=["CPUExecutionProvider"])
    signature = [spec(i.name, [d if isinstance(d, int) else None for d in i.shape], i.type)
                 for i in session.get_inputs()]
    values = session.run(None, feed([i.name for i in session.get_inputs()], context.inputs))
    return {o.name: v for o, v in zip(session.get_outputs(), values)}, signature
