"""Gradient-boosted trees as a model kind: `model: {trees: {...}}`, declared without XGBoost.

A spec whose model is `trees:` trains an XGBoost booster instead of a Keras network, on the
same data path, splits, run record and commands. What the core needs of it lives here: the
hyperparameters (their JSON Schema, which `tools/bundle_schema.py` writes into
`$defs/trees`, so validate checks types, ranges and choices and suggests a mistyped key
without importing XGBoost) and the defaults render fills in. Which task types trees can
learn is each `TaskType`'s `trees` field (the XGBoost objective), not a list here.
"""
from __future__ import annotations

from typing import Any

FORM = "trees"  # the key of `model:` that makes a spec a trees spec

_POSITIVE_INT = {"type": "integer", "minimum": 1}
_NONNEGATIVE = {"type": "number", "minimum": 0}
_FRACTION = {"type": "number", "exclusiveMinimum": 0, "maximum": 1}

# name -> (schema, default); names and meanings are XGBoost's own, so its documentation applies.
PARAMS: dict[str, tuple[dict, Any]] = {
    "rounds": ({**_POSITIVE_INT, "maximum": 100000,
                "description": "Boosting rounds (trees per output); early stopping may stop sooner."}, 200),
    "max_depth": ({"type": "integer", "minimum": 0, "maximum": 64,
                   "description": "Deepest a tree grows (0: no limit, with grow_policy: lossguide)."}, 6),
    "learning_rate": ({"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                       "description": "Shrinkage of each tree's contribution (XGBoost's eta)."}, 0.1),
    "subsample": ({**_FRACTION, "description": "Fraction of the training rows each tree sees."}, 1.0),
    "colsample_bytree": ({**_FRACTION, "description": "Fraction of the features each tree sees."}, 1.0),
    "min_child_weight": ({**_NONNEGATIVE, "description": "Least hessian weight a leaf must hold."}, 1.0),
    "reg_lambda": ({**_NONNEGATIVE, "description": "L2 penalty on leaf weights."}, 1.0),
    "reg_alpha": ({**_NONNEGATIVE, "description": "L1 penalty on leaf weights."}, 0.0),
    "gamma": ({**_NONNEGATIVE, "description": "Least loss reduction a split must make."}, 0.0),
    "max_leaves": ({"type": "integer", "minimum": 0,
                    "description": "Most leaves a tree has (0: no limit)."}, 0),
    "max_bin": ({"type": "integer", "minimum": 2, "maximum": 65536,
                 "description": "Histogram bins per feature."}, 256),
    "tree_method": ({"enum": ["hist", "approx", "exact"],
                     "description": "How splits are searched (hist: histograms, the fast default)."}, "hist"),
    "grow_policy": ({"enum": ["depthwise", "lossguide"],
                     "description": "Grow level by level, or the leaf with the best gain first."}, "depthwise"),
    "early_stopping_rounds": ({"type": ["integer", "null"], "minimum": 1,
                               "description": "Stop when the validation loss has not improved for this many "
                                              "rounds (null: never); the best round is kept."}, 20),
    "max_cat_to_onehot": ({**_POSITIVE_INT, "description": "A categorical column with at most this many "
                                                           "categories is split one-hot, a larger one by "
                                                           "partitions."}, 4),
}


def schema() -> dict:
    """The JSON Schema of `model.trees` (for `$defs/trees`)."""
    return {"description": "Gradient-boosted trees (XGBoost) instead of a network; every key is optional.",
            "type": ["object", "null"], "additionalProperties": False,
            "properties": {name: spec for name, (spec, _) in PARAMS.items()}}


def defaults() -> dict:
    """The hyperparameters a `trees:` mapping leaves out."""
    return {name: default for name, (_, default) in PARAMS.items()}


KIND_WORDS = {"network": "a network", "trees": "trees"}  # a model kind in a sentence


def model_kind(spec: Any) -> str:
    """`trees` or `network`: which export formats can take the spec's model."""
    return "trees" if is_trees(spec) else "network"


def is_trees(spec: Any) -> bool:
    """Whether a spec's (or resolved spec's) model is trees."""
    model = spec.get("model") if isinstance(spec, dict) else None
    return isinstance(model, dict) and FORM in model
