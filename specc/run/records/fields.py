"""The fields of record.json, declared once.

Every top-level key a run record may hold is here, with its type and meaning;
`RunRecord.update` refuses any other key, so a misspelt field is a bug found at once, not a
record that silently lacks it. `specc runs show`, `runs list` and `runs compare` read these.
"""
from __future__ import annotations

import functools
import typing
from typing import Any, Optional, TypedDict

from specc.shown import name_like

RECORD_FORMAT = 1
STATUSES = ("running", "completed", "failed", "interrupted", "diverged", "pruned")  # pruned: a sweep stopped it
FINAL_STATUSES = STATUSES[1:]


class Best(TypedDict):
    """Which epoch best.keras holds, and why."""

    epoch: Optional[int]        # 1-based; None before the first epoch
    monitor: Optional[str]      # the metric compared (val_loss); "last epoch" for a paradigm whose best is its last
    value: Optional[float]      # its value at that epoch (None when not ranked by a value)


class RecordFields(TypedDict, total=False):
    """record.json."""

    format: int                     # RECORD_FORMAT
    run_id: str                     # UTC start time + 4 hex digits: 20261121-235800-3f2a
    name: str                       # the spec's name (the runs/<name>/ folder)
    status: str                     # one of STATUSES
    message: Optional[str]          # why it ended as it did (None when completed)
    created: str                    # ISO 8601 UTC start time, milliseconds
    finished: Optional[str]         # ISO 8601 UTC end time (None while running)
    spec_file: Optional[str]        # absolute path of the spec file it was started from
    overrides: list[str]            # the --set overrides it was started with, in order ("train.epochs=5");
                                    # absent in older runs
    sweep: dict                     # a sweep's trial: {"id": study name, "trial": trial number, "values":
                                    # {path: sampled value}, "storage": the study's URL, "retry_of": the
                                    # number of the killed trial this one continued (only then)}
    sources: dict                   # copy in the run folder -> original path (spec, extends files)
    spec_hash: str                  # sha256 of the canonical JSON of the resolved spec
    data_fingerprint: Optional[str]  # sha256 of the data as loaded (before the split)
    data: dict                      # split -> number of samples
    class_names: Optional[list]     # the training data's class names, in class-id order
    output_class_names: Optional[dict]  # per output (labels per output), its class names, in id order
    columns: Optional[dict]         # the training data's column names, so other CSV files are read
                                    # by name: {"inputs": {feature key: [column, ...]}, "labels":
                                    # a column, [columns] or {output: column} (or None),
                                    # "categorical": [column, ...], "text": [column, ...] when
                                    # some}; None when the data had no
                                    # column names (images, arrays); absent in older runs
    git: dict                       # {commit, dirty, root} of the spec's repository
    packages: dict                  # distribution -> version (python included)
    host: dict                      # {hostname, platform, pid}
    device: dict                    # what device: auto became (target, strategy, precision, jit,
                                    # learning_rate_scale, ...)
    workers: dict                   # a multi_worker run: {"count": 2, "addresses": ["host:port", ...],
                                    # "chief": "host:port", "from": "TF_CONFIG" | "flags" | "single",
                                    # "replicas": 2, "global_batch": 16, "per_worker_batch": [8, 8],
                                    # "weights_agree": true (every worker ended with the same weights
                                    # and optimizer state)}
    seed: Any                       # the spec's seed
    epochs_completed: int           # rows in the history
    train_seconds: float            # wall time of the training loop
    samples_per_second: Optional[float]  # training samples per second over the whole loop
    best: Best                      # which epoch best.keras holds
    checkpoints: dict               # best/last -> path in the run folder
    parts: dict                     # part name (encoder, generator, ...) -> checkpoint path
    exports: list[dict]             # [{format, quantize, file}] written by `specc export` / export:
    curves_error: str               # why curves.png could not be drawn (only when it could not)
    warnings: list[str]             # what may be wrong with a run that completed (a loss that grew, one class)
    paradigm: dict                  # what the task type keeps after training (an autoencoder's anomaly threshold)
    trees: dict                     # a trees run (model: {trees: ...}): {"rounds": boosted, "kept_rounds": the
                                    # rounds best.ubj keeps, "importances": {feature: total gain}}
    weight_sources: list            # the files a backbone's weights came from: [{"kind": run | file |
                                    # application, "path", "sha256", "run": its id, "layer": the
                                    # backbone's layer name}]
    phases: list                    # train.phases as run: [{"name", "first_epoch", "last_epoch" (1-based),
                                    # "freeze": patterns, "stopped_early"}], one per phase begun
    sample_grids: list              # a GAN's grids of generated samples, oldest first: [{"epoch": 10, "file":
                                    # "samples/epoch-0010.png"}] (task.samples)


FIELD_NAMES = frozenset(RecordFields.__annotations__)


def check_fields(fields: dict) -> None:
    """Raise ValueError for a key record.json does not declare (a bug in specc)."""
    unknown = sorted(set(fields) - FIELD_NAMES)
    if unknown:
        raise ValueError(f"record.json has no field {', '.join(unknown)} (declared in specc/run/records/fields.py)")


def record_mistake(data: Any) -> Optional[str]:
    """What in a record.json read back is not of its declared type ('best.value is a string, not
    a number'), or None. A run folder is untrusted: one damaged record must not break the
    commands that read every run."""
    if not isinstance(data, dict):
        return "it is not a JSON object"
    return _mistake(data, RecordFields, "")


def metrics_mistake(data: Any) -> Optional[str]:
    """The same for metrics.json: split -> metric name -> number (or null)."""
    if not isinstance(data, dict):
        return "it is not a JSON object"
    for split, values in data.items():
        if not isinstance(values, dict):
            return f"{_shown(split)} is {_kind(values)}, not an object of metrics"
        for name, value in values.items():
            if value is not None and not _is_number(value):
                return f"{_shown(split)}.{_shown(name)} is {_kind(value)}, not a number"
    return None


def _shown(name: str) -> str:
    return name if name_like(name) else "(a name not shown)"


def _mistake(data: dict, declared: Any, prefix: str) -> Optional[str]:
    hints = _hints(declared)
    for key, value in data.items():
        if key in hints and not _fits(value, hints[key]):
            return f"{prefix}{key} is {_kind(value)}, not {_wanted(hints[key])}"
        if key in hints and _is_typed_dict(hints[key]) and isinstance(value, dict):
            inner = _mistake(value, hints[key], f"{prefix}{key}.")
            if inner:
                return inner
    return None


@functools.cache
def _hints(declared: Any) -> dict:
    return typing.get_type_hints(declared)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value is of a declared type (Optional, list[...], a TypedDict, a plain type)."""
    if hint is Any:
        return True
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        return any(_fits(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if origin is list:
        return isinstance(value, list) and all(_fits(item, args[0]) for item in value)
    if _is_typed_dict(hint) or hint is dict or origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return _is_number(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _is_typed_dict(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__annotations__")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _wanted(hint: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", dict: "an object", list: "a list",
             type(None): "null"}
    if typing.get_origin(hint) is typing.Union:
        return " or ".join(_wanted(arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return f"a list of {_wanted(typing.get_args(hint)[0]).split(' ', 1)[1]}s"
    return names.get(hint) or names.get(typing.get_origin(hint)) or ("an object" if _is_typed_dict(hint) else str(hint))


def _kind(value: Any) -> str:
    """A JSON value's type, never the value itself (a run folder may come from anyone)."""
    for kind, name in ((bool, "true/false"), (str, "a string"), (int, "an integer"), (float, "a number"),
                       (list, "a list"), (dict, "an object")):
        if isinstance(value, kind):
            return name
    return "null"
