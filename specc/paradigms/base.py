"""The one protocol every paradigm (the Keras side of a task type) offers.

The training flow (specc/run), evaluation, prediction and export call only these methods,
never a task-type name: a new paradigm is a declaration in specc/tasks/, a subclass of
`Paradigm` here, and one line in specc/registries.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from specc.data.feed import Feed, eval_dataset, model_arrays, training_feed
from specc.data.table import Table
from specc.tasks.base import TaskType

Where = Optional[Callable[[tuple], Any]]


@dataclass
class Context:
    """What a paradigm's evaluation, prediction and after-training steps may use besides the
    model and the data.

    Attributes:
        resolved: The run's resolved spec.
        train: The training split (baselines are computed on it), when at hand.
        validation: The validation split (thresholds are chosen on it), when at hand.
        state: What the paradigm stored in the run after training (`paradigm` in record.json).
        options: Settings given on the command line for this evaluation or prediction
            (e.g. few-shot `ways`, an autoencoder's `normal` classes).
        record: The run's record.json (its data fingerprint, class names, ...), when
            evaluating or predicting with a trained run; {} otherwise.
        open_run: Opens another run by any reference specc accepts (id, prefix,
            NAME/latest, path; looked up as the command looks up its own run), e.g. the
            classifier a GAN is measured with. What it returns has `resolved`, `record`
            (`read()`, `run_id`) and `load_model(which)`. None outside such a command.
            (Paradigms may not import specc.run: the run layer hands this down.)
        loaded: What a paradigm read from the options once for this context (a few-shot
            support set), so a context that predicts many times (specc serve's) reads it once.
    """

    resolved: dict
    train: Optional[Table] = None
    validation: Optional[Table] = None
    state: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)
    open_run: Optional[Callable[[str], Any]] = None
    loaded: dict = field(default_factory=dict)


class Paradigm:
    """How one task type is built, fed, compiled, evaluated and kept.

    The defaults are those of a supervised model (inputs -> outputs, labels as targets);
    composite paradigms override what differs.
    """

    keras_train_step = True  # Keras trains it with its own train_step (jit: auto may choose XLA)
    keeps_parts = False  # `parts` returns models to keep beside the checkpoints

    def __init__(self, task_type: TaskType):
        self.task_type = task_type

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task_type.name!r})"

    # --- building -------------------------------------------------------------------------------

    def build(self, resolved: dict, where: Where = None) -> Any:
        """The uncompiled keras.Model that trains (a functional model, or a wrapper of one)."""
        from specc.compile.graph import build

        return build(resolved, where)

    def network(self, model: Any) -> Any:
        """The functional network `specc compile` describes and preprocessing lives in."""
        return model

    def adapt(self, model: Any, table: Table) -> list[str]:
        """Adapt the data.preprocessing layers on the training split; their names."""
        from specc.compile.preprocessing import adapt_preprocessing

        network = self.network(model)
        return adapt_preprocessing(network, model_arrays(table, network)[0])

    # --- training ---------------------------------------------------------------------------------

    def training_feed(self, model: Any, table: Table, batch: dict, seed: int, first_epoch: int,
                      epochs: int) -> Feed:
        """Batches for epochs first_epoch..epochs-1, epoch `e` in the seeded order (seed, e)."""
        return training_feed(table, model, batch, seed, first_epoch, epochs)

    def compile(self, model: Any, resolved: dict, total_steps: int, steps_per_execution: int = 1,
                jit_compile: bool = False, where: Where = None) -> Any:
        """Compile with the spec's loss, metrics, optimizer(s) and schedule (in place)."""
        from specc.compile.training import compile_model

        return compile_model(model, resolved, total_steps, steps_per_execution, jit_compile, where)

    def optimizers(self, model: Any) -> list:
        """Every optimizer that trains the model (all of them go into a snapshot)."""
        return [model.optimizer] if getattr(model, "optimizer", None) is not None else []

    def callbacks(self, record: Any, resolved: dict) -> list:
        """Keras callbacks of its own during training (after specc's; e.g. sample grids)."""
        return []

    # --- evaluating, predicting and keeping ------------------------------------------------------------

    def evaluation_data(self, model: Any, table: Table, batch_size: int = 256) -> Any:
        """A split as `model.evaluate` takes it (unshuffled; the same every time)."""
        return eval_dataset(table, model, batch_size)

    def evaluate(self, model: Any, table: Table, context: Context) -> dict:
        """The figures of one split: the compiled metrics, and what a model that learned
        nothing would score (`baseline_...`), so a figure can be judged."""
        values = model.evaluate(self.evaluation_data(model, table), verbose=0, return_dict=True)
        figures = {k: float(v) for k, v in values.items()}
        if context.train is not None:
            figures.update(baselines(table, context.train, context.resolved))
        return figures

    def check_options(self, context: Context) -> None:
        """Refuse a `--with` setting this task type does not take (with did-you-mean).

        Raises:
            UsageError: An unknown setting.
        """
        from specc.errors import UsageError
        from specc.suggest import a_or_an, did_you_mean, one_of

        known = dict(self.task_type.options)
        for key in context.options:
            if key not in known:
                hint = did_you_mean(key, list(known)) or (
                    f"{a_or_an(self.task_type.name)} run takes: {one_of(list(known))}" if known
                    else f"{a_or_an(self.task_type.name)} run takes no --with settings")
                raise UsageError(f"--with {key}: not a setting of {a_or_an(self.task_type.name)} run", hint)

    def after_training(self, model: Any, context: Context) -> dict:
        """What to keep in the run once training is over (record.json `paradigm`), e.g. a
        threshold chosen on the validation split."""
        return {}

    def predict(self, model: Any, table: Table, context: Context) -> Optional[dict]:
        """Column name -> values of a prediction, or None for the model's outputs as the
        task table reads them (classes, probabilities, values)."""
        return None

    def inputs(self, model: Any, table: Table) -> Any:
        """The samples of a table as the model's `predict` takes them (its inputs, by name)."""
        return model_arrays(table, model)[0]

    def parts(self, model: Any) -> dict:
        """Name -> standalone functional model to keep beside the checkpoints ({}: none)."""
        return {}

    def export_model(self, model: Any) -> Any:
        """The Keras model `specc export` writes: the trained model itself, or the part of it
        worth shipping (a few-shot run's embedding network)."""
        return model

    def summary(self, model: Any, resolved: dict, where: Where = None,
                total_steps: Optional[int] = None) -> str:
        """What `specc compile` prints: layers with spec locations, shapes, parameters, training."""
        from specc.compile.summary import summarize

        return summarize(model, resolved, where, total_steps)


# --- what a model that learned nothing scores ----------------------------------------------------

def baselines(table: Table, train: Table, resolved: dict) -> dict:
    """For one output: the accuracy of always answering the training split's most common
    class (classification), or the mean absolute and mean squared errors of always answering
    its mean (regression). Several outputs or other label shapes: none."""
    from specc.registries import task_type

    declared = task_type(resolved.get("task") or {})
    labels, reference = table.labels, train.labels
    if declared is None or labels is None or reference is None or isinstance(labels, dict) \
            or isinstance(reference, dict):
        return {}
    labels, reference = np.asarray(labels), np.asarray(reference)
    if declared.labels == "class_ids" and labels.ndim == 1 and reference.ndim == 1 and len(reference):
        majority = np.bincount(reference.astype(np.int64)).argmax()
        return {"baseline_accuracy": float(np.mean(labels == majority))}
    if declared.labels == "zero_one" and len(reference):
        positive = float(np.mean(reference.reshape(len(reference), -1)[:, 0]) >= 0.5)
        return {"baseline_accuracy": float(np.mean(labels.reshape(len(labels), -1)[:, 0] == positive))}
    if declared.labels == "numbers" and len(reference):
        mean = reference.reshape(len(reference), -1).mean(axis=0)
        difference = labels.reshape(len(labels), -1) - mean
        return {"baseline_mean_absolute_error": float(np.abs(difference).mean()),
                "baseline_mean_squared_error": float(np.square(difference).mean())}
    return {}


# Each baseline figure and whether a higher figure is better (accuracy) or a lower one (errors).
HIGHER_IS_BETTER = {"accuracy": True, "mean_absolute_error": False, "mean_squared_error": False}


def no_better_than_baseline(figures: dict) -> Optional[tuple[str, float, float]]:
    """The split's headline figure when it does not beat its baseline: (name, figure, baseline).

    The headline is the first of HIGHER_IS_BETTER that the split has with its baseline:
    accuracy at or below always answering the most common class, or an error at or above
    always answering the training mean."""
    for name, higher in HIGHER_IS_BETTER.items():
        value, baseline = figures.get(name), figures.get(f"baseline_{name}")
        if value is None or baseline is None:
            continue
        if (value <= baseline) if higher else (value >= baseline):
            return name, float(value), float(baseline)
        return None
    return None
