"""The supervised task types: the task table (which head, output activation and loss each
kind of task takes) and the four rows' declarations.

Pure data and small functions, no TensorFlow: validation, `render` and `compile` all
read this one table, so what `auto` becomes is decided in exactly one place.

| task       | output units   | output activation                     | loss (auto)                   |
|------------|----------------|---------------------------------------|-------------------------------|
| binary     | 1              | sigmoid                               | binary_crossentropy           |
| multilabel | 1 per label    | sigmoid                               | binary_crossentropy           |
| multiclass | 1 per class    | softmax                               | sparse_categorical_crossentropy (class ids) / categorical_crossentropy (one-hot) |
| regression | 1 per target   | linear (softplus if positive, sigmoid if in [0, 1], tanh if in [-1, 1]) | mean_squared_error (huber with outliers) |
"""
from __future__ import annotations

from typing import Any, Optional

from specc.tasks.base import TaskType

CLASSIFICATION = ("binary", "multilabel", "multiclass")
SUPERVISED = CLASSIFICATION + ("regression",)

RANGE_ACTIVATION = {"any": "linear", "positive": "softplus", "unit": "sigmoid", "symmetric": "tanh"}

# Losses that fit each task row (names as Keras spells them, plus its short aliases).
COMPATIBLE_LOSSES = {
    "binary": {"binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"},
    "multilabel": {"binary_crossentropy", "binary_focal_crossentropy"},
    "multiclass": {"sparse_categorical_crossentropy", "categorical_crossentropy",
                   "categorical_focal_crossentropy", "categorical_hinge", "kl_divergence", "kld"},
    "regression": {"mean_squared_error", "mse", "mean_absolute_error", "mae", "huber", "log_cosh",
                   "mean_squared_logarithmic_error", "msle", "mean_absolute_percentage_error", "mape"},
}

COMPATIBLE_ACTIVATIONS: dict[str, set[Optional[str]]] = {
    "binary": {"sigmoid"},
    "multilabel": {"sigmoid"},
    "multiclass": {"softmax"},
    "regression": {"linear", None, "relu", "softplus", "sigmoid", "tanh", "exponential"},
}

# What a metric needs of the labels (Keras names and aliases). The labels specc feeds are
# one class id per sample (multiclass, encoding: sparse), one value per sample (binary;
# regression with one target) or a row per sample of the output's width (one-hot,
# multilabel, regression with several targets). Metrics left out of these sets take all three.
CLASS_ID_METRICS = {"accuracy", "acc", "crossentropy", "ce", "sparse_categorical_accuracy",
                    "sparse_categorical_crossentropy", "sparse_top_k_categorical_accuracy", "io_u", "mean_io_u"}
SPARSE_METRICS = {"sparse_categorical_accuracy", "sparse_categorical_crossentropy",
                  "sparse_top_k_categorical_accuracy"}  # class ids, against one output unit per class
# Keras compares these with labels of the output's rank, without reshaping one value per sample.
SAME_RANK_METRICS = {"binary_crossentropy", "bce", "categorical_crossentropy", "f1_score", "f_beta_score",
                     "top_k_categorical_accuracy"}

TABLE_ROWS = {
    "binary": "binary: 1 unit, sigmoid, binary_crossentropy",
    "multilabel": "multilabel: 1 unit per label, sigmoid, binary_crossentropy",
    "multiclass": "multiclass: 1 unit per class, softmax, sparse_categorical_crossentropy "
                  "(class ids) or categorical_crossentropy (one-hot)",
    "regression": "regression: 1 unit per target, no activation (softplus/relu if positive, "
                  "sigmoid/tanh if bounded), mean_squared_error (mean_absolute_error/huber with outliers)",
}


def output_units(task: dict) -> Optional[int]:
    """Units of the output layer the table prescribes, or None when it cannot say."""
    kind = task.get("type")
    if kind == "binary":
        return 1
    if kind == "multilabel":
        return task.get("labels")
    if kind == "multiclass":
        return task.get("classes")
    if kind == "regression":
        return task.get("targets", 1)
    return None


def output_activation(task: dict) -> Optional[str]:
    """The output activation of the table's row for this task."""
    kind = task.get("type")
    if kind in ("binary", "multilabel"):
        return "sigmoid"
    if kind == "multiclass":
        return "softmax"
    if kind == "regression":
        return RANGE_ACTIVATION[task.get("range", "any")]
    return None


def auto_loss(task: dict) -> Optional[str]:
    """The loss `loss: auto` stands for."""
    kind = task.get("type")
    if kind in ("binary", "multilabel"):
        return "binary_crossentropy"
    if kind == "multiclass":
        if task.get("encoding", "sparse") == "one_hot":
            return "categorical_crossentropy"
        return "sparse_categorical_crossentropy"
    if kind == "regression":
        return "huber" if task.get("outliers") else "mean_squared_error"
    return None


def auto_head(task: dict) -> Optional[dict]:
    """The head layer `head: auto` stands for, as a layer item."""
    units = output_units(task)
    if units is None:
        return None
    return {"dense": {"units": units, "activation": output_activation(task)}}


def auto_metrics(task: dict) -> list:
    """Metrics that suit the task when the spec names none."""
    kind = task.get("type")
    if kind == "multiclass":
        return ["accuracy"]
    if kind in ("binary", "multilabel"):
        return ["binary_accuracy"]
    if kind == "regression":
        return ["mean_absolute_error"]
    return []


def loss_fits(task: dict, loss: str) -> bool:
    """Whether a named loss belongs to the task's row (unknown task kinds accept anything)."""
    kind: Any = task.get("type")  # spec data: not necessarily a string
    allowed = COMPATIBLE_LOSSES.get(kind)
    if allowed is None:
        return True
    if task.get("type") == "multiclass":
        sparse = task.get("encoding", "sparse") == "sparse"
        if sparse and loss == "categorical_crossentropy":
            return False
        if not sparse and loss == "sparse_categorical_crossentropy":
            return False
    return loss in allowed


def label_form(task: dict) -> Optional[str]:
    """The labels training feeds for this task: `class_ids` (one class id per sample),
    `one_per_sample` (one value per sample) or `rows` (a row per sample as wide as the output);
    None for a task kind outside the table."""
    kind = task.get("type")
    if kind == "multiclass":
        return "class_ids" if task.get("encoding", "sparse") == "sparse" else "rows"
    if kind == "binary" or (kind == "regression" and task.get("targets", 1) == 1):
        return "one_per_sample"
    if kind in ("multilabel", "regression"):
        return "rows"
    return None


def metric_fits(task: dict, metric: str) -> bool:
    """Whether Keras's metric of this name can take the task's labels (see label_form)."""
    form = label_form(task)
    if form == "class_ids":
        return metric in CLASS_ID_METRICS
    if form == "one_per_sample":
        return metric not in SPARSE_METRICS | SAME_RANK_METRICS
    return form is None or metric not in SPARSE_METRICS


# --- the declarations -----------------------------------------------------------------------

IMPLEMENTATION = "specc.paradigms.supervised:Supervised"

BINARY = TaskType(
    name="binary", description="two classes; labels 0/1", implementation=IMPLEMENTATION,
    table_row=TABLE_ROWS["binary"], labels="zero_one", class_labels=True, auto_loss=auto_loss, auto_metrics=auto_metrics,
    trees="binary:logistic")

MULTICLASS = TaskType(
    name="multiclass", description="one of N classes; labels are class ids (or one-hot rows)",
    implementation=IMPLEMENTATION, table_row=TABLE_ROWS["multiclass"], class_labels=True,
    fields={
        "classes": {"description": "multiclass: number of classes.", "type": "integer", "minimum": 2},
        "encoding": {"description": "multiclass labels: sparse (class ids) or one_hot.",
                     "enum": ["sparse", "one_hot"]},
    },
    required=("classes",), defaults={"encoding": "sparse"}, auto_loss=auto_loss, auto_metrics=auto_metrics,
    trees="multi:softprob")

MULTILABEL = TaskType(
    name="multilabel", description="any of N labels; one 0/1 per label", implementation=IMPLEMENTATION,
    table_row=TABLE_ROWS["multilabel"], labels="zero_one_rows", class_labels=True,
    fields={"labels": {"description": "multilabel: number of labels.", "type": "integer", "minimum": 1}},
    required=("labels",), auto_loss=auto_loss, auto_metrics=auto_metrics,
    trees="binary:logistic")  # one logistic output per label (XGBoost's multi-output trees)

REGRESSION = TaskType(
    name="regression", description="one or more numbers", implementation=IMPLEMENTATION,
    table_row=TABLE_ROWS["regression"], labels="numbers",
    fields={
        "targets": {"description": "regression: number of targets (default 1).", "type": "integer",
                    "minimum": 1},
        "range": {"description": "regression: the range of the targets; picks the output activation (any: "
                                 "none; positive: softplus; unit: sigmoid; symmetric: tanh).",
                  "enum": ["any", "positive", "unit", "symmetric"]},
        "outliers": {"description": "regression: are there outliers? (true picks Huber loss for loss: auto).",
                     "type": "boolean"},
    },
    defaults={"targets": 1, "range": "any", "outliers": False}, auto_loss=auto_loss, auto_metrics=auto_metrics,
    trees="reg:squarederror")

TYPES = (BINARY, MULTILABEL, MULTICLASS, REGRESSION)
