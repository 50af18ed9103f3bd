"""What an export format module is, typed: `ExportFormat`, and the two contexts its functions
get. A format's `write` and `run` each take one frozen context, so a new field (what some
format needs of the run) is added here and read by the formats that want it: the others
do not change. No TensorFlow here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Protocol, Union


@dataclass(frozen=True)
class ExportContext:
    """What a format's `write` gets (in the exporting process).

    Attributes:
        model: The Keras model to write: the paradigm's `export_model` of the checkpoint (the
            whole model, or the part worth shipping, e.g. a few-shot run's embedding network),
            already called once.
        path: Where to write the artifact (it does not exist yet).
        quantize: The quantization mode (`none` unless the format is quantizable).
        calibration: A generator of representative input dicts, for int8 quantization.
        resolved: The run's resolved spec.
        record: The run's record.json (run id, data fingerprint, class names, ...).
    """

    model: Any
    path: Path
    quantize: str = "none"
    calibration: Optional[Callable[[], Iterator[dict]]] = None
    resolved: Mapping[str, Any] = field(default_factory=dict)
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimeContext:
    """What a format's `run` gets (in the checking process, with the format's own runtime).

    Attributes:
        path: The artifact.
        inputs: Input name -> array of samples.
        plugins: The spec's plugin modules (a Keras file may name their classes).
        spec_dir: The folder the plugins are imported from.
    """

    path: str
    inputs: dict
    plugins: list = field(default_factory=list)
    spec_dir: str = "."


class ExportFormat(Protocol):
    """An export format module (`specc/export/formats/<name>.py`, named by its line in
    `specc.registries.EXPORT_FORMATS`); `specc.export.formats.format_module` checks a module
    against it when it is loaded, `tests/test_registries.py` checks every registered one."""

    @property
    def ARTIFACT(self) -> str:
        """The file or folder name it writes (`model.onnx`)."""

    @property
    def TOLERANCE(self) -> Union[float, Mapping[str, float]]:
        """The largest absolute difference from Keras it may show; a quantizable format maps
        each quantization mode to its own."""

    @property
    def RUNTIME(self) -> str:
        """The module of its own runtime (imported early by the checking process)."""

    def write(self, context: ExportContext) -> None:
        """Write the artifact to `context.path` (in the exporting process)."""

    def run(self, context: RuntimeContext) -> tuple[Any, list[dict]]:
        """The artifact's outputs on `context.inputs` and its input signature
        ([{name, shape, dtype}], as its runtime reports it), in a separate process."""
