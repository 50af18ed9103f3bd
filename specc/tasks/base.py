"""What a task type is, declared without TensorFlow.

A `TaskType` says everything the core (validation, render, the schema) and the layers above
it need to know about one kind of learning problem: its `task:` fields and their defaults,
the parts its model has, whether it needs labels, its loss and metrics, which epoch "best"
means, whether it can be exported, its own semantic checks, and where its Keras
implementation lives (imported only when a model is built or loaded).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

Check = Callable[[Any], list]  # (doc) -> [Problem]; the doc's task has this type


DATA = "data"  # a Link's target that is the data itself: the source reconstructs one sample
TASK = "task."  # a Link's source `task.<field>`: a vector of that field's size (a GAN's latent)


@dataclass(frozen=True)
class Link:
    """One network of a composite model feeding another (or the data), for the shape walk.

    Attributes:
        source: The part whose one output is passed on, or `task.<field>`: a vector of the
            size the task's field gives (e.g. `task.latent_dim`).
        target: The part that takes it (as its input `input` when it declares none), or `DATA`
            (the source's output must be one sample of the data, after `data.preprocessing`).
        input: The name of the target's input when the spec declares none.
        mismatch: The message when the shapes differ: `{made}` (what the source makes) and
            `{wanted}` (what the target takes), shapes as `(None, 64)`.
        hint: The hint of that message.
    """

    source: str
    target: str
    input: str = "input"
    mismatch: str = "the {source} makes {made}, but the {target} takes {wanted}"
    hint: str = ""


@dataclass(frozen=True)
class PartOutput:
    """The one output shape a part must make (without the batch axis), e.g. one score."""

    shape: tuple
    message: str = "the {part} makes {made}; it must make {wanted}"
    hint: str = ""


def _no_loss(task: dict) -> Optional[str]:
    return None


def _no_metrics(task: dict) -> list:
    return []


@dataclass(frozen=True)
class TaskType:
    """One task type (a row of the task table, or a composite paradigm).

    Attributes:
        name: The `task.type` value.
        description: One line for the schema and README: what is learned.
        implementation: `module:Class` of its `specc.paradigms.base.Paradigm` (the Keras side).
        fields: `task:` keys it takes -> their JSON Schema (each with a description).
        required: Fields a spec must give (e.g. `classes` of a multiclass task).
        defaults: Field values `render` fills in when a spec leaves them out.
        parts: Model sections of a composite model (`encoder`, `decoder`); empty for a
            model of `layers:` or `nodes:`.
        feeds: The part the data feeds (its `inputs:`, else `model.inputs`, are the data's
            shape); None: the model itself (a model of `layers:`/`nodes:`).
        links: How the parts connect, in the order the shape walk follows them.
        part_outputs: Part -> the output shape it must make.
        table_row: The task-table row, for a supervised type (its head and loss are
            checked against it); None for a composite paradigm.
        labels: What training needs of the data's labels: `class_ids` (one class id per
            sample, or one-hot rows with task.encoding), `zero_one` (one 0/1 per sample),
            `zero_one_rows` (a row of 0/1 per sample), `numbers` (finite numbers), or None
            (labels are not used).
        class_labels: Whether the labels name classes (stratified splits, numeric class ids).
        auto_loss: The loss `loss: auto` becomes, from the task: a Keras loss, or `own_loss`.
        own_loss: The name of a loss the paradigm computes itself (no Keras loss of that
            name): `loss:` may name it (render writes it for `loss: auto`).
        auto_metrics: The metrics of a spec that names none.
        fixed_loss: Why the loss is not the spec's to choose (None: it is).
        own_metrics: What the model reports itself when `metrics:` cannot apply.
        optimizer_parts: Networks that may each take their own optimizer.
        best: Which epoch `best.keras` holds: `monitor` (the best value of
            train.checkpoints.monitor) or `last` (the last epoch: losses do not rank it).
        exports: Whether `export:` can write its model (what is written is its paradigm's
            `export_model`: the whole model, or the part worth shipping, e.g. few-shot's
            embedding network).
        kept: The part checkpoints training keeps (named in messages).
        split_by_class: Whether `data.split.by: class` suits it.
        accumulate: Whether it honours `batch.accumulate`.
        distributed: Why it cannot train with `device.strategy: multi_worker` (None: it can;
            specc's own step then runs its `train_step` on every replica).
        checks: Semantic checks of its own (beyond what the fields above imply).
        options: Settings `specc evaluate/predict --with KEY=VALUE` takes -> what each means.
        trees: The XGBoost objective that learns this task with `model: {trees: ...}`
            (specc/tasks/trees.py); None: trees cannot learn it (validate says so).
    """

    name: str
    description: str
    implementation: str
    fields: Mapping[str, dict] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    parts: tuple[str, ...] = ()
    feeds: Optional[str] = None
    links: tuple[Link, ...] = ()
    part_outputs: Mapping[str, PartOutput] = field(default_factory=dict)
    table_row: Optional[str] = None
    labels: Optional[str] = "class_ids"
    class_labels: bool = False
    auto_loss: Callable[[dict], Optional[str]] = _no_loss
    auto_metrics: Callable[[dict], list] = _no_metrics
    own_loss: Optional[str] = None
    fixed_loss: Optional[str] = None
    own_metrics: Optional[str] = None
    optimizer_parts: tuple[str, ...] = ()
    best: str = "monitor"
    exports: bool = True
    kept: tuple[str, ...] = ()
    split_by_class: bool = False
    accumulate: bool = True
    distributed: Optional[str] = None
    checks: tuple[Check, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)
    trees: Optional[str] = None

    @property
    def supervised(self) -> bool:
        """A row of the task table (it can also be one output of `task.outputs`)."""
        return self.table_row is not None

    def fed_part(self, model: Any) -> tuple[dict, tuple]:
        """The network the data feeds and its spec path (the model itself for a non-composite
        type; a part that declares no `inputs:` takes `model.inputs`)."""
        model = model if isinstance(model, dict) else {}
        if self.feeds is None:
            return model, ("model",)
        part = model.get(self.feeds)
        return (part if isinstance(part, dict) else {}), ("model", self.feeds)

    def resolve(self, task: dict) -> dict:
        """The task with this type's defaults filled in (a new dict); a mapping default fills
        the keys a mapping the task gives leaves out (`evaluation: {shots: 1}`)."""
        out = dict(task)
        for key, value in self.defaults.items():
            if key not in task:
                out[key] = dict(value) if isinstance(value, dict) else value
            elif isinstance(value, dict) and isinstance(task[key], dict):
                out[key] = {**value, **task[key]}
        return out
