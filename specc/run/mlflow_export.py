"""`specc runs export RUN... --mlflow URI`: run records into MLflow, with MLflow's own client.

Each run becomes one MLflow run in an experiment named after its spec: params from the
resolved spec (one per setting, `model.layers.0.dense.units`), per-epoch metrics from the
history (step = epoch) and the final metrics per split (`test_accuracy`), tags for the spec
hash, the git commit, the data fingerprint, the status, the --set overrides and a sweep's
trial, and the run folder as artifacts. A run exported before (its `specc.run_id` tag is in
the experiment) is not exported twice. MLflow is an optional extra (`specc[mlflow]`); no
TensorFlow here.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from specc.errors import UsageError
from specc.run.records import RunRecord
from specc.run.records.files import is_temporary
from specc.run.records.lock import LOCK

# record status -> MLflow run status
STATUS = {"completed": "FINISHED", "failed": "FAILED", "diverged": "FAILED", "interrupted": "KILLED",
          "pruned": "KILLED"}
PARAMS_PER_CALL = 100     # MLflow's limits per log_batch call
METRICS_PER_CALL = 1000
PARAM_VALUE_LENGTH = 6000
ARTIFACTS = "mlartifacts"  # beside a SQLite store's file, for experiments made here


@dataclass
class Exported:
    """One run and where it went."""

    run_id: str             # specc's run id
    mlflow_run_id: str
    experiment: str
    skipped: bool           # exported before: nothing was written


def export_runs(records: list, tracking_uri: str, experiment: Optional[str] = None) -> list[Exported]:
    """Write each run to the MLflow tracking store at `tracking_uri` (sqlite:///mlflow.db,
    http://host:5000, ...); `experiment` names one experiment for all (default: the spec's name).

    Raises:
        UsageError: MLflow is not installed, the store cannot be used, or a run is still running.
    """
    client, mlflow_error = _client(tracking_uri)
    out = []
    for record in records:
        try:
            out.append(_export(client, record, tracking_uri, experiment))
        except mlflow_error as exc:
            raise UsageError(f"MLflow ({tracking_uri}): {str(exc.message).strip()}".splitlines()[0]) from None
    return out


def _client(tracking_uri: str) -> tuple:
    try:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise UsageError("exporting to MLflow needs MLflow, which is not installed",
                         "pip install 'specc[mlflow]'") from None
    for name in ("mlflow", "alembic"):  # their start-up notes (creating tables, ...) are not ours
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return MlflowClient(tracking_uri=tracking_uri), MlflowException
    except MlflowException as exc:
        raise UsageError(f"MLflow ({tracking_uri}): {str(exc.message).strip()}".splitlines()[0]) from None


def _export(client: Any, record: RunRecord, tracking_uri: str, experiment: Optional[str]) -> Exported:
    data = record.read()
    if data.get("status") not in STATUS:
        raise UsageError(f"run {record.run_id} is {data.get('status')}: export it once it has ended",
                         f"a run killed while training continues with `specc train --resume {record.run_id}`")
    name = experiment or str(data.get("name") or record.name)
    experiment_id = _experiment(client, name, tracking_uri)
    found = client.search_runs([experiment_id], filter_string=f"tags.`specc.run_id` = '{record.run_id}'",
                               max_results=1)
    if found:
        return Exported(record.run_id, found[0].info.run_id, name, skipped=True)
    started = _millis(data.get("created"))
    run = client.create_run(experiment_id, start_time=started, tags=tags(data), run_name=record.run_id)
    mlflow_id = run.info.run_id
    _log_params(client, mlflow_id, params(record.spec()))
    _log_metrics(client, mlflow_id, metrics(record.history(), record.metrics()), started)
    _log_folder(client, mlflow_id, record.path)
    client.set_terminated(mlflow_id, status=STATUS[data["status"]], end_time=_millis(data.get("finished")))
    return Exported(record.run_id, mlflow_id, name, skipped=False)


def _experiment(client: Any, name: str, tracking_uri: str) -> str:
    """The experiment's id; a new one keeps its artifacts beside a SQLite store's file (MLflow's
    default is ./mlruns under whatever folder the command ran in)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        database = Path(tracking_uri[len("sqlite:///"):])
        location = (database.absolute().parent / ARTIFACTS).as_uri()
    return client.create_experiment(name, artifact_location=location)


def tags(data: dict) -> dict:
    """What tells runs apart, as MLflow tags (mlflow.source.git.commit is MLflow's own)."""
    git = data.get("git") or {}
    sweep = data.get("sweep") or {}
    out = {
        "specc.run_id": data.get("run_id"),
        "specc.spec_name": data.get("name"),
        "specc.status": data.get("status"),
        "specc.spec_hash": data.get("spec_hash"),
        "specc.data_fingerprint": data.get("data_fingerprint"),
        "specc.spec_file": data.get("spec_file"),
        "specc.git_dirty": None if git.get("dirty") is None else str(git.get("dirty")).lower(),
        "mlflow.source.git.commit": git.get("commit"),
        "specc.overrides": json.dumps(data["overrides"]) if data.get("overrides") else None,
        "specc.sweep": sweep.get("id"),
        "specc.sweep_trial": None if sweep.get("trial") is None else str(sweep["trial"]),
        "specc.sweep_fold": None if sweep.get("fold") is None else str(sweep["fold"]),
        "specc.sweep_refit": "true" if sweep.get("refit") else None,
        "specc.message": data.get("message"),
    }
    return {key: str(value) for key, value in out.items() if value is not None}


def params(spec: dict) -> dict:
    """Every setting of the resolved spec: {"model.layers.0.dense.units": "64", ...}."""
    out: dict = {}
    _flatten(spec, "", out)
    return out


def _flatten(node: Any, prefix: str, out: dict) -> None:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _flatten(value, f"{prefix}.{_key(str(key))}" if prefix else _key(str(key)), out)
    elif isinstance(node, list) and node:
        for index, value in enumerate(node):
            _flatten(value, f"{prefix}.{index}", out)
    else:
        text = node if isinstance(node, str) else json.dumps(node)
        out[prefix] = text if len(text) <= PARAM_VALUE_LENGTH else text[:PARAM_VALUE_LENGTH - 3] + "..."


def _key(key: str) -> str:
    """A key as MLflow takes it (letters, digits, _ - . / and spaces): a sweep's space key
    `model.layers[0].dense.units` becomes `model.layers.0.dense.units`."""
    return re.sub(r"[^\w\-. /]", "_", re.sub(r"\[(\d+)\]", r".\1", key))


def metrics(history: list, final: dict) -> list[tuple]:
    """(key, value, step) of every epoch's metrics (step = epoch) and the final ones per split
    (`test_accuracy`, step 0)."""
    out = []
    for row in history:
        step = int(row.get("epoch", 0))
        out += [(k, float(v), step) for k, v in row.items()
                if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)]
    for split, values in final.items():
        out += [(f"{split}_{k}", float(v), 0) for k, v in (values or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return out


def _log_params(client: Any, run_id: str, values: dict) -> None:
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in values.items()]
    for start in range(0, len(items), PARAMS_PER_CALL):
        client.log_batch(run_id, params=items[start:start + PARAMS_PER_CALL])


def _log_metrics(client: Any, run_id: str, values: list, started: Optional[int]) -> None:
    from mlflow.entities import Metric

    timestamp = started or int(datetime.now().timestamp() * 1000)
    items = [Metric(key, value, timestamp, step) for key, value, step in values]
    for start in range(0, len(items), METRICS_PER_CALL):
        client.log_batch(run_id, metrics=items[start:start + METRICS_PER_CALL])


def _log_folder(client: Any, run_id: str, folder: Path) -> None:
    """The run folder as the run's artifacts, less its lock and any half-written file."""
    with tempfile.TemporaryDirectory(prefix="specc-mlflow-") as tmp:
        copy = Path(tmp) / folder.name
        shutil.copytree(folder, copy, ignore=_left_out)
        client.log_artifacts(run_id, str(copy))


def _left_out(parent: str, names: list) -> list:
    """What of a run folder is not uploaded: the lock, half-written files, and anything but
    regular files and folders. specc writes no symbolic link into a run, so one there was put
    by hand or came with a received folder: it is left out whatever it points to (inside or
    out), as are pipes and devices (copying a pipe would wait forever)."""
    return [name for name in names if name == LOCK or is_temporary(name) or not _plain(os.path.join(parent, name))]


def _plain(path: str) -> bool:
    """A regular file or a folder, itself (a symbolic link is not followed)."""
    mode = os.lstat(path).st_mode
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def _millis(text: Any) -> Optional[int]:
    if not text:
        return None
    try:
        return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
