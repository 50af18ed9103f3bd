"""Every spec in specs/ trains for one epoch through `specc train` and completes its record.

Apart from tests/test_train.py so that each file stays well under two minutes: most of a
one-epoch run is TensorFlow tracing the model's train and test steps.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import SPEC_FILES, train_run
from specc.load import load_spec
from specc.tasks.trees import is_trees


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPEC_FILES, ids=lambda p: p.stem)
def test_every_spec_trains_one_epoch(spec, tmp_path):
    one = "model.trees.rounds=1" if is_trees(load_spec(spec).data) else "train.epochs=1"  # a round of trees
    run = train_run(spec, tmp_path, "--set", one, "--no-export")
    record = run.record()
    assert record["status"] == "completed", record["message"]
    assert record["epochs_completed"] == 1
    assert [row["epoch"] for row in run.history()] == [1]
    metrics = run.metrics()
    assert set(metrics) == {"train", "validation", "test"} & set(record["data"])
    assert all(np.isfinite(v) for split in metrics.values() for v in split.values())
    assert not (run.path / "exports").exists()
