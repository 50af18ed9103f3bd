"""batch.accumulate: gradients of N batches are averaged into one update, for every paradigm
(the supervised one through Keras's optimizer; a GAN's two optimizers and a few-shot network's
one accumulate in `apply` the same way). A schedule's length counts batches: Keras advances
it every batch, also while it accumulates."""
from __future__ import annotations

import math
from pathlib import Path

import keras
import pytest

from specc.api import load_and_check, resolved_spec
from specc.render import resolve
from specc.run.session import open_run
from specc.run.train import TrainOptions, train

ROOT = Path(__file__).resolve().parent.parent
SPEC = {
    "specc": 1, "name": "accumulate", "seed": 3,
    "data": {"source": {"builtin": "iris"}, "split": {"validation": 0.2, "test": 0.2}},
    "task": {"type": "multiclass", "classes": 3},
    "model": {"inputs": {"x": [4]}, "layers": [{"dense": {"units": 8}}]},
    "batch": {"size": 8, "accumulate": 4},
    "train": {"epochs": 2},
}


def _iterations(optimizer) -> int:
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


@pytest.mark.slow
def test_accumulate_updates_once_per_n_batches(tmp_path):
    spec_file = tmp_path / "accumulate.yaml"
    spec_file.write_text("# written by the test\n")
    outcome = train(resolve(SPEC), str(spec_file), options=TrainOptions(runs_dir=str(tmp_path), export=False))
    model = open_run(str(outcome.record.path)).load_model("last")
    train_samples = outcome.record.read()["data"]["train"]
    batches = 2 * math.ceil(train_samples / 8)
    assert model.optimizer.gradient_accumulation_steps == 4
    assert _iterations(model.optimizer) == batches // 4


@pytest.mark.slow
@pytest.mark.parametrize("spec, overrides, batch, optimizers", [
    ("gan-digits.yaml", ["batch.size=64"], 64, ("optimizer", "d_optimizer")),  # batches of samples
    ("protonet-digits.yaml", ["task.episodes=6"], None, ("optimizer",)),        # one episode a step
], ids=["gan", "few_shot"])
def test_composite_paradigms_accumulate_and_count_schedules_in_batches(tmp_path, spec, overrides,
                                                                       batch, optimizers):
    sets = overrides + ["batch.accumulate=2", "train.epochs=2", "schedule=cosine_decay"]
    doc, _ = load_and_check(str(ROOT / "specs" / spec), sets)
    outcome = train(resolved_spec(doc), str(ROOT / "specs" / spec),
                    options=TrainOptions(runs_dir=str(tmp_path), export=False))
    steps_per_epoch = math.ceil(outcome.record.read()["data"]["train"] / batch) if batch else 6
    model = open_run(str(outcome.record.path)).load_model("last")
    batches = 2 * steps_per_epoch
    for name in optimizers:
        optimizer = getattr(model, name)
        assert optimizer.gradient_accumulation_steps == 2, name
        assert _iterations(optimizer) == batches // 2, name
        schedule = optimizer.get_config()["learning_rate"]["config"]
        assert schedule["decay_steps"] == batches, name  # not batches // accumulate
