"""batch.accumulate: gradients of N batches are averaged into one update."""
from __future__ import annotations

import math

import keras
import pytest

from specc.render import resolve
from specc.run.session import open_run
from specc.run.train import TrainOptions, train

SPEC = {
    "specc": 1, "name": "accumulate", "seed": 3,
    "data": {"source": {"builtin": "iris"}, "split": {"validation": 0.2, "test": 0.2}},
    "task": {"type": "multiclass", "classes": 3},
    "model": {"inputs": {"x": [4]}, "layers": [{"dense": {"units": 8}}]},
    "batch": {"size": 8, "accumulate": 4},
    "train": {"epochs": 2},
}


@pytest.mark.slow
def test_accumulate_updates_once_per_n_batches(tmp_path):
    spec_file = tmp_path / "accumulate.yaml"
    spec_file.write_text("# written by the test\n")
    outcome = train(resolve(SPEC), str(spec_file), options=TrainOptions(runs_dir=str(tmp_path), export=False))
    model = open_run(str(outcome.record.path)).load_model("last")
    train_samples = outcome.record.read()["data"]["train"]
    batches = 2 * math.ceil(train_samples / 8)
    assert model.optimizer.gradient_accumulation_steps == 4
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == batches // 4
