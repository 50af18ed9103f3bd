"""Records that show what changed, and tables of them: the `--set` overrides in record.json,
`runs list --columns/--status`, and `runs export --mlflow`, read back with MLflow's own client
from a SQLite store. Real training of a tiny iris spec, a few epochs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, cli, no_traceback, read_json

pytestmark = pytest.mark.slow

SPEC = """\
specc: 1
name: tiny-table
seed: 5
data:
  source: {builtin: iris}
  split: {validation: 0.2, test: 0.2, stratify: true}
  preprocessing: [normalization]
task: {type: multiclass, classes: 3}
model:
  inputs: {features: [4]}
  layers:
    - dense: {units: 8, activation: relu}
  head: auto
metrics: [accuracy]
optimizer: {adam: {learning_rate: 0.01}}
batch: {size: 16}
train: {epochs: 3}
"""
COLUMNS = "model.layers[0].dense.units,optimizer.adam.learning_rate"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """A completed run with two overrides, and a diverged one (the loss limit below any loss)."""
    folder = tmp_path_factory.mktemp("table")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    runs_dir = folder / "runs"
    done = cli("train", spec, "--runs-dir", runs_dir, "--quiet", "--set", "model.layers[0].dense.units=5",
               "--set", "optimizer.adam.learning_rate=0.02")
    no_traceback(done)
    assert done.exit_code == 0, done.output
    diverged = cli("train", spec, "--runs-dir", runs_dir, "--quiet", "--set", "train.max_loss=1.0e-6")
    assert diverged.exit_code == 4, diverged.output
    [diverged_run] = [p for p in (runs_dir / "tiny-table").iterdir() if p != Path(done.stdout.strip())]
    return folder, runs_dir, Path(done.stdout.strip()), diverged_run


def test_a_record_keeps_its_overrides(two_runs):
    _, runs_dir, completed, diverged = two_runs
    assert read_json(completed / "record.json")["overrides"] == ["model.layers[0].dense.units=5",
                                                                 "optimizer.adam.learning_rate=0.02"]
    assert read_json(diverged / "record.json")["overrides"] == ["train.max_loss=1.0e-6"]
    shown = cli("runs", "show", completed.name, "--runs-dir", runs_dir)
    assert shown.exit_code == 0, shown.output
    # shell-quoted, so that the line pastes back into a shell ([0] is a glob there)
    assert "--set 'model.layers[0].dense.units=5' --set optimizer.adam.learning_rate=0.02" in shown.stdout


def test_runs_list_shows_spec_values_as_columns_and_filters_by_status(two_runs):
    _, runs_dir, completed, diverged = two_runs
    listed = cli("runs", "list", "--runs-dir", runs_dir, "--columns", COLUMNS)
    assert listed.exit_code == 0, listed.output
    header, *lines = listed.stdout.splitlines()
    assert header.split() == ["RUN", "NAME", "STATUS", "CREATED", "EPOCHS", "model.layers[0].dense.units",
                              "optimizer.adam.learning_rate", "BEST", "TEST"]
    by_id = {line.split()[0]: line.split() for line in lines}
    assert by_id[completed.name][2] == "completed" and by_id[completed.name][6:8] == ["5", "0.02"]
    assert by_id[diverged.name][2] == "diverged" and by_id[diverged.name][6:8] == ["8", "0.01"]

    rows = json.loads(cli("runs", "list", "--runs-dir", runs_dir, "--status", "completed", "--columns", COLUMNS,
                          "--format", "json").stdout)
    assert [r["id"] for r in rows] == [completed.name]
    assert rows[0]["columns"] == {"model.layers[0].dense.units": 5, "optimizer.adam.learning_rate": 0.02}
    assert rows[0]["overrides"] == ["model.layers[0].dense.units=5", "optimizer.adam.learning_rate=0.02"]

    none = cli("runs", "list", "--runs-dir", runs_dir, "--sweep", "no-such-sweep")
    assert none.exit_code == 0 and none.stdout == ""
    assert "with sweep no-such-sweep" in none.stderr


def test_runs_list_refuses_a_column_that_is_not_a_path(two_runs):
    _, runs_dir, _, _ = two_runs
    bad = cli("runs", "list", "--runs-dir", runs_dir, "--columns", "model.layers[x].dense")
    no_traceback(bad)
    assert bad.exit_code == 2
    assert "is not a list index" in bad.stderr


def test_runs_list_names_the_setting_a_misspelled_column_meant(two_runs):
    _, runs_dir, _, _ = two_runs
    bad = cli("runs", "list", "--runs-dir", runs_dir, "--columns", "model.layers[0].dense.units,optimizer.adam.learnig_rate")
    no_traceback(bad)
    assert bad.exit_code == 2 and bad.stdout == ""
    assert "--columns optimizer.adam.learnig_rate" in bad.stderr
    assert "learning_rate" in bad.stderr


# --- MLflow --------------------------------------------------------------------------------------

def test_runs_exported_to_mlflow_read_back_with_its_client(two_runs):
    mlflow = pytest.importorskip("mlflow")
    folder, runs_dir, completed, diverged = two_runs
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = cli("runs", "export", completed.name, diverged.name, "--runs-dir", runs_dir, "--mlflow", uri)
    no_traceback(done)
    assert done.exit_code == 0, done.output
    assert done.stdout.count("exported to MLflow run") == 2

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("tiny-table")
    found = {r.data.tags["specc.run_id"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(found) == {completed.name, diverged.name}

    run = found[completed.name]
    record = read_json(completed / "record.json")
    assert run.info.status == "FINISHED" and found[diverged.name].info.status == "FAILED"
    assert run.data.params["model.layers.0.dense.units"] == "5"
    assert float(run.data.params["optimizer.adam.learning_rate"]) == 0.02
    assert run.data.params["train.epochs"] == "3"
    tags = run.data.tags
    assert tags["specc.spec_hash"] == record["spec_hash"]
    assert tags["specc.data_fingerprint"] == record["data_fingerprint"]
    assert json.loads(tags["specc.overrides"]) == record["overrides"]
    assert tags["specc.status"] == "completed"

    history = read_json(completed / "history.json")
    stored = client.get_metric_history(run.info.run_id, "val_loss")
    assert [(m.step, m.value) for m in sorted(stored, key=lambda m: m.step)] == \
        [(row["epoch"], pytest.approx(row["val_loss"])) for row in history]
    test_metrics = read_json(completed / "metrics.json")["test"]
    assert run.data.metrics["test_accuracy"] == pytest.approx(test_metrics["accuracy"])

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"record.json", "history.csv", "spec.yaml", "checkpoints"} <= artifacts
    local = Path(client.download_artifacts(run.info.run_id, "record.json", str(folder / "downloaded")))
    assert json.loads(local.read_text())["run_id"] == completed.name

    again = cli("runs", "export", completed.name, "--runs-dir", runs_dir, "--mlflow", uri)
    assert again.exit_code == 0 and "already in MLflow run" in again.stdout
    assert len(client.search_runs([experiment.experiment_id])) == 2


def test_a_bad_mlflow_uri_is_a_usage_error(two_runs):
    pytest.importorskip("mlflow")
    folder, runs_dir, completed, _ = two_runs
    bad = cli("runs", "export", completed.name, "--runs-dir", runs_dir, "--mlflow", "bogus://nowhere")
    no_traceback(bad)
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: MLflow (bogus://nowhere): ")


def without(module: str, args: list, cwd: Path) -> subprocess.CompletedProcess:
    """`specc ARGS` in a fresh process where `module` cannot be imported, as when the optional
    package is not installed."""
    code = f"import sys\nsys.modules[{module!r}] = None\nfrom specc.cli import main\nmain({args!r})\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_export_without_mlflow_says_what_to_install(two_runs):
    folder, runs_dir, completed, _ = two_runs
    done = without("mlflow", ["runs", "export", completed.name, "--runs-dir", str(runs_dir), "--mlflow",
                              f"sqlite:///{folder / 'none.db'}"], folder)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'specc[mlflow]'" in done.stderr and "Traceback" not in done.stderr


def test_sweep_without_optuna_says_what_to_install(tmp_path):
    done = without("optuna", ["sweep", str(ROOT / "specs" / "mlp-wine-sweep.yaml"), "--runs-dir",
                              str(tmp_path / "runs")], tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'specc[sweep]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs" / "mlp-wine-sweep" / "sweeps" / "mlp-wine-sweep" / "study.db").exists()
