"""The few_shot task type: prototypical networks, trained and evaluated in episodes.

Its Keras side is specc/paradigms/few_shot.py. No TensorFlow here.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from specc.errors import UsageError
from specc.spec_data import items, mapping
from specc.spec_data import problem as _p
from specc.tasks.base import TaskType

if TYPE_CHECKING:
    from specc.load.document import Document


def _episode_loss(task: dict) -> str:  # softmax over -(squared distance to each class prototype)
    return "sparse_categorical_crossentropy"


def _count(description: str, minimum: int = 1) -> dict:
    return {"description": description, "type": "integer", "minimum": minimum}


EVALUATION: dict = {
    "description": "few_shot: the evaluation episodes (validation, test, `specc evaluate`), fixed apart from "
                   "training's: runs with other seeds or other training episodes are scored on the same ones. "
                   "`specc evaluate RUN --with shots=1` changes them for one evaluation.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ways": _count("Classes per evaluation episode (default 5; at most the split's classes).", 2),
        "shots": _count("Support examples per class (default 5)."),
        "queries": _count("Query examples per class (default 15; fewer when a class has too few samples)."),
        "episodes": _count("Episodes per evaluation (default 1000): the accuracy is their mean, with a 95% "
                           "confidence interval of 1.96 * std / sqrt(episodes)."),
        "seed": _count("Seed of the evaluation episodes (default 0); not the spec's seed.", 0),
    },
}

AUGMENT: dict = {
    "description": "few_shot: more training classes, made from the training split's own: rotations: [90, 180, "
                   "270] adds each class turned by 90, 180 and 270 degrees as three new classes (4x the classes "
                   "of the training episodes). Image-shaped inputs ([height, width] or [height, width, channels]); "
                   "evaluation uses the real classes only.",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "rotations": {"description": "Angles in degrees, counter-clockwise; each makes a new class of every "
                                     "training class.",
                      "type": "array", "items": {"enum": [90, 180, 270]}, "uniqueItems": True},
    },
}

FIELDS: dict[str, dict] = {
    "method": {"description": "few_shot: the meta-learning method (default prototypical: prototypical networks).",
               "enum": ["prototypical"]},
    "ways": _count("few_shot: classes per training episode (default 5).", 2),
    "shots": _count("few_shot: support examples per class in a training episode (default 1)."),
    "queries": _count("few_shot: query examples per class in a training episode (default 5)."),
    "episodes": _count("few_shot: training episodes per epoch (default 100); several epochs of fewer episodes "
                       "draw learning curves."),
    "evaluation": EVALUATION,
    "augment": AUGMENT,
}

EVALUATION_DEFAULTS = {"ways": 5, "shots": 5, "queries": 15, "episodes": 1000, "seed": 0}

OPTIONS = {
    "ways": "evaluate: classes per evaluation episode (default: task.evaluation.ways)",
    "shots": "evaluate: support examples per class, e.g. shots=1 (default: task.evaluation.shots)",
    "queries": "evaluate: query examples per class (default: task.evaluation.queries)",
    "episodes": "evaluate: how many evaluation episodes (default: task.evaluation.episodes)",
    "seed": "evaluate: seed of the evaluation episodes (default: task.evaluation.seed)",
    "support": "predict: labelled examples of the classes to tell apart: an .npz with x and y, a folder "
               "with one sub-folder of images per class, or a data source mapping such as "
               "{csv: {path: support.csv, label: digit}}",
}


def evaluation_settings(task: dict, options: Optional[dict] = None) -> dict:
    """The evaluation episodes' ways, shots, queries, episodes and seed: the defaults, then
    `task.evaluation`, then `specc evaluate --with` settings.

    Raises:
        UsageError: A --with setting that is not a whole number in its range.
    """
    settings = {**EVALUATION_DEFAULTS, **mapping(task.get("evaluation"))}
    for key, value in (options or {}).items():
        if key not in EVALUATION_DEFAULTS:
            continue
        least = EVALUATION["properties"][key]["minimum"]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise UsageError(f"--with {key}={value}: expected a whole number of at least {least}",
                             f"e.g. --with {key}={max(least, EVALUATION_DEFAULTS[key] if key != 'seed' else 1)}")
        settings[key] = value
    return settings


def input_shape(model: Any) -> Optional[list]:
    """The shape of one sample of a model of one input (None: several inputs, or unknown)."""
    inputs = mapping(mapping(model).get("inputs"))
    if len(inputs) != 1:
        return None
    value = next(iter(inputs.values()))
    shape = mapping(value).get("shape") if isinstance(value, dict) else value
    return list(shape) if isinstance(shape, list) else None


def check_augment(doc: Document) -> list:
    """Rotations need image-shaped samples, square ones for quarter turns."""
    rotations = items(mapping(mapping(doc.data.get("task")).get("augment")).get("rotations"))
    if not rotations:
        return []
    where = ("task", "augment", "rotations")
    if not isinstance(doc.data.get("model"), dict):
        return []  # the missing model is its own error
    shape = input_shape(doc.data.get("model"))
    if shape is None or len(shape) not in (2, 3):
        found = f"[{', '.join(map(str, shape))}]" if shape is not None else "not one input of a known shape"
        return [_p(doc, where, f"rotations turn images: the model's input must be [height, width] or "
                   f"[height, width, channels], found {found}",
                   "e.g. model.inputs: {image: [8, 8, 1]} (a flat row of 64 pixels is reshaped to it)",
                   code="task")]
    height, width = shape[0], shape[1]
    quarter = [r for r in rotations if r in (90, 270)]
    if quarter and isinstance(height, int) and isinstance(width, int) and height != width:
        return [_p(doc, where, f"a {quarter[0]}-degree rotation of a {height}x{width} image is {width}x{height}, "
                   "not the model's input shape", "use rotations: [180] for images that are not square",
                   code="task")]
    return []


FEW_SHOT = TaskType(
    name="few_shot",
    description="classify classes never seen in training from a few examples each (prototypical networks)",
    implementation="specc.paradigms.few_shot:FewShotParadigm",
    fields=FIELDS,
    defaults={"method": "prototypical", "ways": 5, "shots": 1, "queries": 5, "episodes": 100,
              "evaluation": EVALUATION_DEFAULTS},
    class_labels=True,
    auto_loss=_episode_loss,
    fixed_loss="softmax cross-entropy over the negative squared distances to the class prototypes",
    own_metrics="the episode accuracy",
    distributed="an episode (support and query sets) is one batch that cannot be split over workers",
    kept=("embedding",),
    split_by_class=True,
    checks=(check_augment,),
    options=OPTIONS,
)
