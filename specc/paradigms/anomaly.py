"""Anomaly detection with an autoencoder: a sample it reconstructs badly is unlike what it
was trained on.

- The score of a sample is its reconstruction error: the mean squared difference between the
  sample and its reconstruction, in the units the data was given in (the reconstruction is
  mapped back through data.preprocessing when its layers can be undone: rescaling and
  normalization); otherwise in the model's units, after data.preprocessing, and the run says
  which.
- The threshold is chosen once, after training, on the validation split: a percentile of its
  errors, or the error that flags a target share of it (its false-positive rate when the
  validation split holds normal samples only); the run keeps it (record.json `paradigm`).
- Evaluated on data with labels and knowing which classes are normal (the spec's
  `task.anomaly.normal`, `--with normal=[...]`, else the classes the model was trained on):
  ROC AUC of the score, precision and recall of the flag at the threshold.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from specc.data.feed import predict_arrays
from specc.data.table import Table
from specc.errors import DataError, UsageError
from specc.paradigms._common import PREPROCESS, input_array

DEFAULT_PERCENTILE = 95.0


def errors(model: Any, table: Table) -> tuple[np.ndarray, str]:
    """Per-sample reconstruction errors of a table, and the units they are in."""
    x = input_array(table, model.inputs[0])
    reconstruction = np.asarray(predict_arrays(model, x), dtype=np.float64)
    undo = _inverse(model)
    if undo is None:
        target = _preprocessed(model, x)
        return _mean_square(target - reconstruction), "the model's units (after data.preprocessing)"
    return _mean_square(x.astype(np.float64) - undo(reconstruction)), "the data's units"


def _mean_square(difference: np.ndarray) -> np.ndarray:
    return np.mean(np.square(difference.reshape(len(difference), -1)), axis=1)


def _preprocessed(model: Any, x: np.ndarray) -> np.ndarray:
    try:
        layer = model.get_layer(PREPROCESS)
    except ValueError:
        return x.astype(np.float64)
    return np.asarray(layer.predict(x, verbose=0, batch_size=256), dtype=np.float64)


def _inverse(model: Any) -> Any:
    """A function mapping the model's units back to the data's, or None when a preprocessing
    layer cannot be undone."""
    try:
        preprocess = model.get_layer(PREPROCESS)
    except ValueError:
        return lambda y: y
    steps = []
    for layer in preprocess.layers[1:]:
        kind = type(layer).__name__
        if kind == "Rescaling":
            steps.append(lambda y, s=float(layer.scale), o=float(layer.offset): (y - o) / s)
        elif kind == "Normalization":
            mean = np.asarray(layer.mean, dtype=np.float64)
            std = np.sqrt(np.maximum(np.asarray(layer.variance, dtype=np.float64), 1e-12))
            steps.append(lambda y, m=mean, d=std: y * d.reshape(y.shape[1:]) + m.reshape(y.shape[1:]))
        else:
            return None

    def undo(y: np.ndarray) -> np.ndarray:
        for step in reversed(steps):
            y = step(y)
        return y

    return undo


# --- the threshold ------------------------------------------------------------------------------

def threshold(validation_errors: np.ndarray, rule: dict) -> tuple[float, str]:
    """The threshold a rule picks on the validation split's errors, and the rule in words."""
    if "false_positive_rate" in rule:
        rate = float(rule["false_positive_rate"])
        return float(np.quantile(validation_errors, 1.0 - rate)), \
            f"flags {rate:.1%} of the validation split (its false-positive rate if it is all normal)"
    percentile = float(rule.get("percentile", DEFAULT_PERCENTILE))
    return float(np.percentile(validation_errors, percentile)), \
        f"the {percentile:g}th percentile of the validation split's errors"


def state_after_training(model: Any, validation: Optional[Table], task: dict) -> dict:
    """What the run keeps: the threshold, how it was chosen, the units of the errors."""
    if validation is None or len(validation) == 0:
        return {"anomaly": {"threshold": None, "rule": "no validation split: no threshold was chosen"}}
    scores, units = errors(model, validation)
    rule = (task.get("anomaly") or {}).get("threshold") or {"percentile": DEFAULT_PERCENTILE}
    value, words = threshold(scores, rule)
    return {"anomaly": {"threshold": value, "rule": words, "units": units,
                        "validation_error_median": float(np.median(scores))}}


# --- evaluation -------------------------------------------------------------------------------------

def normal_classes(table: Table, context: Any) -> Optional[list]:
    """Which class ids are normal: --with normal=[...], else task.anomaly.normal, else the
    classes of the training split (names are matched to ids through the data's class names).
    None when the data has no labels to tell the kinds apart."""
    if table.labels is None or isinstance(table.labels, dict):
        return None
    given = context.options.get("normal")
    if given is None:
        given = ((context.resolved.get("task") or {}).get("anomaly") or {}).get("normal")
    if given is None and context.train is not None and context.train.labels is not None \
            and not isinstance(context.train.labels, dict):
        return sorted(int(c) for c in np.unique(np.asarray(context.train.labels)))
    if given is None:
        return None
    return [_class_id(c, table) for c in (given if isinstance(given, list) else [given])]


def _class_id(value: Any, table: Table) -> int:
    """The id of a normal class given by name or id; an id the data does not have is refused
    as a name is (else the figures that need both kinds would silently be left out)."""
    names = list(table.class_names or [])
    if isinstance(value, str) and value in names:
        return names.index(value)
    ids = _class_ids(table)
    number = _whole_number(value)
    if number is None or number not in ids:
        known = ", ".join(names) if names else ", ".join(map(str, ids))
        if names and names != [str(i) for i in ids]:
            known += f" (ids 0..{len(names) - 1})"
        raise UsageError(f"normal class {value!r} is not a class of {table.origin}",
                         f"the classes: {known or 'none (the data has no labels)'}")
    return number


def _whole_number(value: Any) -> Optional[int]:
    """10 or "10" -> 10; anything else (1.5, true, "ten") -> None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _class_ids(table: Table) -> list:
    """The class ids of the data: one per class name, else those its labels hold."""
    if table.class_names:
        return list(range(len(table.class_names)))
    labels = table.labels
    if labels is None or isinstance(labels, dict):
        return []
    return sorted(int(c) for c in np.unique(np.asarray(labels).reshape(len(labels), -1)[:, 0]))


def figures(scores: np.ndarray, table: Table, limit: Optional[float], normal: Optional[list]) -> dict:
    """ROC AUC, precision and recall at the threshold, the share flagged; what can be known."""
    out: dict = {"reconstruction_error": float(np.mean(scores))}
    if limit is not None:
        out["flagged"] = float(np.mean(scores > limit))
    labels = table.labels
    if normal is None or labels is None or isinstance(labels, dict):
        return out
    anomalous = ~np.isin(np.asarray(labels).reshape(len(labels), -1)[:, 0], normal)
    out["anomalies"] = float(np.mean(anomalous))
    if anomalous.all() or not anomalous.any():
        return out  # one kind only: no AUC
    from sklearn.metrics import roc_auc_score

    out["roc_auc"] = float(roc_auc_score(anomalous, scores))
    if limit is not None:
        flagged = scores > limit
        hits = int(np.sum(flagged & anomalous))
        out["precision"] = hits / max(1, int(np.sum(flagged)))
        out["recall"] = hits / max(1, int(np.sum(anomalous)))
    return out


def check_labels_for(table: Table) -> None:
    if table.labels is None:
        raise DataError(f"{table.origin}: the data has no labels, so which samples are anomalies cannot be known",
                        "evaluate on data with labels, or use specc predict for the scores")
