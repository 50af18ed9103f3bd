"""Every refused rule of specc/checks/trainable.py, proven with real TensorFlow: a small model
trained with the rule's proof values cannot learn, while the same model with the value Keras
defaults to learns. If Keras changes what these values do, this fails and the table is
corrected, so `specc validate` refuses only values that cannot train.

The data is 64 samples of 8 features whose first feature is always 0 (like an image's border
pixels): the label is whether features 1 and 2 sum above 0. Training is 20 full-batch steps
with Keras's own optimizers, schedules and layers (an eager loop: no graph tracing per case
keeps the ~100 trainings fast). "Learns" means the loss falls below half its start.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from specc import catalog  # noqa: E402
from specc.checks.trainable import ANY, RULES, applies, inside, rules_for  # noqa: E402

pytestmark = pytest.mark.slow

STEPS = 20
# A rate each optimizer learns this data with in STEPS full-batch steps.
RATES = {"sgd": 0.5, "adadelta": 50.0, "adagrad": 0.5, "ftrl": 0.5, "lion": 0.02, "rmsprop": 0.02,
         "adafactor": 0.05, "muon": 0.1}
RATE = 0.05
# What a schedule needs besides the argument proven.
SCHEDULE_ARGS = {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "first_decay_steps": 10,
                 "boundaries": [10], "values": [RATE, RATE]}
# What an argument needs to act: EMA weights replace the trained ones only with use_ema.
CONTEXT = {"ema_momentum": {"use_ema": True},
           "warmup_target": {"initial_learning_rate": 0.0, "warmup_steps": 10}}
# The shape each layer takes the 8 features in (others take them as they are).
LAYER_SHAPES = {"spatial_dropout1d": (4, 2), "spatial_dropout2d": (2, 2, 2), "spatial_dropout3d": (2, 1, 2, 2)}
# A rate each layer learns with (the baseline).
LAYER_INSIDE = {"rate": 0.25}
# Every name a rule covers is proven with SPECC_PROVE_EVERY_NAME=1 (about 80 trainings, minutes);
# by default each rule is proven on its first name.
EVERY_NAME = bool(os.environ.get("SPECC_PROVE_EVERY_NAME"))


def _data() -> tuple:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    x[:, 0] = 0.0
    y = (x[:, 1] + x[:, 2] > 0).astype("float32")[:, None]
    return tf.constant(x), tf.constant(y)


X, Y = _data()


def _cls(kind: str, name: str):
    module = {"optimizers": keras.optimizers, "schedules": keras.optimizers.schedules,
              "layers": keras.layers}[kind]
    return getattr(module, (catalog.entry(kind, name) or {})["class"])


def _model(layer=None):
    keras.utils.set_random_seed(1)
    parts = [keras.Input((8,)), keras.layers.Dense(8, activation="relu")]
    if layer is not None:
        shape = LAYER_SHAPES.get(layer.name)
        parts += ([keras.layers.Reshape(shape)] if shape else []) + [layer, keras.layers.Flatten()]
    parts.append(keras.layers.Dense(1, activation="sigmoid"))
    return keras.Sequential(parts)


def learns(optimizer, layer=None) -> bool:
    """Whether the model (with `layer` in the middle) learns the data with `optimizer`."""
    model = _model(layer)
    loss_of = keras.losses.BinaryCrossentropy()
    first = float(loss_of(Y, model(X)))
    for _ in range(STEPS):
        with tf.GradientTape() as tape:
            loss = loss_of(Y, model(X, training=True))
            scaled = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    optimizer.finalize_variable_values(model.trainable_variables)  # EMA weights, as fit() does
    last = float(loss_of(Y, model(X)))
    return math.isfinite(last) and last < first / 2


def _optimizer(name: str, **args):
    return _cls("optimizers", name)(**{"learning_rate": RATES.get(name, RATE), **args})


def _schedule(name: str, **args):
    cls = _cls("schedules", name)
    known = {a["name"] for a in (catalog.entry("schedules", name) or {})["args"]}
    base = {k: v for k, v in SCHEDULE_ARGS.items() if k in known}
    return keras.optimizers.Adam(cls(**{**base, **args}))


def _layer(name: str, **args):
    return _cls("layers", name)(**args, name=name)


def train(kind: str, name: str, arg: str, value) -> bool:
    args = {**CONTEXT.get(arg, {}), arg: value}
    if kind == "optimizers":
        return learns(_optimizer(name, **args))
    if kind == "schedules":
        return learns(_schedule(name, **args))
    return learns(_optimizer("adam"), _layer(name, **args))


def _names(rule) -> list:
    if rule.names != ANY:
        return list(rule.names)
    return sorted(n for n in catalog.names(rule.kind) if applies(rule, rule.kind, n)
                  and "alias_of" not in (catalog.entry(rule.kind, n) or {}))


def _proven(rule) -> list:
    return _names(rule) if EVERY_NAME else _names(rule)[:1]


PROVEN = [(rule, name) for rule in RULES if rule.severity == "error" and rule.proof for name in _proven(rule)]


@pytest.mark.parametrize("rule, name", PROVEN, ids=[f"{r.kind}.{n}.{r.arg}" for r, n in PROVEN])
def test_a_refused_value_cannot_train(rule, name):
    for value in rule.proof:
        assert not any(inside(v, rule.allowed) for v in (value if isinstance(value, list) else [value]))
        try:
            learned = train(rule.kind, name, rule.arg, value)
        except ZeroDivisionError:  # gaussian and alpha dropout divide by 1 - rate when called
            learned = False
        assert not learned, f"{name} learns with {rule.arg}={value}"


BASELINES = sorted({(rule.kind, name, rule.arg) for rule, name in PROVEN if rule.kind == "layers"}
                   | {(rule.kind, name, "") for rule, name in PROVEN if rule.kind != "layers"})


@pytest.mark.parametrize("kind, name, arg", BASELINES, ids=[f"{k}.{n}" for k, n, _ in BASELINES])
def test_the_same_model_learns_with_keras_defaults(kind, name, arg):
    """The proof means something: the model, optimizer, schedule or layer learns as Keras makes it."""
    if kind == "optimizers":
        assert learns(_optimizer(name))
    elif kind == "schedules":
        assert learns(_schedule(name))
    else:
        assert learns(_optimizer("adam"), _layer(name, **{arg: LAYER_INSIDE[arg]}))


def test_every_rule_names_catalog_objects_with_the_argument():
    for rule in RULES:
        names = _names(rule)
        assert names, rule
        for name in names:
            args = {a["name"] for a in (catalog.entry(rule.kind, name) or {"args": []})["args"]}
            assert rule.arg in args, (rule.kind, name, rule.arg)


def test_every_optimizer_is_covered():
    """Each optimizer of the catalog has at least its learning rate checked."""
    covered = {n for r in RULES if r.kind == "optimizers" and r.arg == "learning_rate" for n in _names(r)}
    assert covered == {n for n in catalog.names("optimizers") if "alias_of" not in catalog.entry("optimizers", n)}


def test_a_refusal_comes_before_a_warning_on_the_same_argument():
    """The check reports the first rule a value breaks: a refusal must not hide behind a warning."""
    for rule in RULES:
        for name in _names(rule):
            severities = [r.severity for r in rules_for(rule.kind, name, rule.arg)]
            assert severities == sorted(severities), (rule.kind, name, rule.arg)
