"""The one protocol every paradigm (the Keras side of a task type) offers.

The training flow (specc/run), evaluation, prediction and export call only these methods,
never a task-type name: a new paradigm is a declaration in specc/tasks/, a subclass of
`Paradigm` here, and one line in specc/registries.py.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from specc.data.feed import Feed, eval_dataset, model_arrays, training_feed
from specc.data.table import Table
from specc.tasks.base import TaskType

Where = Optional[Callable[[tuple], Any]]


class Paradigm:
    """How one task type is built, fed, compiled, evaluated and kept.

    The defaults are those of a supervised model (inputs -> outputs, labels as targets);
    composite paradigms override what differs.
    """

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

    # --- evaluating, predicting and keeping ------------------------------------------------------------

    def evaluation_data(self, model: Any, table: Table, batch_size: int = 256) -> Any:
        """A split as `model.evaluate` takes it (unshuffled; the same every time)."""
        return eval_dataset(table, model, batch_size)

    def parts(self, model: Any) -> dict:
        """Name -> standalone functional model to keep beside the checkpoints ({}: none)."""
        return {}

    def summary(self, model: Any, resolved: dict, where: Where = None,
                total_steps: Optional[int] = None) -> str:
        """What `specc compile` prints: layers with spec locations, shapes, parameters, training."""
        from specc.compile.summary import summarize

        return summarize(model, resolved, where, total_steps)
