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

    with warnings.catch_warnings(), native_stderr_silenced((1, 2)):
        warnings.simplefilter("ignore")
        WRITERS[fmt.name](model, path, quantize, calibration)


def _write_keras(model, path, quantize, calibration) -> None:
    model.save(path)


def _write_saved_model(model, path, quantize, calibration) -> None:
    model.export(str(path), format="tf_saved_model", verbose=False)


def _write_litert(model, path, quantize, calibration) -> None:
    model.export(str(path), format="litert", verbose=False, **_litert_options(quantize, calibration))


def _litert_options(quantize: str, calibration) -> dict:
    import tensorflow as tf

    if quantize == "none":
        return {}
    options = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if quantize == "float16":
        options["target_spec"] = {"supported_types": [tf.float16]}
    elif quantize == "int8":
        options["representative_dataset"] = calibration
    return options


def _write_onnx(model, path, quantize, calibration) -> None:
    model.export(str(path), format="onnx", verbose=False)


WRITERS = {"keras": _write_keras, "saved_model": _write_saved_model, "litert": _write_litert,
           "onnx": _write_onnx}
