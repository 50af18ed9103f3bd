"""What answers a request: a run's Keras checkpoint through `specc predict`'s own code path,
its SavedModel export through TensorFlow's serving signature, or its ONNX export through ONNX
Runtime alone (no TensorFlow imported).

Either one reads checked JSON rows into a Table as `specc predict` reads a CSV file
(specc/run/rows.py) and returns one JSON object per row with the columns `specc predict`
writes for it.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any, Optional, Protocol

from specc.errors import UsageError
from specc.run.rows import InputSchema, rows_table
from specc.serve.formats import SERVED_FORMATS


class Predictor(Protocol):
    """A loaded model that answers rows."""

    schema: InputSchema

    def predict(self, rows: list) -> list:
        """One prediction object per checked row."""

    def metadata(self) -> dict:
        """What GET /metadata says: spec, run, format, inputs, outputs, versions."""


@dataclass
class Served:
    """What every predictor knows of its run.

    Attributes:
        run_id: The run's id.
        spec_name: The spec's `name`.
        fmt: What is served (a key of SERVED_FORMATS).
        artifact: The file the model was read from.
        schema: The input columns (record.json `columns`).
        outputs: The prediction columns (known after the first prediction).
    """

    run_id: str
    spec_name: str
    fmt: str
    artifact: str
    schema: InputSchema
    outputs: list = field(default_factory=list)

    def describe(self, runtime: dict) -> dict:
        return {"spec": self.spec_name, "run_id": self.run_id, "format": self.fmt,
                "artifact": Path(self.artifact).name, "inputs": self.schema.describe(),
                "outputs": list(self.outputs), "versions": versions(runtime)}


def versions(runtime: dict) -> dict:
    """specc's, Python's, the server's and the runtime's versions."""
    found = {"python": platform.python_version()}
    for name in ("specc", "starlette", "uvicorn"):
        found[name] = _version(name)
    return {**found, **runtime}


def _version(name: str) -> str:
    try:
        return package_metadata.version(name)
    except package_metadata.PackageNotFoundError:
        return "unknown"


def open_predictor(ref: str, fmt: str = "keras", checkpoint: str = "best", runs_dir: Optional[str] = None,
                   trust_plugins: bool = False, options: Optional[dict] = None) -> Predictor:
    """The predictor of a run (by id, prefix, NAME/latest or path) or of a run's export folder.

    Raises:
        UsageError: No such run, a format that cannot be served, no such export, plugins
            without consent.
        DataError: The run's training data had no column names.
    """
    from specc.run.session import open_run

    if fmt not in SERVED_FORMATS:
        raise UsageError(f"--format {fmt}: serve reads {', '.join(SERVED_FORMATS)}")
    run = open_run(_run_of(ref), runs_dir, trust_plugins)
    schema = InputSchema.of(run.columns())
    if fmt in EXPORTED:
        return EXPORTED[fmt](run, schema, ref)
    return KerasPredictor(run, schema, checkpoint, options or {})


def warm_up(predictor: Predictor) -> None:
    """Predict once for a made-up row, so the first request does not pay for building the
    model's predict function, and /metadata names the outputs."""
    schema = predictor.schema
    row = {name: "?" if name in schema.categorical else 0.0 for name in schema.columns}
    try:
        predictor.predict([row])
    except Exception:  # noqa: BLE001  (a model that refuses made-up rows: the first request warms it)
        return


def _run_of(ref: str) -> str:
    """A run's export folder (it holds manifest.json and sits in the run folder) -> the run."""
    path = Path(ref)
    if (path / "manifest.json").is_file() and not (path / "record.json").exists() \
            and (path.resolve().parent / "record.json").is_file():
        return str(path.resolve().parent)
    return ref


class KerasPredictor:
    """A run's checkpoint, answering through specc.run.session.prediction_columns (what
    `specc predict` writes), with the run's paradigm (an autoencoder's reconstruction error
    and anomaly flag, a few-shot run's classes given `--with support=FILE`)."""

    def __init__(self, run: Any, schema: InputSchema, checkpoint: str, options: dict) -> None:
        self.run, self.schema = run, schema
        self.context = run.context(None, options)
        run.paradigm.check_options(self.context)
        self.model = run.load_model(checkpoint)
        self.served = Served(run.record.run_id, str(run.resolved.get("name", "")), "keras",
                             str(run.checkpoint(checkpoint)), schema)

    def predict(self, rows: list) -> list:
        from specc.run.predict import json_rows
        from specc.run.session import prediction_columns

        columns = prediction_columns(self.run, self.model, rows_table(rows, self.schema), self.context)
        self.served.outputs = self.served.outputs or list(columns)
        return json_rows(columns)

    def metadata(self) -> dict:
        import keras
        import tensorflow as tf

        return self.served.describe({"tensorflow": tf.__version__, "keras": keras.__version__})


class ExportPredictor:
    """A run's export (as `specc export --format FORMAT` wrote and checked it) run by the
    format's own runtime; the outputs read as the task table reads them.

    Only supervised task types: the other families compute their answers (reconstruction
    error, distances to prototypes) with the Keras model.

    Attributes:
        FORMAT: The export format served (a key of SERVED_FORMATS).
        LABEL: Its name in messages.
    """

    FORMAT = ""
    LABEL = ""

    def __init__(self, run: Any, schema: InputSchema, ref: str) -> None:
        from specc.export.formats import get_format
        from specc.registries import task_type

        declared = task_type(run.resolved.get("task") or {})
        if declared is None or declared.table_row is None:
            raise UsageError(f"run {run.record.run_id} is {_a_run(declared)}: serving its "
                             f"{self.LABEL} export answers supervised task types only",
                             "serve the run itself (--format keras): its answers come from the Keras model")
        folder = Path(ref) if (Path(ref) / "manifest.json").is_file() else Path(run.record.export_dir)
        path = folder / get_format(self.FORMAT).artifact
        if not path.exists():
            raise UsageError(f"run {run.record.run_id} has no {self.LABEL} export ({path} not found)",
                             f"export it first: specc export {run.record.run_id} --format {self.FORMAT}")
        self.run, self.schema, self.record = run, schema, run.record.read()
        self.input_names, self.shapes = self.load(folder, path)
        self.served = Served(run.record.run_id, str(run.resolved.get("name", "")), self.FORMAT, str(path), schema)

    def load(self, folder: Path, path: Path) -> tuple:
        """Load the artifact: (its input names, their shapes by name without the batch axis)."""
        raise NotImplementedError

    def call(self, given: dict) -> dict:
        """The artifact's outputs by the Keras output names, for inputs by name."""
        raise NotImplementedError

    def predict(self, rows: list) -> list:
        from specc.data.pipeline import to_arrays
        from specc.export.formats._signature import feed
        from specc.run.predict import json_rows, task_columns

        x, _ = to_arrays(rows_table(rows, self.schema), self.input_names, self.shapes)
        given = x if isinstance(x, dict) else {self.input_names[0]: x}
        columns = task_columns(self.call(feed(self.input_names, given)), self.run.resolved,
                               self.record.get("class_names"), self.record.get("output_class_names"))
        self.served.outputs = self.served.outputs or list(columns)
        return json_rows(columns)


class OnnxPredictor(ExportPredictor):
    """A run's ONNX export (export/model.onnx), run by ONNX Runtime without TensorFlow."""

    FORMAT = "onnx"
    LABEL = "ONNX"

    def load(self, folder: Path, path: Path) -> tuple:
        self.session = _session(path)
        self.output_names = _output_names(folder, [o.name for o in self.session.get_outputs()])
        inputs = self.session.get_inputs()
        shapes = {i.name: [d if isinstance(d, int) else None for d in i.shape[1:]] for i in inputs}
        return [i.name for i in inputs], shapes

    def call(self, given: dict) -> dict:
        return dict(zip(self.output_names, self.session.run(None, given)))

    def metadata(self) -> dict:
        import onnxruntime as ort

        return self.served.describe({"onnxruntime": ort.__version__})


class SavedModelPredictor(ExportPredictor):
    """A run's SavedModel export (exports/saved_model), called through its serving signature
    (`serving_default`, as TensorFlow Serving calls it)."""

    FORMAT = "saved_model"
    LABEL = "SavedModel"

    def load(self, folder: Path, path: Path) -> tuple:
        import tensorflow as tf

        # The signature's outputs are keyed by the Keras output names (export's named_outputs).
        self.signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        specs = self.signature.structured_input_signature[1]
        shapes = {name: [None if d is None else int(d) for d in s.shape[1:]] for name, s in specs.items()}
        return list(specs), shapes

    def call(self, given: dict) -> dict:
        import tensorflow as tf

        outputs = self.signature(**{name: tf.constant(value) for name, value in given.items()})
        return {name: value.numpy() for name, value in outputs.items()}

    def metadata(self) -> dict:
        import tensorflow as tf

        return self.served.describe({"tensorflow": tf.__version__})


EXPORTED = {predictor.FORMAT: predictor for predictor in (OnnxPredictor, SavedModelPredictor)}


def _a_run(declared: Any) -> str:
    from specc.suggest import a_or_an

    return f"{a_or_an(declared.name)} run" if declared is not None else "a run of no task type"


def _session(path: Path) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("serving an ONNX export needs ONNX Runtime", "pip install 'specc[onnx]'") from None
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _output_names(folder: Path, runtime_names: list) -> list:
    """The Keras output names of the artifact's outputs, in order, from the export manifest
    (ONNX names them by tensor); the runtime's names where the manifest says nothing."""
    import json

    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        entry = next(a for a in manifest.get("artifacts", []) if a.get("format") == "onnx"
                     and a.get("quantize", "none") == "none")
        names = [str(o["name"]) for o in entry["outputs"]]
    except (OSError, ValueError, StopIteration, KeyError, TypeError):
        return runtime_names
    return names if len(names) == len(runtime_names) else runtime_names
