"""The fields of record.json, declared once.

Every top-level key a run record may hold is here, with its type and meaning;
`RunRecord.update` refuses any other key, so a misspelt field is a bug found at once, not a
record that silently lacks it. `specc runs show`, `runs list` and `runs compare` read these.
"""
from __future__ import annotations

from typing import Any, Optional, TypedDict

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
    overrides: list                 # the --set overrides it was started with, in order ("train.epochs=5");
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
                                    # "categorical": [column, ...]}; None when the data had no
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
    exports: list                   # [{format, quantize, file}] written by `specc export` / export:
    curves_error: str               # why curves.png could not be drawn (only when it could not)
    warnings: list                  # what may be wrong with a run that completed (a loss that grew, one class)
    paradigm: dict                  # what the task type keeps after training (an autoencoder's anomaly threshold)
    trees: dict                     # a trees run (model: {trees: ...}): {"rounds": boosted, "kept_rounds": the
                                    # rounds best.ubj keeps, "importances": {feature: total gain}}
    sample_grids: list              # a GAN's grids of generated samples, oldest first: [{"epoch": 10, "file":
                                    # "samples/epoch-0010.png"}] (task.samples)


FIELD_NAMES = frozenset(RecordFields.__annotations__)


def check_fields(fields: dict) -> None:
    """Raise ValueError for a key record.json does not declare (a bug in specc)."""
    unknown = sorted(set(fields) - FIELD_NAMES)
    if unknown:
        raise ValueError(f"record.json has no field {', '.join(unknown)} (declared in specc/run/records/fields.py)")
