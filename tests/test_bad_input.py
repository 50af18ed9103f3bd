"""Bad input that used to end in exit 70 (internal error): each ends in its own exit code with
a clear message, and a run it stops is recorded as `failed`, with nothing half-written."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cli, no_traceback, read_json

IRIS = """specc: 1
name: bad-input
seed: 3
data:
  source: {builtin: iris}
  split: {validation: 0.2, test: 0.2}
task: {type: multiclass, classes: 3}
model:
  inputs: {x: [4]}
  layers:
    - dense: {units: 8, activation: relu}
metrics: [accuracy]
train: {epochs: 2, checkpoints: {every_seconds: 0}}
batch: {size: 32}
"""


def spec_file(tmp_path: Path, text: str = IRIS, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def only_run(runs: Path) -> dict:
    """The record of the one run under `runs`."""
    records = list(runs.glob("*/*/record.json"))
    assert len(records) == 1, records
    return read_json(records[0])


@pytest.mark.slow
def test_an_unlogged_early_stopping_monitor_stops_training_cleanly(tmp_path):
    # A metric with arguments: validation cannot know the names Keras logs, training can.
    spec = spec_file(tmp_path)
    result = cli("train", spec, "--runs-dir", tmp_path / "runs", "--set", "metrics=[{accuracy: {}}]",
                 "--set", "train.early_stopping={monitor: val_acuracy}")
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert "early stopping monitors 'val_acuracy', which this run does not log" in result.output
    assert "val_accuracy" in result.output
    assert only_run(tmp_path / "runs")["status"] == "failed"
