"""Values that Keras builds but that cannot train: a learning rate of 0, Adam's beta_2 of 1,
dropout of 1.0, ... Keras takes them and the run ends with exit 0 and a useless model.

`RULES` is the table: per argument of the catalog's optimizers, schedules and layers, the
range where training makes sense, refused (`error`) where nothing sensible can come of a
value outside, warned (`warning`) where a rare expert use exists. tests/test_trainable.py
trains a small model with each `proof` value of a refused rule and shows it cannot learn,
so the table is proven. Negative regularizer factors are refused by Keras itself (the schema,
tools/arg_constraints.py). No TensorFlow here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Optional

from specc import catalog
from specc.layer_items import layer_items
from specc.checks.task import is_pair
from specc.layer_items import layer_key
from specc.spec_data import problem as _p

if TYPE_CHECKING:
    from specc.errors import Problem
    from specc.load.document import Document

ANY = ("*",)


@dataclass(frozen=True)
class Rule:
    """Where one argument of some named objects can train.

    Attributes:
        kind: The catalog kind: `optimizers`, `schedules` or `layers`.
        names: The names it applies to, or ANY (every entry of the kind that has the argument).
        arg: The argument.
        allowed: The range that can train, as an interval: `(0, inf)`, `[0, 1)`.
        severity: `error` (refused) or `warning`.
        why: What a value outside does, shown to the user.
        proof: Values outside that tests/test_trainable.py trains with (refused rules).
        unless: No problem when this argument is given too (a warmup starts from 0).
    """

    kind: str
    names: tuple
    arg: str
    allowed: str
    severity: str
    why: str
    proof: tuple = ()
    unless: str = ""


ADAMS = ("adam", "adamw", "nadam", "schedulefreeadamw")
DIVIDES = ADAMS + ("adamax", "rmsprop", "adadelta")
DROPOUTS = ("dropout", "spatial_dropout1d", "spatial_dropout2d", "spatial_dropout3d", "gaussian_dropout",
            "alpha_dropout")
RECURRENT = ("lstm", "gru", "simple_rnn", "conv_lstm1d", "conv_lstm2d", "conv_lstm3d")

RULES = (
    # optimizers
    Rule("optimizers", ANY, "learning_rate", "(0, inf)", "error",
         "a rate of 0 leaves the weights where they start; a negative rate climbs the loss", (0.0, -0.05)),
    Rule("optimizers", DIVIDES, "epsilon", "(0, inf)", "error",
         "epsilon keeps the update from dividing by zero: without it a weight whose gradient is 0 turns NaN",
         (0.0, -1.0)),
    Rule("optimizers", ("muon",), "epsilon", "(0, inf)", "warning",
         "epsilon keeps the update from dividing by zero"),
    Rule("optimizers", ("adagrad",), "epsilon", "[0, inf)", "error",
         "a negative epsilon makes the square root of the accumulator NaN", (-1.0,)),
    Rule("optimizers", ("adagrad",), "initial_accumulator_value", "[0, inf)", "error",
         "a negative accumulator makes its square root NaN", (-1.0,)),
    Rule("optimizers", ("adam", "adamw", "adamax"), "beta_1", "(-inf, 1)", "error",
         "at 1 the first moment never leaves 0 and its bias correction divides by 0", (1.0,)),
    Rule("optimizers", ADAMS + ("adamax",), "beta_1", "[0, 1)", "warning",
         "beta_1 is how much of the momentum each step keeps: negative, it flips sign every step; at 1 "
         "or above, it never forgets"),
    Rule("optimizers", ADAMS, "beta_2", "[0, 1)", "error",
         "at 1 the second moment never leaves 0 and its bias correction divides by 0; below 0 it turns "
         "negative and its square root NaN", (1.0, -0.5)),
    Rule("optimizers", ("adamax",), "beta_2", "[0, 1]", "warning",
         "outside [0, 1] the running maximum of the gradients grows or flips sign"),
    Rule("optimizers", ("muon",), "adam_beta_1", "[0, 1)", "error",
         "at 1 the first moment never leaves 0 and its bias correction divides by 0"),
    Rule("optimizers", ("muon",), "adam_beta_2", "[0, 1)", "error",
         "at 1 the second moment never leaves 0 and its bias correction divides by 0"),
    Rule("optimizers", ("rmsprop",), "rho", "[0, 1)", "error",
         "at 1 the average of the squared gradients stays 0 and every step divides by epsilon alone",
         (1.0,)),
    Rule("optimizers", ("adadelta",), "rho", "[0, 1]", "error",
         "above 1 the accumulators turn negative and their square roots NaN", (1.5,)),
    Rule("optimizers", ("adadelta",), "rho", "[0, 1)", "warning",
         "at 1 the accumulators never move: Adadelta is plain SGD at learning_rate"),
    Rule("optimizers", ("rmsprop",), "momentum", "[0, 1]", "error",
         "above 1 the velocity grows every step and the weights run off", (1.5,)),
    Rule("optimizers", ANY, "momentum", "[0, 1)", "warning",
         "momentum is how much of the velocity each step keeps: at 1 or above it never decays, and the "
         "weights keep going past the minimum"),
    Rule("optimizers", tuple(sorted(set(DIVIDES) | {"adafactor", "adagrad", "lion", "muon", "sgd"})), "weight_decay",
         "[0, inf)", "error", "a negative decay pushes every weight away from 0, exponentially", (-10.0,)),
    Rule("optimizers", ("muon",), "adam_weight_decay", "[0, inf)", "error",
         "a negative decay pushes every weight away from 0, exponentially"),
    Rule("optimizers", ANY, "ema_momentum", "[0, 1)", "error",
         "with use_ema the trained weights are replaced by their moving average, which at 1 never leaves "
         "the initial weights", (1.0,)),
    *[Rule("optimizers", ANY, arg, "(0, inf)", "warning",
           "Keras ignores a clip of 0 or less: the gradients are not clipped")
      for arg in ("clipnorm", "clipvalue", "global_clipnorm")],
    Rule("optimizers", ("adafactor",), "beta_2_decay", "(-inf, 0]", "error",
         "above 0 the second-moment decay passes 1 and the moment turns negative", (0.5,)),
    Rule("optimizers", ("adafactor",), "clip_threshold", "(0, inf)", "error",
         "the update is divided by its size over the threshold: 0 scales every update to nothing",
         (0.0,)),
    Rule("optimizers", ("adafactor",), "epsilon_2", "(0, inf)", "warning",
         "weights that start at 0 (biases) then never move"),
    # learning-rate schedules (in `schedule:`, or in place of an optimizer's learning_rate)
    Rule("schedules", ANY, "initial_learning_rate", "(0, inf)", "error",
         "a rate of 0 leaves the weights where they start; a negative rate climbs the loss", (0.0, -0.05),
         unless="warmup_target"),
    Rule("schedules", ANY, "warmup_target", "(0, inf)", "error",
         "the warmup climbs to this rate: 0 never changes the weights, a negative rate climbs the loss",
         (0.0,)),
    Rule("schedules", ("exponential_decay",), "decay_rate", "(0, inf)", "error",
         "a rate of 0 stops training after the first step; a negative one is NaN", (0.0, -0.5)),
    Rule("schedules", ("exponential_decay",), "decay_rate", "(0, 1]", "warning",
         "above 1 the learning rate grows exponentially (a learning-rate range test)"),
    Rule("schedules", ("inverse_time_decay",), "decay_rate", "[0, inf)", "error",
         "the rate divides by 1 + decay_rate * step, which reaches 0 and then turns negative", (-1.0,)),
    Rule("schedules", ("polynomial_decay",), "end_learning_rate", "[0, inf)", "error",
         "the rate ends negative and climbs the loss", (-0.5,)),
    Rule("schedules", ("polynomial_decay",), "power", "[0, inf)", "error",
         "a negative power makes the rate infinite at the end of the decay", (-1.0,)),
    Rule("schedules", ("cosine_decay",), "alpha", "[0, inf)", "error",
         "the rate ends at alpha times the initial rate: negative, it climbs the loss", (-1.0,)),
    Rule("schedules", ("cosine_decay_restarts",), "alpha", "[0, inf)", "warning",
         "the rate turns negative (climbs the loss) near the end of each period"),
    Rule("schedules", ("cosine_decay_restarts",), "m_mul", "[0, inf)", "error",
         "each restart multiplies the rate by m_mul: negative, it climbs the loss", (-1.0,)),
    Rule("schedules", ("cosine_decay_restarts",), "t_mul", "(0, inf)", "error",
         "each restart multiplies the period by t_mul: 0 makes it empty (NaN)", (0.0,)),
    Rule("schedules", ("piecewise_constant_decay",), "values", "(0, inf)", "error",
         "each piece's rate must be positive: 0 stops training, a negative rate climbs the loss",
         ([0.0, 0.0], [-0.05, -0.05])),
    # layer rates
    Rule("layers", DROPOUTS, "rate", "[0, 1)", "error",
         "a rate of 1 drops every value: the layers after it see nothing to learn from", (1.0,)),
    *[Rule("layers", RECURRENT, arg, "[0, 1)", "warning",
           "Keras drops nothing at 1 (a recurrent layer only drops at rates between 0 and 1): the layer "
           "trains as if the rate were 0")
      for arg in ("dropout", "recurrent_dropout")],
    Rule("layers", ("attention", "additive_attention", "multi_head_attention", "group_query_attention"),
         "dropout", "[0, 1)", "warning",
         "a rate of 1 drops every attention weight: in training the layer's output no longer depends on "
         "its input"),
)


# --- intervals --------------------------------------------------------------------------------

def bounds(allowed: str) -> tuple[float, bool, float, bool]:
    """`[0, 1)` -> (0.0, True, 1.0, False): low, low included, high, high included."""
    low, high = (part.strip() for part in allowed.strip()[1:-1].split(","))
    return float(low), allowed.strip()[0] == "[", float(high), allowed.strip()[-1] == "]"


def inside(value: float, allowed: str) -> bool:
    """Whether `value` lies in the interval `allowed`."""
    low, low_in, high, high_in = bounds(allowed)
    above = value > low or (low_in and value == low)
    below = value < high or (high_in and value == high)
    return above and below


def said(allowed: str) -> str:
    """The interval in words: `> 0`, `>= 0`, `< 1`, `in [0, 1)`."""
    low, low_in, high, high_in = bounds(allowed)
    if math.isinf(high):
        return f"{'>=' if low_in else '>'} {_number(low)}"
    if math.isinf(low):
        return f"{'<=' if high_in else '<'} {_number(high)}"
    return f"in {allowed}"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


# --- which rules apply ------------------------------------------------------------------------

def applies(rule: Rule, kind: str, name: str) -> bool:
    """Whether `rule` covers argument `rule.arg` of the object `name` of `kind`."""
    if rule.kind != kind:
        return False
    found = catalog.entry(kind, name) or {}
    target = found.get("alias_of", name)
    if rule.names != ANY:
        return target in rule.names
    known = catalog.entry(kind, target) or {}
    return any(arg["name"] == rule.arg for arg in known.get("args", []))


def rules_for(kind: str, name: str, arg: str) -> list[Rule]:
    """The rules on one argument of one object, errors before warnings (table order)."""
    return [rule for rule in RULES if rule.arg == arg and applies(rule, kind, name)]


# --- the check --------------------------------------------------------------------------------

def check_trainable(doc: Document) -> list[Problem]:
    """Every optimizer, schedule and layer argument of the spec lies where it can train."""
    return [problem for kind, name, args, places in _objects(doc.data) for arg, where in places.items()
            for problem in _check_arg(doc, kind, name, args, arg, where)]


def _check_arg(doc, kind: str, name: str, args: dict, arg: str, where: tuple) -> list[Problem]:
    numbers = _numbers(args[arg])
    for rule in rules_for(kind, name, arg) if numbers else []:
        if rule.unless and args.get(rule.unless) is not None:
            continue
        outside = [(index, n) for index, n in numbers if not inside(n, rule.allowed)]
        if outside:
            index, value = outside[0]
            return [_problem(doc, where if index is None else where + (index,), rule, name, value)]
    return []


def _problem(doc, path: tuple, rule: Rule, name: str, value: float) -> Problem:
    refused = rule.severity == "error"
    message = f"{rule.arg} {value:g} cannot train: {rule.why}" if refused else f"{rule.arg} {value:g}: {rule.why}"
    hint = f"{rule.arg} must be {said(rule.allowed)}" if refused else f"{rule.arg} is meant to be {said(rule.allowed)}"
    default = _default(rule.kind, name, rule.arg)
    if default is not None:
        hint += f"; Keras's default for {name} is {default:g}"
    return _p(doc, path, message, hint, code="untrainable", severity=rule.severity)


def _default(kind: str, name: str, arg: str) -> Any:
    """The catalog's default of an argument when it is a number other than 0, else None."""
    known = catalog.entry(kind, name) or {}
    found: dict = next((a for a in known.get("args", []) if a["name"] == arg), {})
    default = found.get("default")
    return default if isinstance(default, (int, float)) and not isinstance(default, bool) and default else None


def _numbers(value: Any) -> list[tuple[Optional[int], float]]:
    """The finite numbers a value holds, with their index in a list (piecewise values)."""
    def number(item: Any) -> bool:
        return isinstance(item, (int, float)) and not isinstance(item, bool) and math.isfinite(item)

    if number(value):
        return [(None, float(value))]
    if isinstance(value, list):
        return [(index, float(item)) for index, item in enumerate(value) if number(item)]
    return []


# --- where the objects are in a spec ----------------------------------------------------------

# (kind, name, args, path of each argument)
Found = tuple[str, str, dict, dict]


def _objects(data: dict) -> Iterable[Found]:
    """Every optimizer, schedule and layer of a spec that is given arguments."""
    for path, value in _optimizers(data):
        call = _call(value)
        if call:
            name, args = call
            yield _found("optimizers", name, args, path + (name,))
            schedule = _call(args.get("learning_rate"))
            if schedule:
                yield _found("schedules", *schedule, path + (name, "learning_rate", schedule[0]))
    call = _call(data.get("schedule"))
    if call:
        yield _found("schedules", *call, ("schedule", call[0]))
    for path, item in layer_items(data):
        yield from _layers(item, path)


def _found(kind: str, name: str, args: dict, path: tuple) -> Found:
    return kind, name, args, {arg: path + (arg,) for arg in args if isinstance(arg, str)}


def _optimizers(data: dict) -> list[tuple[tuple, Any]]:
    optimizer = data.get("optimizer")
    if isinstance(optimizer, dict) and is_pair(optimizer):
        return [(("optimizer", part), value) for part, value in optimizer.items()]
    return [(("optimizer",), optimizer)]


def _call(value: Any) -> Optional[tuple[str, dict]]:
    """`{adam: {learning_rate: 0.1}}` -> ("adam", {...}); None for anything else."""
    if isinstance(value, dict) and len(value) == 1:
        name, args = next(iter(value.items()))
        if isinstance(name, str) and isinstance(args, dict):
            return name, args
    return None


def _layers(item: Any, path: tuple) -> Iterable[Found]:
    """The layer of an item, and the layers a wrapper holds; a short value (`dropout: 1.0`) is
    its one argument (rate), placed at the value."""
    name = layer_key(item) if isinstance(item, dict) else None
    info = catalog.layer_info(name) if name else None
    if not name or not info:
        return
    args = item[name]
    short = catalog.short_arg(name)
    if isinstance(args, (int, float)) and short:
        yield "layers", name, {short: args}, {short: path + (name,)}
    if not isinstance(args, dict):
        return
    if info.get("wrapper"):
        own = {arg["name"] for arg in info.get("args", [])}
        if not set(args) & own:  # the short form: the args are the wrapped layer itself
            yield from _layers(args, path + (name,))
            return
        for key in ("layer", "backward_layer"):
            yield from _layers(args.get(key), path + (name, key))
    yield _found("layers", name, args, path + (name,))
