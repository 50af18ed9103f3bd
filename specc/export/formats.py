"""One table of export formats: how each is written, where, and how close it must stay.

Writers run in the training process (they need the Keras model); readers run in a separate
process (`specc.export.verify`) with the format's own runtime, so an artifact that only works
inside the process that wrote it is caught.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from specc.errors import ExportError, UsageError

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")


@dataclass(frozen=True)
class Format:
    name: str
    artifact: str               # file or folder name inside the export folder
    tolerance: float            # largest absolute difference allowed against Keras
    needs: tuple = ()           # optional packages (pip install 'specc[onnx]')
    quantizable: bool = False


FORMATS = {
    "keras": Format("keras", "model.keras", 1e-6),
    "saved_model": Format("saved_model", "saved_model", 1e-5),
    "litert": Format("litert", "model.tflite", 1e-4, quantizable=True),
    "onnx": Format("onnx", "model.onnx", 1e-4, needs=("tf2onnx", "onnx", "onnxruntime")),
}

# Quantized LiteRT models are compared with looser bounds: they are meant to differ a little.
QUANTIZED_TOLERANCE = {"float16": 1e-2, "dynamic": 0.1, "int8": 0.25}
MIN_AGREEMENT = {"none": 1.0, "float16": 0.99, "dynamic": 0.95, "int8": 0.9}


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise UsageError(f"unknown export format '{name}'", f"known formats: {', '.join(FORMATS)}")
    return FORMATS[name]


def check_quantize(fmt: Format, quantize: str) -> None:
    if quantize not in QUANTIZE_MODES:
        raise UsageError(f"unknown quantization '{quantize}'", f"one of: {', '.join(QUANTIZE_MODES)}")
    if quantize != "none" and not fmt.quantizable:
        raise UsageError(f"{fmt.name} does not take --quantize {quantize}",
                         "quantization applies to the litert format")


def missing_packages(fmt: Format) -> list[str]:
    return [name for name in fmt.needs if importlib.util.find_spec(name) is None]


def require_packages(fmt: Format) -> None:
    missing = missing_packages(fmt)
    if missing:
        raise ExportError(f"{fmt.name} export needs {', '.join(missing)}, not installed",
                          "pip install 'specc[onnx]'")


def tolerance(fmt: Format, quantize: str) -> float:
    return QUANTIZED_TOLERANCE.get(quantize, fmt.tolerance) if fmt.quantizable else fmt.tolerance


# --- writers (in the training process) -----------------------------------------------------

def write(fmt: Format, model, path: Path, quantize: str = "none",
          calibration: Optional[Callable] = None) -> None:
    """Write one artifact to `path` (which must not exist yet), without the converters' chatter."""
    import warnings

    from specc.run.quiet import native_stderr_silenced

    try:
        with warnings.catch_warnings(), native_stderr_silenced((1, 2)):
            warnings.simplefilter("ignore")
            WRITERS[fmt.name](model, path, quantize, calibration)
    except (ExportError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a converter that cannot handle the model
        raise ExportError(f"{fmt.name}: the converter failed: {_first_line(exc)}",
                          "other formats may work; `specc export RUN --format keras` always does") from exc


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= 300 else text[:297] + "..."


def _write_keras(model, path, quantize, calibration) -> None:
    model.save(path)


def _write_saved_model(model, path, quantize, calibration) -> None:
    named_outputs(model).export(str(path), format="tf_saved_model", verbose=False)


def named_outputs(model):
    """The same model (same layers, same weights) taking and returning dicts keyed by the
    spec's input and output names, so an exported signature says `cultivar`, not
    `output_0`. A model that is not a functional graph is returned as it is."""
    import keras

    try:
        inputs = {t.name.split(":")[0]: t for t in model.inputs}
        outputs = dict(zip(model.output_names, model.outputs))
    except (AttributeError, ValueError):
        return model
    return keras.Model(inputs, outputs, name=model.name)


def _write_litert(model, path, quantize, calibration) -> None:
    """LiteRT built-in ops only, so any LiteRT runtime runs the file (Keras also allows
    TensorFlow ops, which need the Flex delegate). Recurrent layers lower to built-in ops
    only with a fixed batch size: when the batch-free signature fails, batch 1 is used."""
    options, named = _litert_options(quantize, calibration), named_outputs(model)
    try:
        named.export(str(path), format="litert", verbose=False,
                     input_signature=_litert_signature(named, None), **options)
    except Exception:  # noqa: BLE001 - retried with a static batch; a second failure is raised
        named.export(str(path), format="litert", verbose=False,
                     input_signature=_litert_signature(named, 1), **options)


def _litert_signature(model, batch: Optional[int]) -> list:
    """One argument: a dict of input specs keyed by input name."""
    import tensorflow as tf

    return [{t.name.split(":")[0]: tf.TensorSpec([batch, *t.shape[1:]], t.dtype, name=t.name.split(":")[0])
             for t in model.inputs}]


def _litert_options(quantize: str, calibration) -> dict:
    import tensorflow as tf

    options = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize == "none":
        return options
    options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    elif quantize == "int8":
        options["representative_dataset"] = calibration
    return options


def _write_onnx(model, path, quantize, calibration) -> None:
    """tf2onnx's Keras converter, with the model's input names and output names.

    Not `model.export(format="onnx")`: that goes through tf2onnx's `from_function`, which
    turns the tensors a model captures (an adapted Normalization's mean and variance) into
    extra graph inputs that no caller can feed.
    """
    import tensorflow as tf
    import tf2onnx

    _patch_tf2onnx()
    signature = [tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=t.name.split(":")[0])
                 for t in model.inputs]
    tf2onnx.convert.from_keras(model, input_signature=signature, output_path=str(path))


def _patch_tf2onnx() -> None:
    """Keras's fixes that let tf2onnx run with numpy 2 (when this Keras has them)."""
    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:
        return
    patch_tf2onnx()


WRITERS = {"keras": _write_keras, "saved_model": _write_saved_model, "litert": _write_litert,
           "onnx": _write_onnx}
