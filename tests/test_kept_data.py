"""A warm worker reads a source once for its trials and folds (specc/run/data.py
`keep_loaded_data`): the same table while the source's files are unchanged, read again once
they change, and each run given its own copy."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import resolved

SPEC = """specc: 1
name: kept-data
seed: 3
data:
  source: {csv: {path: table.csv, label: label}}
  split: {validation: 0.25, test: 0.25}
task: {type: multiclass, classes: 2}
model:
  inputs: {features: [2]}
  layers: [{dense: {units: 4}}]
  head: auto
loss: auto
optimizer: adam
train: {epochs: 1}
"""


def write_table(folder, scale: float) -> None:
    rows = ["a,b,label"] + [f"{i * scale},{(i % 5) * scale},{i % 2}" for i in range(40)]
    (folder / "table.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture
def kept(monkeypatch, tmp_path):
    """The spec, its CSV file, and this process keeping loaded data (as a warm worker does)."""
    from specc.run import data

    monkeypatch.setattr(data, "_KEPT", {})
    (tmp_path / "spec.yaml").write_text(SPEC)
    write_table(tmp_path, 1.0)
    data.keep_loaded_data()
    return tmp_path


def prepared(folder, *overrides):
    from specc.run.data import prepare_data

    return prepare_data(resolved(folder / "spec.yaml", *overrides), folder)


def test_a_source_is_read_once_while_its_file_is_unchanged_and_again_once_it_changed(kept):
    from specc.run import data

    first = prepared(kept)
    table = data._KEPT["table"]
    second = prepared(kept)
    assert data._KEPT["table"] is table  # not read again
    assert second.fingerprint == first.fingerprint
    np.testing.assert_array_equal(second.splits.train.features["x"], first.splits.train.features["x"])

    write_table(kept, 10.0)
    changed = prepared(kept)
    assert data._KEPT["table"] is not table
    assert changed.fingerprint != first.fingerprint
    assert changed.splits.train.features["x"].max() == 10 * first.splits.train.features["x"].max()


def test_each_run_gets_its_own_copy_of_a_kept_source(kept):
    """What a run is given is never the kept table: a run that changed its arrays in place
    leaves the next run's data as read."""
    from specc.run import data

    spec = resolved(kept / "spec.yaml")
    args = (spec["data"]["source"], None, spec["task"], spec["seed"], kept)
    for _ in range(2):  # read, then kept
        table, _ = data._loaded(*args)
        assert table is not data._KEPT["table"]
        original = data._KEPT["table"].features["x"].copy()
        table.features["x"][:] = -1.0
        assert (data._KEPT["table"].features["x"] == original).all()
    assert (prepared(kept).splits.train.features["x"] != -1.0).any()


def test_the_folds_of_a_trial_share_the_kept_source_and_split_it_their_own_way(kept):
    from specc.run import data

    folds = [prepared(kept, f"data.split.cross_validation={{folds: 3, fold: {k}}}") for k in range(3)]
    table = data._KEPT["table"]
    prepared(kept, "data.split.cross_validation={folds: 3, fold: 0}")
    assert data._KEPT["table"] is table
    validations = [f.splits.validation.rows.tolist() for f in folds]
    assert len({tuple(v) for v in validations}) == 3  # three different folds validate


def test_a_process_that_did_not_ask_keeps_nothing(monkeypatch, tmp_path):
    from specc.run import data

    monkeypatch.setattr(data, "_KEPT", {})
    (tmp_path / "spec.yaml").write_text(SPEC)
    write_table(tmp_path, 1.0)
    prepared(tmp_path)
    assert "table" not in data._KEPT
