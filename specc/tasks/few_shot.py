"""The few_shot task type: prototypical networks, trained and evaluated in episodes.

Its Keras side is specc/paradigms/few_shot.py. No TensorFlow here.
"""
from __future__ import annotations

from specc.tasks.base import TaskType


def _episode_loss(task: dict) -> str:  # softmax over -(squared distance to each class prototype)
    return "sparse_categorical_crossentropy"


FIELDS: dict[str, dict] = {
    "method": {"description": "few_shot: the meta-learning method (default prototypical: prototypical networks).",
               "enum": ["prototypical"]},
    "ways": {"description": "few_shot: classes per episode (default 5).", "type": "integer", "minimum": 2},
    "shots": {"description": "few_shot: support examples per class (default 1).", "type": "integer",
              "minimum": 1},
    "queries": {"description": "few_shot: query examples per class (default 5).", "type": "integer",
                "minimum": 1},
    "episodes": {"description": "few_shot: episodes per epoch, and per evaluation of a split (default 100).",
                 "type": "integer", "minimum": 1},
}

FEW_SHOT = TaskType(
    name="few_shot",
    description="classify classes never seen in training from a few examples each (prototypical networks)",
    implementation="specc.paradigms.few_shot:FewShotParadigm",
    fields=FIELDS,
    defaults={"method": "prototypical", "ways": 5, "shots": 1, "queries": 5, "episodes": 100},
    class_labels=True,
    auto_loss=_episode_loss,
    fixed_loss="softmax cross-entropy over the negative squared distances to the class prototypes",
    own_metrics="the episode accuracy",
    exports=False,
    kept=("embedding",),
    split_by_class=True,
)
