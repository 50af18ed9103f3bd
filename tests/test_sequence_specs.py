"""The recurrent specs learn in a short training through `specc train`: the LSTM on the adding
problem ends far below the predict-the-mean baseline, the LSTM and GRU on the digits read row
by row far above chance. (README.md gives what the specs reach trained as written.)"""
from __future__ import annotations

import pytest

from conftest import SPECS, train_run

pytestmark = pytest.mark.slow


def test_lstm_learns_the_adding_problem(tmp_path):
    """A few epochs past the plateau where it predicts about the mean (epochs 1-6)."""
    run = train_run(SPECS / "lstm-adding.yaml", tmp_path, "--set", "train.epochs=12", "--no-export")
    test = run.metrics()["test"]
    assert test["baseline_mean_squared_error"] > 0.15
    assert test["loss"] < test["baseline_mean_squared_error"] / 10, test


@pytest.mark.parametrize("name", ["lstm-digits", "gru-digits"])
def test_recurrent_networks_read_the_digits_row_by_row(name, tmp_path):
    run = train_run(SPECS / f"{name}.yaml", tmp_path, "--set", "train.epochs=5", "--no-export")
    test = run.metrics()["test"]
    assert test["baseline_accuracy"] < 0.15
    assert test["accuracy"] > 0.6, test
