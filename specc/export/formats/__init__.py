"""Export formats: one module per format (keras, saved_model, litert, onnx), each an
`ExportFormat` (specc/export/formats/protocol.py):

    ARTIFACT    the file or folder name it writes (`model.onnx`)
    TOLERANCE   the largest absolute difference from Keras it may show; a format that can be
                quantized maps each quantization mode to its tolerance
    RUNTIME     the module its own runtime is (imported early by the checking process)
    write(context: ExportContext)   in the exporting process (model, path, quantize,
                calibration, the resolved spec and the run's record)
    run(context: RuntimeContext) -> (outputs, input signature)
                in a separate process, with its own runtime (path, inputs, plugins, spec_dir)

and one line in `specc.registries.EXPORT_FORMATS` (which validation reads: optional packages,
fixed shapes, quantization). No TensorFlow is imported here or at the top of a format module.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Mapping, cast

from specc.errors import ExportError, UsageError
from specc.export.formats.protocol import ExportContext, ExportFormat, RuntimeContext
from specc.registries import EXPORT_FORMATS, QUANTIZE_MODES, ExportFormatInfo
from specc.registry import load_conforming
from specc.tasks.trees import KIND_WORDS

# Quantized models must still predict most classes as Keras does.
MIN_AGREEMENT = {"none": 1.0, "float16": 0.99, "dynamic": 0.95, "int8": 0.9}


@dataclass(frozen=True)
class Format:
    """A registered format with its implementation module."""

    info: ExportFormatInfo
    module: ExportFormat

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def artifact(self) -> str:
        return self.module.ARTIFACT

    @property
    def quantizable(self) -> bool:
        return self.info.quantizable

    @property
    def needs(self) -> tuple:
        return self.info.needs


def get_format(name: str) -> Format:
    """The format called `name` (UnknownName, exit 2, with did-you-mean otherwise)."""
    info = EXPORT_FORMATS.get(name)
    return Format(info, format_module(info.module))


def format_module(dotted: str) -> ExportFormat:
    """The format module `dotted` (`specc.export.formats.onnx`), checked against `ExportFormat`.

    Raises:
        SpeccError: It lacks a member or a function takes other parameters (a bug: exit 70).
    """
    return cast(ExportFormat, load_conforming(dotted, ExportFormat))


def check_quantize(fmt: Format, quantize: str) -> None:
    if quantize not in QUANTIZE_MODES:
        raise UsageError(f"unknown quantization '{quantize}'", f"one of: {', '.join(QUANTIZE_MODES)}")
    if quantize != "none" and not fmt.quantizable:
        quantizable = [n for n, i in EXPORT_FORMATS.items() if i.quantizable]
        raise UsageError(f"{fmt.name} does not take --quantize {quantize}",
                         f"quantization applies to the {' and '.join(quantizable)} format")


def missing_packages(info: ExportFormatInfo, kind: str = "network") -> list[str]:
    return [name for name in info.needs_for(kind) if importlib.util.find_spec(name) is None]


def require_packages(fmt: Format, kind: str = "network") -> None:
    missing = missing_packages(fmt.info, kind)
    if missing:
        raise ExportError(f"{fmt.name} export needs {', '.join(missing)}, not installed",
                          f"pip install 'specc[{fmt.info.extra_for(kind)}]'")


def require_kind(fmt: Format, kind: str) -> None:
    """Refuse a format that cannot take the run's kind of model (`network`, `trees`)."""
    if kind not in fmt.info.kinds:
        able = [name for name, info in EXPORT_FORMATS.items() if kind in info.kinds]
        raise UsageError(f"{fmt.name} export takes {' or '.join(KIND_WORDS[k] for k in fmt.info.kinds)}, not "
                         f"{KIND_WORDS[kind]}", f"{KIND_WORDS[kind]} exports as {', '.join(able)}")


def tolerance(fmt: Format, quantize: str) -> float:
    value = fmt.module.TOLERANCE
    return float(value[quantize]) if isinstance(value, Mapping) else float(value)


def write(fmt: Format, context: ExportContext) -> None:
    """Write one artifact to `context.path` (which must not exist yet), without the converters'
    chatter."""
    import warnings

    from specc.run.quiet import native_stderr_silenced

    try:
        with warnings.catch_warnings(), native_stderr_silenced((1, 2)):
            warnings.simplefilter("ignore")
            fmt.module.write(context)
    except (ExportError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a converter that cannot handle the model
        raise ExportError(f"{fmt.name}: the converter failed: {_first_line(exc)}",
                          "other formats may work; `specc export RUN --format keras` always does") from exc


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    return text if len(text) <= 300 else text[:297] + "..."


def named_outputs(model: Any) -> Any:
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


__all__ = ["ExportContext", "ExportFormat", "Format", "RuntimeContext", "check_quantize",
           "format_module", "get_format", "missing_packages", "named_outputs", "require_packages",
           "tolerance", "write"]
