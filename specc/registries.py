"""Every registry of specc, filled in this one file.

    TASK_TYPES      task.type -> TaskType (declared in specc/tasks/, implemented in specc/paradigms/)
    DATA_SOURCES    data.source form -> DataSourceInfo (implemented in specc/data/sources/)
    EXPORT_FORMATS  export format -> ExportFormatInfo (implemented in specc/export/formats/)
    QUANTIZE_MODES  LiteRT quantization modes

Keras's own names (layers, losses, metrics, optimizers, schedules, activations,
initializers, regularizers, constraints) are not re-listed: the shipped catalog
(specc/catalog) knows them without TensorFlow, and `specc.compile.names` looks them up.

The schema's enums (task types, export formats), the `--format` help and the hints of
messages are made from these tables; `tools/bundle_schema.py` writes them into the schema.
No TensorFlow here: implementations in higher layers are named by `module:attribute`
and imported only when used, checked against their protocol (`specc.registry.load_conforming`;
tests/test_registries.py checks every entry).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Optional

from specc.registry import Registry
from specc.tasks import autoencoder, few_shot, gan, supervised
from specc.tasks.base import TaskType

TASK_TYPES: Registry[TaskType] = Registry("task type", {
    **{t.name: t for t in supervised.TYPES},
    "autoencoder": autoencoder.AUTOENCODER,
    "gan": gan.GAN,
    "few_shot": few_shot.FEW_SHOT,
})


@dataclass(frozen=True)
class DataSourceInfo:
    """A `data.source` form: what validation, the path checks and the by-name readers must
    know of it, without importing it.

    Attributes:
        name: The form's key (`csv`).
        module: The module that loads it: a `DataSource` (specc/data/sources/protocol.py) with `load(spec, context) -> Table` (a columnar
            source also `read_header(spec, base_dir) -> list[str]`, see
            specc/data/sources/columnar.py).
        paths: The keys of its mapping that name files or folders, relative to the spec (a
            key's value is a path, or a mapping name -> path); every one stays inside the
            spec's project (specc/checks/paths.py). Empty for a source that reads no files.
        columnar: Its files have named columns: `label`, `features`, `categorical` name them,
            validate checks them against the header, and predict/evaluate read a run's
            columns by name.
        suffixes: The file suffixes `specc predict --input` reads with this source (by column
            name; a columnar source only).
        needs: Optional packages it imports (validate says when one is missing).
        extra: The pip extra that installs them (`pip install 'specc[parquet]'`).
        schema: The JSON Schema of its mapping, for a source whose schema is not written in
            `$defs/source` of schemas/specc-v1.schema.json (tools/bundle_schema.py writes it).
    """

    name: str
    module: str
    paths: tuple[str, ...] = ("path",)
    columnar: bool = False
    suffixes: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    extra: Optional[str] = None
    schema: Optional[dict] = field(default=None, compare=False, hash=False)

    @property
    def files(self) -> bool:
        """Whether the source reads files (paths in it are relative to the spec)."""
        return bool(self.paths)

    def missing(self) -> list[str]:
        """The packages it needs that are not installed (looked up, not imported)."""
        return [name for name in self.needs if importlib.util.find_spec(name) is None]

    def install_hint(self) -> str:
        """How to install what `missing` names."""
        return f"pip install 'specc[{self.extra}]'" if self.extra else f"pip install {' '.join(self.missing())}"


DATA_SOURCES: Registry[DataSourceInfo] = Registry("data source", {
    "builtin": DataSourceInfo("builtin", "specc.data.sources.builtin", paths=()),
    "csv": DataSourceInfo("csv", "specc.data.sources.csv", columnar=True, suffixes=(".csv",)),
    "npz": DataSourceInfo("npz", "specc.data.sources.npz"),
    "npy": DataSourceInfo("npy", "specc.data.sources.npy", paths=("features", "labels")),
    "image_folder": DataSourceInfo("image_folder", "specc.data.sources.image_folder"),
    "tfrecord": DataSourceInfo("tfrecord", "specc.data.sources.tfrecord"),
    "synthetic": DataSourceInfo("synthetic", "specc.data.sources.synthetic", paths=()),
})


@dataclass(frozen=True)
class ExportFormatInfo:
    """What validation must know of an export format before anything is built.

    Attributes:
        name: The format's name (`onnx`).
        module: Its implementation: an `ExportFormat` (specc/export/formats/protocol.py:
            artifact name, tolerance, runtime, `write(context)`, `run(context)`).
        needs: Optional packages it needs (checked by `specc validate`).
        extra: The pip extra that installs them (`pip install 'specc[onnx]'`).
        fixed_shapes: Whether every input dimension must have a size.
        quantizable: Whether `quantize:` applies to it.
        strings: Whether its runtime takes string inputs (a model with text preprocessing inside).
        kinds: The model kinds it takes: `network` (a Keras model), `trees` (a booster of
            `model: {trees: ...}`).
        trees_needs: The packages it needs for a trees model instead of `needs` (installed by
            the `trees` extra).
    """

    name: str
    module: str
    needs: tuple[str, ...] = ()
    extra: Optional[str] = None
    fixed_shapes: bool = False
    quantizable: bool = False
    strings: bool = True
    kinds: tuple[str, ...] = ("network",)
    trees_needs: tuple[str, ...] = ()

    def needs_for(self, kind: str) -> tuple[str, ...]:
        """The optional packages it needs to write and check a model of this kind."""
        return self.trees_needs if kind == "trees" else self.needs

    def extra_for(self, kind: str) -> Optional[str]:
        """The pip extra that installs them."""
        return "trees" if kind == "trees" else self.extra


EXPORT_FORMATS: Registry[ExportFormatInfo] = Registry("export format", {
    "keras": ExportFormatInfo("keras", "specc.export.formats.keras"),
    "saved_model": ExportFormatInfo("saved_model", "specc.export.formats.saved_model"),
    "litert": ExportFormatInfo("litert", "specc.export.formats.litert", fixed_shapes=True, quantizable=True,
                               strings=False),
    "onnx": ExportFormatInfo("onnx", "specc.export.formats.onnx", needs=("tf2onnx", "onnx", "onnxruntime"),
                             extra="onnx", strings=False, kinds=("network", "trees"),
                             trees_needs=("xgboost", "onnxmltools", "onnx", "onnxruntime")),
    "xgboost_json": ExportFormatInfo("xgboost_json", "specc.export.formats.xgboost_json", kinds=("trees",),
                                     trees_needs=("xgboost",)),
    "xgboost_ubj": ExportFormatInfo("xgboost_ubj", "specc.export.formats.xgboost_ubj", kinds=("trees",),
                                    trees_needs=("xgboost",)),
})

QUANTIZE_MODES = ("none", "float16", "dynamic", "int8")


@dataclass(frozen=True)
class BuiltinDataSet:
    """A data set that ships inside scikit-learn: what validation can check without loading it.

    Attributes:
        features: Values per sample.
        classes: Number of classes (None for regression).
        targets: Number of regression targets (None for classification).
        class_names: The name of each class id (scikit-learn's target_names), for classes
            named in `data.select` or `data.split`.
    """

    features: int
    classes: Optional[int] = None
    targets: Optional[int] = None
    class_names: tuple = ()


BUILTIN_DATA_SETS = {
    "digits": BuiltinDataSet(64, classes=10, class_names=tuple(str(i) for i in range(10))),
    "iris": BuiltinDataSet(4, classes=3, class_names=("setosa", "versicolor", "virginica")),
    "wine": BuiltinDataSet(13, classes=3, class_names=("class_0", "class_1", "class_2")),
    "breast_cancer": BuiltinDataSet(30, classes=2, class_names=("malignant", "benign")),
    "diabetes": BuiltinDataSet(10, targets=1),
    "linnerud": BuiltinDataSet(3, targets=3),
}


def task_type(task: object) -> Optional[TaskType]:
    """The declaration of a (single-output) task mapping, or None when it has none."""
    if not isinstance(task, dict) or "outputs" in task:
        return None
    return TASK_TYPES.find(task.get("type"))


def spec_task_type(spec: dict) -> Optional[TaskType]:
    """The task type of a spec with one task (None for several outputs or no valid type)."""
    return task_type(spec.get("task")) if isinstance(spec, dict) else None


def model_parts() -> tuple[str, ...]:
    """Every model section a composite task type declares (`encoder`, `generator`, ...)."""
    return tuple(dict.fromkeys(part for name in TASK_TYPES for part in TASK_TYPES.get(name).parts))


def fed_parts() -> tuple[str, ...]:
    """The parts the data feeds, of every composite task type."""
    return tuple(dict.fromkeys(t.feeds for t in map(TASK_TYPES.get, TASK_TYPES) if t.feeds))


def optimizer_parts() -> tuple[str, ...]:
    """Every network that may take its own optimizer (`optimizer: {generator: ..., ...}`)."""
    return tuple(dict.fromkeys(p for name in TASK_TYPES for p in TASK_TYPES.get(name).optimizer_parts))


def is_optimizer_set(value: object) -> bool:
    """`{generator: ..., discriminator: ...}`: an optimizer per network of some task type."""
    return isinstance(value, dict) and any(
        TASK_TYPES.get(n).optimizer_parts and set(value) == set(TASK_TYPES.get(n).optimizer_parts)
        for n in TASK_TYPES)
