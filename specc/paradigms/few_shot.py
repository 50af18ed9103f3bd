"""The few-shot paradigm (task `few_shot`, declared in specc/tasks/few_shot.py): prototypical
networks (Snell et al. 2017) around the spec's embedding network.

A training step is one episode (`ways` classes, `shots` support and `queries` query samples
each, from the training classes and the rotated classes `task.augment` makes of them): the
prototypes are the mean support embeddings, the logits the negative squared euclidean
distances of the queries to them, the loss softmax cross-entropy; `accuracy` is the episode
accuracy. Evaluation draws its own episodes (`task.evaluation`, or `--with` settings) and
reports their mean accuracy with a 95% confidence interval, beside the accuracy of raw-input
prototypes on the same episodes. `specc predict --with support=...` classifies by the nearest
prototype of a support set. `specc compile` shows the embedding network and how it is trained.
What any encoder-trained paradigm does (compile, adapt, the wrapped encoder's config,
trackers and train step) is specc/paradigms/encoder.py's.
"""
from __future__ import annotations

from typing import Any, Optional

import keras
import numpy as np
from keras import ops

from specc.data.feed import Feed
from specc.data.table import Table
from specc.errors import UsageError
from specc.paradigms._common import call_text, input_array, schedule_lines, training_lines_replaced, unpack
from specc.paradigms.base import Context, Where
from specc.paradigms.encoder import EncoderModel, EncoderParadigm
from specc.paradigms.episodes import episode_dataset, episode_feed, evaluation_episodes
from specc.paradigms.prototypes import episode_figures, nearest_prototype
from specc.paradigms.support import load_support
from specc.tasks.few_shot import EVALUATION_DEFAULTS, evaluation_settings


class FewShotParadigm(EncoderParadigm):
    """Episodes of unseen classes, classified by the nearest prototype; keeps embedding.keras."""

    def wrap(self, encoder: Any, resolved: dict) -> "ProtoNet":
        task = resolved["task"]
        rotations = (task.get("augment") or {}).get("rotations") or []
        return ProtoNet(encoder, ways=task.get("ways", 5), shots=task.get("shots", 1),
                        queries=task.get("queries", 5), episodes=task.get("episodes", 100),
                        seed=resolved.get("seed", 0), evaluation=evaluation_settings(task),
                        rotations=list(rotations), name=resolved.get("name", "protonet"))

    def training_feed(self, model: Any, table: Table, batch: dict, seed: int, first_epoch: int,
                      epochs: int) -> Feed:
        return episode_feed(table, model, first_epoch, epochs)

    def evaluation_data(self, model: Any, table: Table, batch_size: int = 256) -> Any:
        """The evaluation episodes of a split through the model's test step (validation during
        training: val_accuracy is the accuracy `evaluate` reports for that split)."""
        x = input_array(table, model.inputs[0])
        return episode_dataset(x, evaluation_episodes(table, model.evaluation))

    def evaluate(self, model: Any, table: Table, context: Context) -> dict:
        """loss, accuracy and accuracy_ci95 over the evaluation episodes, and the accuracy of
        raw-input prototypes on the same episodes (baseline_accuracy, baseline_accuracy_ci95).

        Raises:
            UsageError: `--with support` (a predict setting) or an evaluation setting out of range.
        """
        if "support" in context.options:
            raise UsageError("--with support is a setting of specc predict",
                             "evaluate takes --with ways=, shots=, queries=, episodes=, seed=")
        task = (context.resolved or {}).get("task") or {"evaluation": model.evaluation}
        episodes = evaluation_episodes(table, evaluation_settings(task, context.options), tuple(context.options))
        x = input_array(table, model.inputs[0])
        return episode_figures(embed(model, x), x, episodes)

    def predict(self, model: Any, table: Table, context: Context) -> Optional[dict]:
        """With `--with support=...`: the support class nearest each sample in the embedding
        (`predicted`), its euclidean distance to every class prototype (`distance_<class>`) and
        the softmax of the negative squared distances (`probability_<class>`). Without: None
        (the embeddings are written).

        Raises:
            UsageError: An evaluation setting given to predict.
            DataError: The support set cannot be read or has fewer than 2 classes.
        """
        others = [key for key in context.options if key != "support"]
        if others:
            raise UsageError(f"--with {others[0]} is a setting of specc evaluate",
                             "predict takes --with support=FILE (labelled examples of the classes)")
        if "support" not in context.options:
            return None
        shape = [int(d) if d is not None else 0 for d in tuple(model.inputs[0].shape)[1:]]
        if "support" not in context.loaded:  # read once per context: a server predicts many batches
            context.loaded["support"] = load_support(context.options["support"], shape)
        support, ids, names = context.loaded["support"]
        index, distances, probabilities = nearest_prototype(
            embed(model, input_array(table, model.inputs[0])), embed(model, input_array(support, model.inputs[0])),
            ids)
        columns: dict = {"predicted": np.array([names[i] for i in index])}
        columns.update({f"distance_{name}": np.sqrt(distances[:, i]) for i, name in enumerate(names)})
        columns.update({f"probability_{name}": probabilities[:, i] for i, name in enumerate(names)})
        return columns

    def summary(self, model: Any, resolved: dict, where: Where = None,
                total_steps: Optional[int] = None) -> str:
        from specc.compile.summary import summarize

        task = resolved["task"]
        rotations = (task.get("augment") or {}).get("rotations") or []
        more = (f", from the training classes and their rotations by {', '.join(map(str, rotations))} degrees "
                f"({len(rotations) + 1}x the classes)") if rotations else ""
        scored = evaluation_settings(task)
        lines = [f"Training: prototypical networks, {task.get('ways', 5)}-way {task.get('shots', 1)}-shot "
                 f"episodes with {task.get('queries', 5)} queries per class, {task.get('episodes', 100)} "
                 f"per epoch{more} (the model above is the embedding network)",
                 f"Evaluation: {scored['episodes']} episodes, {scored['ways']}-way {scored['shots']}-shot with "
                 f"{scored['queries']} queries per class (seed {scored['seed']}), beside raw-input prototypes",
                 "Loss: softmax cross-entropy over negative squared distances to the class prototypes",
                 "Metrics: accuracy (per episode)",
                 f"Optimizer: {call_text(resolved.get('optimizer'))}"] + schedule_lines(resolved)
        return training_lines_replaced(summarize(model.embedding, resolved, where, total_steps), lines)


def embed(model: Any, x: np.ndarray) -> np.ndarray:
    """The embedding of every sample (inference mode: each sample on its own)."""
    return np.asarray(model.embedding.predict(x, batch_size=256, verbose=0))


@keras.saving.register_keras_serializable(package="specc")
class ProtoNet(EncoderModel):
    """Prototypical networks around an embedding network; one batch is one episode:
    x = {"support": (ways, shots, ...) samples, "query": ways*queries samples (class by class)},
    y = the episode's class index (0..ways-1) of each query. Training and evaluation episodes
    may differ in ways and shots: the support's shape says them."""

    tracked = ("accuracy",)
    evaluation_defaults = EVALUATION_DEFAULTS

    def __init__(self, embedding: Any, ways: int = 5, shots: int = 1, queries: int = 5, episodes: int = 100,
                 seed: int = 0, evaluation: Optional[dict] = None, rotations: Optional[list] = None,
                 **kwargs: Any):
        super().__init__(embedding, evaluation, **kwargs)
        self.ways, self.shots, self.queries = int(ways), int(shots), int(queries)
        self.episodes, self.seed = int(episodes), int(seed)
        self.rotations = [int(r) for r in rotations or []]  # an older checkpoint has none

    def own_config(self) -> dict:
        return {"ways": self.ways, "shots": self.shots, "queries": self.queries,
                "episodes": self.episodes, "seed": self.seed, "rotations": list(self.rotations)}

    def episode_logits(self, support: Any, query: Any, training: bool = False) -> Any:
        """-(squared euclidean distance) of each query to each class prototype."""
        ways, shots = ops.shape(support)[0], ops.shape(support)[1]
        samples = ops.reshape(support, (-1,) + tuple(query.shape[1:]))
        embedded = self.embedding(ops.concatenate([samples, query], axis=0), training=training)
        width = 1
        for dim in tuple(embedded.shape)[1:]:
            width *= int(dim)
        embedded = ops.reshape(embedded, (-1, width))
        count = ways * shots
        prototypes = ops.mean(ops.reshape(embedded[:count], (ways, shots, width)), axis=1)
        queries = embedded[count:]
        distances = ops.sum(ops.square(ops.expand_dims(queries, 1) - ops.expand_dims(prototypes, 0)), axis=-1)
        return -distances

    def figures(self, data: Any, training: bool) -> tuple:
        """The episode's loss and accuracy."""
        x, y, _ = unpack(data)
        logits = self.episode_logits(x["support"], x["query"], training=training)
        loss = ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        right = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(y, "int64")), "float32")
        return loss, ops.mean(right)
