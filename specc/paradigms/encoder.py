"""What every encoder-trained paradigm shares: the spec's network is an encoder (an embedding
network) that a paradigm's own step trains, e.g. the few-shot paradigm's prototypical
episodes (specc/paradigms/few_shot.py), or a metric-learning paradigm's pairs.

`EncoderParadigm` builds the spec's network, wraps it in the paradigm's `EncoderModel`,
compiles the optimizer alone (the loss is the step's), adapts `data.preprocessing` inside the
encoder and keeps it as `embedding.keras`. `EncoderModel` is the keras.Model around it: its
config (the encoder, the evaluation settings and the subclass's own), the trackers of the
figures its step reports, and a train step on the encoder's variables. A subclass writes
`figures` (a batch -> its loss and other figures) and what it keeps in its config.
"""
from __future__ import annotations

from typing import Any, ClassVar

import keras

from specc.data.table import Table
from specc.paradigms._common import input_array, regularization
from specc.paradigms.base import Paradigm, Where

PART = "embedding"  # the name the encoder is kept under (checkpoints/embedding.keras)


class EncoderParadigm(Paradigm):
    """A network trained by the paradigm's own step; keeps the encoder beside the checkpoints."""

    keras_train_step = False  # its own train step (not tried with XLA)
    keeps_parts = True

    def build(self, resolved: dict, where: Where = None) -> Any:
        from specc.compile.graph import build

        return self.wrap(build(resolved, where), resolved)

    def wrap(self, encoder: Any, resolved: dict) -> Any:
        """The paradigm's `EncoderModel` around the built encoder."""
        raise NotImplementedError

    def network(self, model: Any) -> Any:
        return model.embedding

    def adapt(self, model: Any, table: Table) -> list[str]:
        from specc.compile.preprocessing import adapt_preprocessing

        return adapt_preprocessing(model.embedding, input_array(table, model.inputs[0]))

    def compile(self, model: Any, resolved: dict, total_steps: int, steps_per_execution: int = 1,
                jit_compile: bool = False, where: Where = None) -> Any:
        """The optimizer alone: the loss is the paradigm's step's."""
        from specc.compile.training import make_optimizer

        optimizer = make_optimizer(resolved["optimizer"], resolved.get("schedule"), total_steps, where,
                                   accumulate=int(resolved["batch"].get("accumulate", 1)))
        model.compile(optimizer=optimizer, steps_per_execution=int(steps_per_execution),
                      jit_compile=bool(jit_compile))
        return model

    def parts(self, model: Any) -> dict:
        return {PART: model.embedding}

    def export_model(self, model: Any) -> Any:
        """The encoder: the trained step around it does not run where the export is used."""
        return model.embedding


class EncoderModel(keras.Model):
    """A keras.Model around an encoder that its own step trains.

    Class attributes a subclass sets:
        tracked: The figures its step reports beside `loss` (each has a `<name>_tracker`).
        evaluation_defaults: The evaluation settings of a checkpoint that stored none.
    """

    tracked: ClassVar[tuple[str, ...]] = ()
    evaluation_defaults: ClassVar[dict] = {}

    def __init__(self, embedding: Any, evaluation: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(embedding, dict):
            embedding = keras.saving.deserialize_keras_object(embedding)
        self.embedding = embedding
        # a checkpoint of an older run stored none: its evaluation is the defaults
        self.evaluation = {**self.evaluation_defaults, **(evaluation or {})}
        self.loss_tracker = keras.metrics.Mean(name="loss")
        for name in self.tracked:  # attributes, so that checkpoints keep their names
            setattr(self, f"{name}_tracker", keras.metrics.Mean(name=name))
        self.built = True

    def get_config(self) -> dict:
        return {"name": self.name, "embedding": keras.saving.serialize_keras_object(self.embedding),
                **self.own_config(), "evaluation": dict(self.evaluation)}

    def own_config(self) -> dict:
        """The subclass's settings in its config (its `__init__` takes them back)."""
        return {}

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> Any:
        return cls(**config)

    @property
    def inputs(self) -> Any:
        return self.embedding.inputs

    @property
    def output_names(self) -> list:
        return [PART]

    @property
    def metrics(self) -> list:
        return [self.loss_tracker] + [getattr(self, f"{name}_tracker") for name in self.tracked]

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.embedding(inputs, training=training)

    def figures(self, data: Any, training: bool) -> tuple:
        """(loss, the figures of `tracked` in order) of one batch."""
        raise NotImplementedError

    def train_step(self, data: Any) -> dict:
        import tensorflow as tf

        variables = self.embedding.trainable_variables
        with tf.GradientTape() as tape:
            figures = self.figures(data, training=True)
            total = figures[0] + regularization(self.embedding)
        self.optimizer.apply(tape.gradient(total, variables), variables)
        return self._track(figures)

    def test_step(self, data: Any) -> dict:
        return self._track(self.figures(data, training=False))

    def _track(self, figures: tuple) -> dict:
        for metric, value in zip(self.metrics, figures):
            metric.update_state(value)
        return {m.name: m.result() for m in self.metrics}
