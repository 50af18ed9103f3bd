"""The few-shot paradigm (task `few_shot`, declared in specc/tasks/few_shot.py): prototypical
networks (Snell et al. 2017) around the spec's embedding network.

A training step is one episode (`ways` classes, `shots` support and `queries` query samples
each): the prototypes are the mean support embeddings, the logits the negative squared
euclidean distances of the queries to them, the loss softmax cross-entropy; `accuracy` is
the episode accuracy. `specc compile` shows the embedding network and how it is trained.
"""
from __future__ import annotations

from typing import Any, Optional

import keras
from keras import ops

from specc.data.feed import Feed
from specc.data.table import Table
from specc.paradigms._common import call_text, input_array, regularization, schedule_lines, \
    training_lines_replaced, unpack
from specc.paradigms.base import Paradigm, Where
from specc.paradigms.episodes import episode_feed, evaluation_episodes


class FewShotParadigm(Paradigm):
    """Episodes of unseen classes, classified by the nearest prototype; keeps embedding.keras."""

    def build(self, resolved: dict, where: Where = None) -> "ProtoNet":
        from specc.compile.graph import build

        task = resolved["task"]
        return ProtoNet(build(resolved, where), ways=task.get("ways", 5), shots=task.get("shots", 1),
                        queries=task.get("queries", 5), episodes=task.get("episodes", 100),
                        seed=resolved.get("seed", 0), name=resolved.get("name", "protonet"))

    def network(self, model: Any) -> Any:
        return model.embedding

    def adapt(self, model: Any, table: Table) -> list[str]:
        from specc.compile.preprocessing import adapt_preprocessing

        return adapt_preprocessing(model.embedding, input_array(table, model.inputs[0]))

    def training_feed(self, model: Any, table: Table, batch: dict, seed: int, first_epoch: int,
                      epochs: int) -> Feed:
        return episode_feed(table, model, first_epoch, epochs)

    def compile(self, model: Any, resolved: dict, total_steps: int, steps_per_execution: int = 1,
                jit_compile: bool = False, where: Where = None) -> Any:
        """The optimizer alone: the loss is the episodes'."""
        from specc.compile.training import make_optimizer

        optimizer = make_optimizer(resolved["optimizer"], resolved.get("schedule"), total_steps, where,
                                   accumulate=int(resolved["batch"].get("accumulate", 1)))
        model.compile(optimizer=optimizer, steps_per_execution=int(steps_per_execution),
                      jit_compile=bool(jit_compile))
        return model

    def evaluation_data(self, model: Any, table: Table, batch_size: int = 256) -> Any:
        return evaluation_episodes(table, model)

    def parts(self, model: Any) -> dict:
        return {"embedding": model.embedding}

    def summary(self, model: Any, resolved: dict, where: Where = None,
                total_steps: Optional[int] = None) -> str:
        from specc.compile.summary import summarize

        task = resolved["task"]
        lines = [f"Training: prototypical networks, {task.get('ways', 5)}-way {task.get('shots', 1)}-shot "
                 f"episodes with {task.get('queries', 5)} queries per class, {task.get('episodes', 100)} "
                 "per epoch (the model above is the embedding network)",
                 "Loss: softmax cross-entropy over negative squared distances to the class prototypes",
                 "Metrics: accuracy (per episode)",
                 f"Optimizer: {call_text(resolved.get('optimizer'))}"] + schedule_lines(resolved)
        return training_lines_replaced(summarize(model.embedding, resolved, where, total_steps), lines)


@keras.saving.register_keras_serializable(package="specc")
class ProtoNet(keras.Model):
    """Prototypical networks around an embedding network; one batch is one episode:
    x = {"support": ways*shots samples (class by class), "query": ways*queries samples},
    y = the episode's class index (0..ways-1) of each query."""

    def __init__(self, embedding: Any, ways: int = 5, shots: int = 1, queries: int = 5, episodes: int = 100,
                 seed: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(embedding, dict):
            embedding = keras.saving.deserialize_keras_object(embedding)
        self.embedding = embedding
        self.ways, self.shots, self.queries = int(ways), int(shots), int(queries)
        self.episodes, self.seed = int(episodes), int(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.built = True

    def get_config(self) -> dict:
        return {"name": self.name, "embedding": keras.saving.serialize_keras_object(self.embedding),
                "ways": self.ways, "shots": self.shots, "queries": self.queries,
                "episodes": self.episodes, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> "ProtoNet":
        return cls(**config)

    @property
    def inputs(self) -> Any:
        return self.embedding.inputs

    @property
    def output_names(self) -> list:
        return ["embedding"]

    @property
    def metrics(self) -> list:
        return [self.loss_tracker, self.accuracy_tracker]

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.embedding(inputs, training=training)

    def episode_logits(self, support: Any, query: Any, training: bool = False) -> Any:
        """-(squared euclidean distance) of each query to each class prototype."""
        count = ops.shape(support)[0]
        embedded = self.embedding(ops.concatenate([support, query], axis=0), training=training)
        width = 1
        for dim in tuple(embedded.shape)[1:]:
            width *= int(dim)
        embedded = ops.reshape(embedded, (-1, width))
        prototypes = ops.mean(ops.reshape(embedded[:count], (-1, self.shots, width)), axis=1)
        queries = embedded[count:]
        distances = ops.sum(ops.square(ops.expand_dims(queries, 1) - ops.expand_dims(prototypes, 0)), axis=-1)
        return -distances

    def _episode(self, data: Any, training: bool) -> tuple:
        x, y, _ = unpack(data)
        logits = self.episode_logits(x["support"], x["query"], training=training)
        loss = ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        right = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(y, "int64")), "float32")
        return loss, ops.mean(right)

    def train_step(self, data: Any) -> dict:
        import tensorflow as tf

        variables = self.embedding.trainable_variables
        with tf.GradientTape() as tape:
            loss, accuracy = self._episode(data, training=True)
            total = loss + regularization(self.embedding)
        self.optimizer.apply(tape.gradient(total, variables), variables)
        return self._track(loss, accuracy)

    def test_step(self, data: Any) -> dict:
        loss, accuracy = self._episode(data, training=False)
        return self._track(loss, accuracy)

    def _track(self, loss: Any, accuracy: Any) -> dict:
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(accuracy)
        return {m.name: m.result() for m in self.metrics}
