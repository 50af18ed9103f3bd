"""Loss, metrics, optimizer and learning-rate schedule of a resolved spec; `compile_model`.

Every name is a Keras name in snake_case (`sparse_categorical_crossentropy`, `auc`, `adamw`,
`cosine_decay`), checked against Keras and the catalog first, so a typo is a `SpecInvalid`
with a did-you-mean. `decay_steps` of a schedule defaults to the number of training steps;
`warmup_steps` (and `warmup_target`) add linear warmup to any schedule.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

import keras

from specc.compile import names
from specc.compile.objects import as_floats, check_args, init_arg_names, problem
from specc.compile.shapes import clean_message
from specc.errors import SpecInvalid
from specc.suggest import did_you_mean

# Schedules: the argument counting decay steps (defaults to the run's total steps).
STEP_ARGS = {"cosine_decay": "decay_steps", "exponential_decay": "decay_steps",
             "polynomial_decay": "decay_steps", "inverse_time_decay": "decay_steps",
             "cosine_decay_restarts": "first_decay_steps"}


def split_call(value: Any, path: tuple, what: str, where: Optional[Callable]) -> tuple[str, dict]:
    """`adam` -> ('adam', {}); `{adam: {learning_rate: 0.1}}` -> ('adam', {...})."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict) and len(value) == 1:
        name, args = next(iter(value.items()))
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise problem(tuple(path) + (name,), f"arguments of {what} '{name}' must be a mapping",
                          f"write `{{{name}: {{argument: value}}}}`", where)
        return name, dict(args)
    raise problem(path, f"expected a {what} name or {{name: {{args}}}}, found {value!r}", None, where)


def _construct(cls, args: dict, what: str, path: tuple, where):
    check_args(cls, args, what, path, where)
    try:
        return cls(**args)
    except SpecInvalid:
        raise
    except Exception as err:  # noqa: BLE001
        raise problem(path, f"{what}: {clean_message(err)}", None, where) from None


# --- losses and metrics ------------------------------------------------------------------------------

def make_loss(value: Any, path: tuple = ("loss",), where: Optional[Callable] = None) -> Any:
    """A Keras loss object for `name` or `{name: {args}}` (None stays None)."""
    if value is None:
        return None
    name, args = split_call(value, path, "loss", where)
    cls = names.get_class("losses", name)
    if cls is None or not issubclass(cls, keras.losses.Loss):
        raise names.unknown("losses", name, path, where)
    loss_path = tuple(path) + (name,) if args else tuple(path)
    return _construct(cls, as_floats("losses", name, args), f"loss '{name}'", loss_path, where)


def make_metric(value: Any, path: tuple, where: Optional[Callable] = None) -> Any:
    """A metric: its name when it has no arguments (Keras picks e.g. the right accuracy for
    the labels), else a constructed Keras metric."""
    name, args = split_call(value, path, "metric", where)
    if not args:
        if name in ("accuracy", "acc", "crossentropy", "ce") or name in names.names("metrics") \
                or names.resolves("metrics", name):
            return name
        raise names.unknown("metrics", name, path, where)
    cls = names.get_class("metrics", name)
    if cls is None:
        raise names.unknown("metrics", name, path, where)
    return _construct(cls, as_floats("metrics", name, args), f"metric '{name}'", tuple(path) + (name,), where)


def make_losses(loss: Any, output_names: list, where: Optional[Callable] = None) -> Any:
    """One loss, or output name -> loss for a model with several outputs."""
    if isinstance(loss, dict) and len(output_names) > 1 and set(loss) <= set(output_names):
        return {out: make_loss(loss.get(out), ("loss", out), where) for out in output_names}
    if isinstance(loss, dict) and len(loss) > 1:
        unknown = [k for k in loss if k not in output_names]
        raise problem(("loss", unknown[0]), f"loss for '{unknown[0]}', which is not an output",
                      did_you_mean(unknown[0], output_names) or f"outputs: {', '.join(output_names)}", where)
    return make_loss(loss, ("loss",), where)


def make_metrics(metrics: Any, output_names: list, where: Optional[Callable] = None) -> Any:
    """A list of metrics, or output name -> list for several outputs."""
    if metrics is None:
        return None
    if isinstance(metrics, dict):
        unknown = [k for k in metrics if k not in output_names]
        if unknown:
            raise problem(("metrics", unknown[0]), f"metrics for '{unknown[0]}', which is not an output",
                          did_you_mean(unknown[0], output_names) or f"outputs: {', '.join(output_names)}",
                          where)
        return {out: [make_metric(m, ("metrics", out, i), where) for i, m in enumerate(metrics.get(out) or [])]
                for out in output_names}
    return [make_metric(m, ("metrics", i), where) for i, m in enumerate(metrics)]


# --- optimizer and schedule ----------------------------------------------------------------------------

def make_optimizer(optimizer: Any, schedule: Any = None, total_steps: int = 1000,
                   where: Optional[Callable] = None, accumulate: int = 1) -> Any:
    """A Keras optimizer; with a schedule, its learning rate follows it.

    Args:
        optimizer: `{adam: {learning_rate: 1e-3, clipnorm: 1.0}}` (or a bare name).
        schedule: None or `{cosine_decay: {...}}`.
        total_steps: Training batches in the whole run (default for decay_steps; Keras
            advances schedules every batch, also when gradients are accumulated).
        where: Maps a spec path to a Position.
        accumulate: `batch.accumulate`: average the gradients of this many batches per
            update (Keras's gradient_accumulation_steps).
    """
    name, args = split_call(optimizer, ("optimizer",), "optimizer", where)
    if name in ("generator", "discriminator"):
        raise problem(("optimizer",), "a generator/discriminator optimizer pair belongs to a GAN trainer",
                      "compile each network with its own optimizer", where)
    cls = names.get_class("optimizers", name)
    if cls is None:
        raise names.unknown("optimizers", name, ("optimizer", name), where)
    path = ("optimizer", name)
    check_args(cls, args, f"optimizer '{name}'", path, where)
    args = as_floats("optimizers", name, args)
    rate = args.get("learning_rate", _default(cls, "learning_rate", 0.001))
    if isinstance(rate, dict):
        rate = make_schedule(rate, None, total_steps, path + ("learning_rate",), where)
    elif schedule:
        rate = make_schedule(schedule, rate, total_steps, ("schedule",), where)
    args["learning_rate"] = rate
    if accumulate > 1:
        args.setdefault("gradient_accumulation_steps", int(accumulate))
    return _construct(cls, args, f"optimizer '{name}'", path, where)


def make_schedule(schedule: Any, base_rate: Optional[float], total_steps: int, path: tuple = ("schedule",),
                  where: Optional[Callable] = None) -> Any:
    """A learning-rate schedule: `initial_learning_rate` defaults to the optimizer's rate,
    the decay steps to `total_steps` (minus warmup); `warmup_steps` adds linear warmup from 0
    (or from `initial_learning_rate` when `warmup_target` is given) to the schedule's start."""
    name, args = split_call(schedule, path, "schedule", where)
    cls = names.get_class("schedules", name)
    if cls is None or not issubclass(cls, keras.optimizers.schedules.LearningRateSchedule):
        raise names.unknown("schedules", name, path, where)
    arg_path = tuple(path) + (name,)
    args = as_floats("schedules", name, args)
    warmup_steps = int(args.pop("warmup_steps", 0) or 0)
    warmup_target = args.pop("warmup_target", None)
    known, _, _ = init_arg_names(cls)
    if "initial_learning_rate" in known and "initial_learning_rate" not in args:
        if base_rate is None:
            raise problem(arg_path, f"schedule '{name}' needs initial_learning_rate", None, where)
        args["initial_learning_rate"] = float(base_rate)
    step_arg = STEP_ARGS.get(name) or ("decay_steps" if "decay_steps" in known else None)
    if step_arg and step_arg not in args:
        args[step_arg] = max(1, int(total_steps) - warmup_steps)
    if warmup_steps and name == "cosine_decay":  # Keras's CosineDecay has warmup built in
        if warmup_target is None:
            warmup_target = args["initial_learning_rate"]
            args["initial_learning_rate"] = 0.0
        args.update(warmup_steps=warmup_steps, warmup_target=float(warmup_target))
        return _construct(cls, args, f"schedule '{name}'", arg_path, where)
    after = _construct(cls, args, f"schedule '{name}'", arg_path, where)
    if not warmup_steps:
        return after
    start = 0.0
    if warmup_target is not None:
        start = float(args.get("initial_learning_rate", 0.0))
    return LinearWarmup(after, warmup_steps, start=start)


@keras.saving.register_keras_serializable(package="specc")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from `start` to where `after` begins, then `after` (shifted by the warmup).

    Args:
        after: The schedule that follows the warmup (or its serialized config).
        warmup_steps: Steps of the warmup.
        start: Learning rate at step 0.
        name: Schedule name.
    """

    def __init__(self, after, warmup_steps: int, start: float = 0.0, name: str = "linear_warmup"):
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        self.after = after
        self.warmup_steps = int(warmup_steps)
        self.start = float(start)
        self.name = name

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        steps = ops.cast(self.warmup_steps, "float32")
        target = ops.cast(self.after(0), "float32")
        warm = self.start + (target - self.start) * ops.minimum(step / steps, 1.0)
        later = ops.cast(self.after(ops.maximum(step - steps, 0.0)), "float32")
        return ops.where(step < steps, warm, later)

    def get_config(self) -> dict:
        return {"after": keras.optimizers.schedules.serialize(self.after),
                "warmup_steps": self.warmup_steps, "start": self.start, "name": self.name}


def _default(cls, arg: str, fallback: Any) -> Any:
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        param = inspect.signature(init).parameters.get(arg)
        if param is not None and param.default is not param.empty:
            return param.default
    return fallback


# --- compile ---------------------------------------------------------------------------------------------

def compile_model(model: Any, resolved: dict, total_steps: int, steps_per_execution: int = 1,
                  jit_compile: bool = False, where: Optional[Callable] = None) -> Any:
    """Compile `model` with the spec's loss(es), metrics, optimizer, schedule, loss weights.

    Args:
        model: A keras.Model built by specc (output names as in the spec).
        resolved: The resolved spec.
        total_steps: Optimizer steps of the whole run (default decay_steps of a schedule).
        steps_per_execution: Batches per compiled call.
        jit_compile: XLA-compile the train step.
        where: Maps a spec path to a Position.

    Returns:
        The same model, compiled.

    Raises:
        SpecInvalid: An unknown name or argument, or a per-output entry for no output.
    """
    outputs = list(model.output_names)
    loss = make_losses(resolved.get("loss"), outputs, where)
    metrics = make_metrics(resolved.get("metrics"), outputs, where)
    accumulate = int(resolved.get("batch", {}).get("accumulate", 1))
    optimizer = make_optimizer(resolved["optimizer"], resolved.get("schedule"), total_steps, where,
                               accumulate=accumulate)
    weights = resolved.get("loss_weights")
    if isinstance(weights, dict):
        unknown = [k for k in weights if k not in outputs]
        if unknown:
            raise problem(("loss_weights", unknown[0]), f"loss weight for '{unknown[0]}', which is not an output",
                          did_you_mean(unknown[0], outputs) or f"outputs: {', '.join(outputs)}", where)
        weights = {out: float(weights.get(out, 1.0)) for out in outputs}
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=weights,
                      steps_per_execution=int(steps_per_execution), jit_compile=bool(jit_compile))
    except SpecInvalid:
        raise
    except Exception as err:  # noqa: BLE001
        raise problem(("loss",), f"the model cannot be compiled: {clean_message(err)}", None, where) from None
    return model
