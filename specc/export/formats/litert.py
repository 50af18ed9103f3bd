"""LiteRT (`.tflite`), built-in ops only so any LiteRT runtime runs the file; quantizable.

Recurrent layers lower to built-in ops only with a fixed batch size: when the batch-free
signature fails, batch 1 is used.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from specc.export.formats._signature import feed, spec
from specc.export.formats.protocol import ExportContext, RuntimeContext

ARTIFACT = "model.tflite"
# Quantized models are compared with looser bounds: they are meant to differ a little.
TOLERANCE = {"none": 1e-4, "float16": 1e-2, "dynamic": 0.1, "int8": 0.25}
RUNTIME = "ai_edge_litert.interpreter"


def write(context: ExportContext) -> None:
    from specc.export.formats import named_outputs

    options, named = _options(context.quantize, context.calibration), named_outputs(context.model)
    try:
        named.export(str(context.path), format="litert", verbose=False,
                     input_signature=_signature(named, None), **options)
    except Exception:  # noqa: BLE001 - retried with a static batch; a second failure is raised
        named.export(str(context.path), format="litert", verbose=False,
                     input_signature=_signature(named, 1), **options)


def _signature(model: Any, batch: Optional[int]) -> list:
    """One argument: a dict of input specs keyed by input name."""
    import tensorflow as tf

    return [{t.name.split(":")[0]: tf.TensorSpec([batch, *t.shape[1:]], t.dtype, name=t.name.split(":")[0])
             for t in model.inputs}]


def _options(quantize: str, calibration: Optional[Callable]) -> dict:
    import tensorflow as tf

    options: dict = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize == "none":
        return options
    options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    elif quantize == "int8":
        options["representative_dataset"] = calibration
    return options


def run(context: RuntimeContext) -> tuple:
    runner = _interpreter(context.path).get_signature_runner()
    details = runner.get_input_details()
    signature = [spec(name, [None if d < 0 else int(d) for d in info["shape_signature"]], info["dtype"])
                 for name, info in details.items()]
    given = feed(list(details), context.inputs)
    batch = len(next(iter(given.values())))
    rows = [runner(**{k: v[i:i + 1] for k, v in given.items()}) for i in range(batch)]
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}, signature


def _interpreter(path: str) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=path)
