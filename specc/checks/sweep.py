"""Checks of the `sweep:` section: the search space is checked against the schema as `--set` is.

Every path must be a setting `--set` takes, and every value a trial can be given must make a
valid spec: both ends of a range and every choice are set, one at a time, on the spec without
its sweep, and the result is validated. A problem is placed on the value in the space that
causes it, so a bad sweep is refused before any trial runs. No TensorFlow, no Optuna.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from specc.checks.settings import logged_metrics
from specc.errors import Problem, UsageError, json_path
from specc.spec_data import integer, mapping, text
from specc.spec_data import problem as _p
from specc.sweep_space import (CROSS_VALIDATION, FIXED_SECTIONS, FORMS, INTEGER_FORMS, MAX_GRID, STEPPED, Parameter, grid_size,
                               override, show_value)

if TYPE_CHECKING:
    from specc.load.document import Document

SPACE = ("sweep", "space")


def check_sweep(doc: Document) -> list[Problem]:
    """The sweep's metric, sampler and search space."""
    section = mapping(doc.data["sweep"])
    space = mapping(section.get("space"))
    problems = _metric_problems(doc, section)
    params: list[Parameter] = []
    paths: dict = {}
    for key, entry in space.items():
        if _in_missing_section(doc, key):
            continue  # the schema reports the missing section; every path into it would repeat that
        found = _form_problems(doc, key, mapping(entry))
        if not found and isinstance(entry, dict):
            found = _path_problems(doc, key, paths)
        if not found and isinstance(entry, dict) and any(f in entry for f in FORMS):
            param = _parameter(key, entry)
            found = _type_problems(doc, param)
            params.append(param)
        problems += found
    problems += _grid_problems(doc, section, params)
    return problems + _folds_problems(doc, section)


def _parameters(doc: Document) -> list[Parameter]:
    return [_parameter(key, entry) for key, entry in mapping(mapping(doc.data["sweep"]).get("space")).items()
            if isinstance(entry, dict) and any(f in entry for f in FORMS)]


def _parameter(key: str, entry: dict) -> Parameter:
    form = next(f for f in FORMS if f in entry)
    return Parameter(key, form, tuple(entry[form]), entry.get("step"))


def _misspelled_metric(doc: Document, metric: str) -> str:
    """The logged validation metric `metric` most likely misspells ('' when it is one of them,
    or like none)."""
    import difflib

    names = [name for name in logged_metrics(doc) or ["val_loss"] if name.startswith("val_")]
    if metric in names:
        return ""
    close = difflib.get_close_matches(metric, names, n=1, cutoff=0.8)
    return close[0] if close else ""


# --- cross-validation -----------------------------------------------------------------------------

def _folds_problems(doc: Document, section: dict) -> list[Problem]:
    """`folds` sets data.split.cross_validation in each run: the split must be one it can pool."""
    if "folds" not in section:
        if section.get("refit") is not None:
            return [_p(doc, ("sweep", "refit"), "refit trains the best values after a sweep with folds; this "
                       "sweep has no folds", "add sweep.folds, or remove refit", code="sweep", severity="warning")]
        return []
    split = mapping(mapping(doc.data.get("data")).get("split"))
    where = ("sweep", "folds")
    problems = []
    if split.get("by") == "class":
        problems.append(_p(doc, where, "sweep.folds cross-validates the samples, but data.split.by: class "
                           "splits whole classes", "remove folds, or split by sample", code="sweep"))
    if isinstance(split.get("validation"), dict):
        problems.append(_p(doc, where, "sweep.folds makes each fold of train + validation the validation split "
                           "in turn, but data.split.validation is a source of its own",
                           "remove folds, or give data.split.validation as a fraction", code="sweep"))
    return problems + [_p(doc, (*SPACE, key), f"sweep.folds sets {CROSS_VALIDATION} for each fold; the space "
                          "cannot search it", "remove it from the space", code="sweep", key=True)
                       for key in mapping(section.get("space")) if str(key).startswith(CROSS_VALIDATION)]


# --- the metric --------------------------------------------------------------------------------

def _metric_problems(doc: Document, section: dict) -> list[Problem]:
    """Trials are scored on a per-epoch validation metric, which needs a validation split."""
    given = text(section.get("metric"))
    checkpoints = mapping(mapping(doc.data.get("train")).get("checkpoints"))
    monitor = text(checkpoints.get("monitor")) or "val_loss"
    metric = given or monitor
    where = ("sweep", "metric") if given else ("sweep",)
    if not metric.startswith("val_"):
        return [_p(doc, where, f"a sweep scores trials by a validation metric (val_...), found {metric}",
                   "e.g. metric: val_loss or val_accuracy: the test split must not choose the model",
                   code="sweep", key=not given)]
    split = mapping(mapping(doc.data.get("data")).get("split"))
    if split.get("validation", 0.1) == 0:
        return [_p(doc, where, f"the sweep scores trials by {metric}, but there is no validation split",
                   "set data.split.validation above 0", code="sweep", key=not given)]
    if given and given != monitor:
        likely = _misspelled_metric(doc, given)
        if likely:
            return [_p(doc, ("sweep", "metric"), f"{given} is not a metric this spec logs each epoch",
                       f"did you mean '{likely}'?", code="sweep", severity="warning")]
        return [_p(doc, ("sweep", "metric"), f"trials are scored by their best {given}, but best.keras is "
                   f"the best {monitor} (train.checkpoints.monitor)",
                   f"set train.checkpoints.monitor: {given}, so that `specc evaluate` reads the epoch "
                   "the trial was scored by", code="sweep", severity="warning")]
    return []


# --- each parameter's form ---------------------------------------------------------------------

def _form_problems(doc: Document, key: str, entry: dict) -> list[Problem]:
    """One form per parameter; ranges run upwards; a step only where it means something."""
    where = SPACE + (key,)
    forms = [f for f in FORMS if f in entry]
    if not entry:
        return []  # the schema says what an empty or non-mapping entry lacks
    if not forms:
        return [_p(doc, where, f"{key} gives no values to search", "give one of " + ", ".join(FORMS),
                   code="sweep")]
    if len(forms) > 1:
        return [_p(doc, where, f"{key} gives {' and '.join(forms)}; a parameter has one form",
                   "keep one of them", code="sweep")]
    form = forms[0]
    if "step" in entry and form not in STEPPED:
        return [_p(doc, where + ("step",), f"a step goes with uniform or int, not {form}",
                   "remove step, or use uniform/int", code="sweep", key=True)]
    values = entry[form]
    if form == "choice" or not _numbers(values):
        return []
    return _range_problems(doc, where + (form,), form, values, entry.get("step"))


def _numbers(values: Any) -> bool:
    return (isinstance(values, list) and len(values) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values))


def _range_problems(doc: Document, where: tuple, form: str, values: list, step: Any) -> list[Problem]:
    low, high = values
    if low >= high:
        return [_p(doc, where, f"the range [{low}, {high}] is empty or a single value",
                   "write [low, high] with low below high, or use choice: [value]", code="sweep")]
    if form.startswith("log_") and low <= 0:
        return [_p(doc, where + (0,), f"a log range starts above 0, found {low}",
                   "e.g. log_uniform: [1.0e-5, 1.0e-1]", code="sweep")]
    if step is None or isinstance(step, bool) or not isinstance(step, (int, float)):
        return []
    if form in INTEGER_FORMS and integer(step) is None:
        return [_p(doc, where[:-1] + ("step",), f"an int range takes an integer step, found {step}",
                   code="sweep")]
    if step > high - low:
        return [_p(doc, where[:-1] + ("step",), f"the step {step} is larger than the range [{low}, {high}]",
                   "use a smaller step", code="sweep")]
    return []


# --- each parameter's path ---------------------------------------------------------------------

def _in_missing_section(doc: Document, key: str) -> bool:
    """The key's path starts in a required section the spec leaves out."""
    from specc.load.overrides import path_parts
    from specc.schema import load_schema

    try:
        first = path_parts(str(key))[0]
    except UsageError:
        return False
    return first not in doc.data and first in load_schema().get("required", ())


def _path_problems(doc: Document, key: str, seen: dict) -> list[Problem]:
    """The key is a path `--set` takes, into a setting a trial may change, and named once."""
    from specc.load.overrides import override_allowed, override_path

    where = SPACE + (key,)
    try:
        path = override_path(_without_sweep(doc).data, key)
    except UsageError as exc:
        return [_p(doc, where, _plain(exc.message), exc.hint, code="sweep", key=True)]
    if str(path[0]) in FIXED_SECTIONS:
        return [_p(doc, where, f"a sweep cannot change `{path[0]}`: it says which spec and which sweep "
                   "the trials belong to", "search other settings", code="sweep", key=True)]
    refused = override_allowed(path)
    if refused:
        return [_p(doc, where, _plain(refused), code="sweep", key=True)]
    if path in seen:
        return [_p(doc, where, f"{key} is the same setting as {seen[path]}", "keep one of them",
                   code="sweep", key=True)]
    seen[path] = key
    return []


def _plain(message: str) -> str:
    """An override's message, worded for the space: without its `--set` prefix."""
    for prefix in ("--set: ", "--set "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _type_problems(doc: Document, param: Parameter) -> list[Problem]:
    """A float range cannot search a setting that takes integers only."""
    from specc.load.overrides import override_path
    from specc.schema import subschema_at

    if param.form not in ("uniform", "log_uniform"):
        return []
    node = subschema_at(override_path(_without_sweep(doc).data, param.path)) or {}
    types = node.get("type")
    if types == "integer" or (isinstance(types, list) and "integer" in types and "number" not in types):
        return [_p(doc, SPACE + (param.path, param.form), f"{param.path} takes an integer; a {param.form} "
                   "range samples floats", f"use {'log_int' if param.is_log else 'int'}: "
                   f"[{', '.join(str(v) for v in param.values)}]", code="sweep", key=True)]
    return []


# --- the sampler -------------------------------------------------------------------------------

def _grid_problems(doc: Document, section: dict, params: list[Parameter]) -> list[Problem]:
    """A grid needs a finite set of values for every parameter, and not too many points."""
    if section.get("sampler") != "grid":
        return []
    endless = [p for p in params if p.grid() is None]
    if endless:
        return [_p(doc, SPACE + (p.path,), f"the grid sampler needs a finite set of values; {p.path} "
                   f"is a {p.form} range", "give choice: [...], or a uniform/int range with a step",
                   code="sweep", key=True) for p in endless]
    size = grid_size(params) or 0
    if size > MAX_GRID:
        return [_p(doc, ("sweep", "sampler"), f"the grid has {size:,} points (at most {MAX_GRID:,})",
                   "use fewer values, or sampler: tpe", code="sweep")]
    return []


# --- each value a trial can get ----------------------------------------------------------------

def value_problems(doc: Document, validate: Callable[[Document], list[Problem]]) -> list[Problem]:
    """Every end and every choice, set alone on the spec, gives a valid spec (checked with
    `validate`, which specc.validate hands down: it runs this once the sweep itself is sound)."""
    from specc.load.overrides import apply_overrides

    base = _without_sweep(doc)
    if any(p.severity == "error" for p in validate(base)):
        return []  # the spec's own problems are reported already; they would show here too
    problems = []
    for param in _parameters(doc):
        for index, value in param.tried():
            value = float(value) if param.form in ("uniform", "log_uniform") else value
            trial = apply_overrides(base, [override(param.path, value)])
            errors = [p for p in validate(trial) if p.severity == "error"]
            if errors:
                problems.append(_value_problem(doc, param, index, value, errors[0]))
    return problems


def _value_problem(doc: Document, param: Parameter, index: int, value: Any, error: Problem) -> Problem:
    which = (f"choice {index + 1} of {len(param.values)}" if param.form == "choice"
             else ("the low end" if index == 0 else "the high end"))
    where = SPACE + (param.path, param.form, index)
    return Problem(where, f"{show_value(value)} ({which}) makes the spec invalid: "
                   f"{json_path(error.path)}: {error.message}", error.hint, doc.position_of(where),
                   code="sweep")


def _without_sweep(doc: Document) -> Document:
    from specc.load.document import Document

    return Document({k: v for k, v in doc.data.items() if k != "sweep"}, doc.positions, doc.key_positions,
                    list(doc.files), list(doc.extends))

