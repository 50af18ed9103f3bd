"""A sweep's settings (the resolved `sweep:` section), its folder and its storage. No Optuna."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from specc.errors import UsageError
from specc.run.records import spec_hash
from specc.sweep_space import Parameter, grid_size, parameters

STUDY_DB = "study.db"
GRACE_HEARTBEATS = 3  # a running trial silent for this many heartbeats is taken as dead
# what may change between two `specc sweep` of one study (how long it runs, where it is kept)
NOT_FINGERPRINTED = ("trials", "storage", "heartbeat", "refit")


@dataclass(frozen=True)
class Settings:
    """What one sweep searches and how (the resolved `sweep:` section)."""

    name: str
    metric: str
    direction: str
    sampler: str
    trials: int
    pruning: Any                    # False, or {"startup_trials": N, "warmup_epochs": M}
    storage: Optional[str]
    heartbeat: int
    params: tuple[Parameter, ...]
    seed: int
    folds: Optional[int] = None     # K-fold cross-validation of each trial (None: one run per trial)
    refit: bool = False             # with folds: the best values trained once on the spec's own split

    @classmethod
    def of(cls, resolved: dict, trials: Optional[int] = None) -> "Settings":
        """The settings of a resolved spec; `trials` (the command line's) replaces the section's.

        Raises:
            UsageError: The spec has no `sweep:` section.
        """
        section = resolved.get("sweep")
        if not section:
            raise UsageError(f"the spec '{resolved['name']}' has no sweep: section",
                             "add one (docs/guides/sweeps.md), or write a spec that extends this one and adds it")
        if section.get("folds") and "cross_validation" in (resolved.get("data", {}).get("split") or {}):
            raise UsageError(f"the spec '{resolved['name']}' sets data.split.cross_validation, which sweep.folds "
                             "sets for each fold of each trial", "remove it from the spec (or the --set)")
        params = tuple(parameters(section))
        count = trials if trials is not None else section["trials"]
        if section["sampler"] == "grid":
            count = min(count, grid_size(list(params)) or count)
        return cls(name=section["name"], metric=section["metric"], direction=section["direction"],
                   sampler=section["sampler"], trials=count, pruning=section["pruning"],
                   storage=section["storage"], heartbeat=section["heartbeat"], params=params,
                   seed=int(resolved.get("seed") or 0), folds=section.get("folds"),
                   refit=bool(section.get("refit")))

    @property
    def grace_period(self) -> int:
        return self.heartbeat * GRACE_HEARTBEATS


def sweep_folder(runs_dir: str, resolved: dict, settings: Settings) -> Path:
    """runs/<spec name>/sweeps/<sweep name>/: the study database (by default), logs, table, plots."""
    return Path(runs_dir).absolute() / str(resolved["name"]) / "sweeps" / settings.name


def storage_url(settings: Settings, folder: Path, spec_file: str) -> str:
    """The section's storage URL, its SQLite file resolved against the spec's folder as every
    path a spec names (validation checked that file: SQLAlchemy alone would take it from the
    current folder); or SQLite in the sweep's folder."""
    from specc.project import resolve_storage

    if settings.storage:
        return resolve_storage(settings.storage, Path(spec_file).resolve().parent)
    return f"sqlite:///{folder / STUDY_DB}"


def fingerprint(resolved: dict) -> str:
    """What makes two `specc sweep` the same study: the resolved spec with its sweep, less how
    many trials it runs and where it is kept."""
    spec = copy.deepcopy(resolved)
    for key in NOT_FINGERPRINTED:
        spec["sweep"].pop(key, None)
    return spec_hash(spec)
