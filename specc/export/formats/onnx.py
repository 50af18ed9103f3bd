"""ONNX, run by onnxruntime: a network converted by tf2onnx (`pip install 'specc[onnx]'`), a
trees run's booster by onnxmltools (`pip install 'specc[trees]'`)."""
from __future__ import annotations

from specc.export.formats._signature import feed, spec
from specc.export.formats.protocol import ExportContext, RuntimeContext
from specc.tasks.trees import is_trees

ARTIFACT = "model.onnx"
TOLERANCE = 1e-4
RUNTIME = "onnxruntime"


def write(context: ExportContext) -> None:
    """tf2onnx's Keras converter, with the model's input names and output names.

    Not `model.export(format="onnx")`: that goes through tf2onnx's `from_function`, which
    turns the tensors a model captures (an adapted Normalization's mean and variance) into
    extra graph inputs that no caller can feed.
    """
    if is_trees(context.resolved):
        write_booster(context)
        return
    import tensorflow as tf
    import tf2onnx

    _patch_tf2onnx()
    model = context.model
    signature = [tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=t.name.split(":")[0])
                 for t in model.inputs]
    tf2onnx.convert.from_keras(model, input_signature=signature, output_path=str(context.path))


def write_booster(context: ExportContext) -> None:
    """onnxmltools' XGBoost converter, its outputs then made the network's: one `output` of
    the probabilities (binary: of class 1, a column as a sigmoid head gives) or values."""
    import onnx
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = context.model
    name = model.input_names[0]
    booster = model.kept().copy()
    booster.feature_names = [f"f{i}" for i in range(len(model.plan.names))]  # the names onnxmltools reads
    converted = onnxmltools.convert_xgboost(booster, initial_types=[(name, FloatTensorType([None, len(
        model.plan.names)]))], target_opset=15)
    graph = converted.graph
    values = graph.output[-1].name  # probabilities, or the regression's values
    if (context.resolved.get("task") or {}).get("type") == "binary":
        starts = onnx.helper.make_tensor("specc_start", onnx.TensorProto.INT64, [1], [1])
        ends = onnx.helper.make_tensor("specc_end", onnx.TensorProto.INT64, [1], [2])
        axes = onnx.helper.make_tensor("specc_axis", onnx.TensorProto.INT64, [1], [1])
        graph.initializer.extend([starts, ends, axes])
        graph.node.append(onnx.helper.make_node("Slice", [values, "specc_start", "specc_end", "specc_axis"],
                                                ["output"]))
    else:
        graph.node.append(onnx.helper.make_node("Identity", [values], ["output"]))
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, None))
    onnx.save(converted, str(context.path))


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
