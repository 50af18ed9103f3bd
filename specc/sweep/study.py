"""Optuna's side of a sweep: the storage (heartbeats, and a dead trial queued again), the
sampler, the pruner, the study, and sampled values to and from Optuna's parameters.

A trial whose process stops sending heartbeats for `grace_period` seconds is failed by the
next `fail_stale_trials` and queued again, with its values, its intermediate values and its
user attributes (the run folder it trained in), by Optuna's RetryHeartbeatStaleTrialCallback:
the trial that takes it up continues that run.
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from typing import Any

from specc.errors import UsageError
from specc.sweep.settings import Settings
from specc.sweep_space import Parameter

FINGERPRINT = "specc_fingerprint"  # the study's user attribute: which spec and sweep it belongs to
RETRY_OF = "failed_trial"          # Optuna's system attribute on a trial queued again


def optuna() -> Any:
    """The optuna module, quiet (its per-trial log lines and experimental-feature warnings are
    not for specc's users); a clear error when the extra is not installed."""
    try:
        import optuna as module
    except ImportError:
        raise UsageError("specc sweep needs Optuna, which is not installed",
                         "pip install 'specc[sweep]'") from None
    module.logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", category=module.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    return module


def open_storage(url: str, settings: Settings) -> Any:
    """Optuna's RDB storage at `url`, with heartbeats and dead trials queued again.

    Raises:
        UsageError: The URL cannot be opened (a malformed URL, a database driver missing, a
            server that does not answer).
    """
    module = optuna()
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    # SQLite allows one writer at a time; a trial process waits for its turn instead of failing.
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    if url.startswith("sqlite"):
        _write_ahead()
    try:
        return RDBStorage(url, engine_kwargs=engine, heartbeat_interval=settings.heartbeat,
                          grace_period=settings.grace_period,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                              inherit_intermediate_values=True))
    except (module.exceptions.OptunaError, ImportError, ValueError) as exc:
        raise UsageError(f"cannot open the sweep's storage {url}: {exc}",
                         "give sweep.storage a URL Optuna's RDB storage takes, e.g. sqlite:///sweep.db") from None
    except Exception as exc:  # SQLAlchemy's errors: a path that cannot be made, a server away
        if type(exc).__module__.startswith("sqlalchemy"):
            raise UsageError(f"cannot open the sweep's storage {url}: {exc}".splitlines()[0]) from None
        raise


_OPENED: dict = {}  # (url, heartbeat, grace period) -> (the SQLite file's identity, storage)


def reused_storage(url: str, settings: Settings) -> Any:
    """`open_storage`, kept for the next trial of this process (a warm worker runs many):
    opening one checks its tables, a tenth of a second a trial. A SQLite file that was removed
    or replaced since is opened anew."""
    key = (url, settings.heartbeat, settings.grace_period)
    identity = _file_identity(url)
    known = _OPENED.get(key)
    if known is not None and known[0] == identity:
        return known[1]
    storage = open_storage(url, settings)
    _OPENED[key] = (_file_identity(url), storage)
    return storage


def _file_identity(url: str) -> Any:
    """(device, inode) of a SQLite URL's file (None when it is not there); "" for a server."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return ""
    try:
        found = os.stat(url[len(prefix):])
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def _write_ahead() -> None:
    """Every SQLite connection of this process in write-ahead-log mode, synced at checkpoints:
    a commit (each epoch's report, each heartbeat) took 10-25 ms of fsync in the default
    rollback journal, a third of a short trial; a killed process loses nothing committed (only
    a power cut may lose the last commits). WAL needs every process on one machine: several
    machines share a study through a database server's URL."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def pragmas(connection: Any, record: Any) -> None:
        if isinstance(connection, sqlite3.Connection):
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")

    if not getattr(_write_ahead, "listening", False):
        event.listen(Engine, "connect", pragmas)
        setattr(_write_ahead, "listening", True)


def sampler(settings: Settings, seed: int) -> Any:
    """TPE (with a lie for running trials, so parallel trials spread out), random, or grid."""
    module = optuna()
    if settings.sampler == "grid":
        space = {p.path: [_to_optuna(p, v) for v in p.grid() or []] for p in settings.params}
        return module.samplers.GridSampler(space, seed=seed)
    if settings.sampler == "random":
        return module.samplers.RandomSampler(seed=seed)
    return module.samplers.TPESampler(seed=seed, constant_liar=True,
                                      n_startup_trials=startup_trials(settings.trials))


def startup_trials(trials: int) -> int:
    """How many trials TPE samples at random before it models the results: a third of the
    sweep, from 2 to Optuna's default of 10."""
    return max(2, min(10, trials // 3))


def pruner(settings: Settings) -> Any:
    module = optuna()
    if not settings.pruning:
        return module.pruners.NopPruner()
    return module.pruners.MedianPruner(n_startup_trials=settings.pruning["startup_trials"],
                                       n_warmup_steps=settings.pruning["warmup_epochs"])


def open_study(settings: Settings, storage: Any, seed: int, fingerprint: str) -> Any:
    """Create the study, or load it to continue it; a study of another spec or sweep is refused.

    Raises:
        UsageError: The storage holds a study of that name started from a different spec or
            sweep section.
    """
    module = optuna()
    study = module.create_study(storage=storage, study_name=settings.name, direction=settings.direction,
                                sampler=sampler(settings, seed), pruner=pruner(settings), load_if_exists=True)
    known = study.user_attrs.get(FINGERPRINT)
    if known is None:
        study.set_user_attr(FINGERPRINT, fingerprint)
    elif known != fingerprint:
        raise UsageError(f"the study '{settings.name}' in {storage.url} was started from another spec or "
                         "sweep section (the spec, the --set overrides or the space changed since)",
                         "continue it with the spec as it was, or start a new study: --set sweep.name=NEW")
    return study


def load_study(settings: Settings, storage: Any) -> Any:
    """The study, as a trial process opens it: the pruner decides, nothing is sampled here."""
    module = optuna()
    try:
        return module.load_study(study_name=settings.name, storage=storage,
                                 sampler=module.samplers.RandomSampler(), pruner=pruner(settings))
    except KeyError:
        raise UsageError(f"no study '{settings.name}' in {storage.url}") from None


def counted(trials: list) -> int:
    """Trials that count towards the sweep's number: all of them, less the dead ones that were
    queued again (their retry counts in their place)."""
    return len(trials) - sum(1 for t in trials if RETRY_OF in t.system_attrs)


def suggest(trial: Any, params: tuple) -> dict:
    """Sample every parameter for a trial: {path: value}."""
    values = {}
    for param in params:
        if param.form == "choice":
            choices = [_to_optuna(param, c) for c in param.values]
            values[param.path] = _from_optuna(param, trial.suggest_categorical(param.path, choices))
        elif param.is_integer:
            values[param.path] = trial.suggest_int(param.path, param.values[0], param.values[1],
                                                   step=int(param.step or 1), log=param.is_log)
        else:
            values[param.path] = trial.suggest_float(param.path, float(param.values[0]), float(param.values[1]),
                                                     step=param.step, log=param.is_log)
    return values


def values_of(frozen: Any, params: tuple) -> dict:
    """The sampled values of a stored trial, {path: value}, in the space's order."""
    return {p.path: _from_optuna(p, frozen.params[p.path]) for p in params if p.path in frozen.params}


def _scalar_choices(param: Parameter) -> bool:
    return all(c is None or isinstance(c, (str, int, float, bool)) for c in param.values)


def _to_optuna(param: Parameter, value: Any) -> Any:
    """Optuna chooses among scalars: a list or mapping choice is chosen by its JSON text."""
    return value if param.form != "choice" or _scalar_choices(param) else json.dumps(value, sort_keys=True)


def _from_optuna(param: Parameter, value: Any) -> Any:
    return value if param.form != "choice" or _scalar_choices(param) else json.loads(value)
