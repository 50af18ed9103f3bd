"""`data.split.cross_validation: {folds: K, fold: i}`: K folds of the train + validation samples
of the plain split, fold i validating; on real data (scikit-learn's builtin sets), one real
`specc train`."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT, SPECS, cli, no_traceback, resolved, train_run
from specc.data import Table, load_source, split_table
from specc.errors import DataError

PLAIN = {"validation": 0.1, "test": 0.2, "stratify": True}
INVALID = ROOT / "tests" / "cases" / "invalid"


def builtin(name: str) -> Table:
    return load_source({"builtin": name}, Path("."), 0)


def folded(table: Table, split: dict, folds: int, fold: int, seed: int = 0):
    return split_table(table, {**split, "cross_validation": {"folds": folds, "fold": fold}}, seed)


def every_fold(table: Table, split: dict, folds: int, seed: int = 0) -> list:
    return [folded(table, split, folds, fold, seed) for fold in range(folds)]


def rows(part: Table) -> list:
    return sorted(part.rows.tolist())


def raises(parts: list, fn, *args) -> DataError:
    with pytest.raises(DataError) as info:
        fn(*args)
    text = info.value.format()
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    assert info.value.exit_code == 3 and info.value.hint
    return info.value


@pytest.mark.parametrize("name, split", [("wine", PLAIN), ("digits", PLAIN),
                                         ("diabetes", {"validation": 0.15, "test": 0.2, "stratify": False})])
def test_folds_are_disjoint_and_cover_train_and_validation(name, split):
    table = builtin(name)
    plain = split_table(table, split, 0)
    pool = rows(plain.train) + rows(plain.validation)
    parts = every_fold(table, split, 5)
    validations = [rows(p.validation) for p in parts]
    assert sorted(sum(validations, [])) == sorted(pool)  # disjoint and covering
    sizes = [len(v) for v in validations]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == len(pool)
    for part in parts:
        assert not set(rows(part.train)) & set(rows(part.validation))
        assert sorted(rows(part.train) + rows(part.validation)) == sorted(pool)
        assert part.test.rows.tolist() == plain.test.rows.tolist()  # the same test split, in order
        np.testing.assert_array_equal(table.features[next(iter(table.features))][part.validation.rows],
                                      part.validation.features[next(iter(table.features))])


def test_validation_fraction_does_not_size_the_fold():
    """The pool / K sizes validation; with validation: 0 the pool is the train split."""
    wine = builtin("wine")
    assert len(split_table(wine, PLAIN, 0).validation) == 17
    assert [len(p.validation) for p in every_fold(wine, PLAIN, 5)] == [29, 29, 29, 28, 28]
    no_validation = {**PLAIN, "validation": 0}
    plain = split_table(wine, no_validation, 0)
    assert plain.validation is None
    parts = every_fold(wine, no_validation, 4)
    assert sorted(sum((rows(p.validation) for p in parts), [])) == rows(plain.train)
    assert all(p.test.rows.tolist() == plain.test.rows.tolist() for p in parts)


def test_stratified_folds_keep_class_proportions():
    digits = builtin("digits")
    pool = split_table(digits, PLAIN, 3)
    whole = np.bincount(np.concatenate([pool.train.labels, pool.validation.labels]), minlength=10)
    for part in every_fold(digits, PLAIN, 5, seed=3):
        counts = np.bincount(part.validation.labels, minlength=10)
        assert np.all(np.abs(counts - whole / 5) < 1), counts  # each class spread evenly
    random = {**PLAIN, "stratify": False}
    plain = split_table(digits, random, 3)
    unstratified = every_fold(digits, random, 5, seed=3)
    assert sorted(sum((rows(p.validation) for p in unstratified), [])) == \
        sorted(rows(plain.train) + rows(plain.validation))


def test_same_seed_same_folds_other_seed_other_folds():
    wine = builtin("wine")
    first, again = folded(wine, PLAIN, 5, 1), folded(wine, PLAIN, 5, 1)
    assert first.validation.rows.tolist() == again.validation.rows.tolist()
    assert first.train.rows.tolist() == again.train.rows.tolist()
    other = folded(wine, PLAIN, 5, 1, seed=1)
    assert rows(other.validation) != rows(first.validation)


def test_hold_out_still_goes_to_test():
    digits = builtin("digits")
    split = {"validation": 0.1, "test": 0.1, "hold_out": {"classes": [9]}, "stratify": True}
    plain = split_table(digits, split, 0)
    for part in every_fold(digits, split, 3):
        assert part.test.rows.tolist() == plain.test.rows.tolist()
        assert 9 not in part.train.labels and 9 not in part.validation.labels


def test_errors():
    small = Table(features={"x": np.zeros((10, 2), np.float32)}, labels=np.arange(10) % 2, origin="small")
    raises(["small: data.split.cross_validation asks for 10 folds, but train + validation hold 8 samples",
            "a fold would be empty", "use at most 8 folds"], folded, small, PLAIN, 10, 0)
    assert len(folded(small, PLAIN, 8, 7).validation) == 1
    raises(["fold is 5, but the 5 folds are numbered 0 to 4"], folded, small, PLAIN, 5, 5)
    raises(["cross_validation folds the samples, but by: class"],
           folded, builtin("digits"), {"by": "class", "test": [9]}, 4, 0)
    raises(["data.split.validation is a source of its own"],
           folded, small, {"validation": {"source": {"builtin": "iris"}}}, 4, 0)


@pytest.mark.parametrize("case", ["data_split_cross_validation_fold", "data_split_cross_validation_by_class",
                                  "data_split_cross_validation_source"])
def test_validate_refuses(case, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = cli("validate", f"tests/cases/invalid/{case}.yaml")
    no_traceback(result)
    expected = (INVALID / f"{case}.expected").read_text(encoding="utf-8")
    assert f"exit: {result.exit_code}\n{result.stderr}" == expected
    assert result.exit_code == 1


def test_validate_accepts_folds_and_early_stopping_on_a_fold():
    wine = SPECS / "mlp-wine.yaml"
    result = cli("validate", wine, "--set", "data.split.cross_validation={folds: 5, fold: 4}",
                 "--set", "data.split.validation=0", "--set", "train.early_stopping=true")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    result = cli("validate", wine, "--set", "data.split.cross_validation={folds: 1, fold: 0}")
    assert result.exit_code == 1 and "cross_validation.folds" in result.stderr


def test_train_on_a_fold(tmp_path):
    """mlp-wine: 178 samples, test 35, a pool of 143 in 5 folds: fold 2 validates on 28 or 29."""
    overrides = ["--set", "data.split.cross_validation={folds: 5, fold: 2}", "--set", "train.epochs=2"]
    run = train_run(SPECS / "mlp-wine.yaml", tmp_path / "runs", "--no-export", *overrides)
    record = run.record()
    assert record["status"] == "completed"
    spec = yaml.safe_load((run.path / "spec.yaml").read_text(encoding="utf-8"))
    assert spec["data"]["split"]["cross_validation"] == {"folds": 5, "fold": 2}
    assert resolved(SPECS / "mlp-wine.yaml", "data.split.cross_validation={folds: 5, fold: 2}")["data"]["split"][
        "cross_validation"] == {"folds": 5, "fold": 2}
    assert record["data"]["test"] == 35 and record["data"]["validation"] in (28, 29)
    assert record["data"]["train"] + record["data"]["validation"] == 143
    assert len(run.history()) == 2 and "val_loss" in run.history()[0]
    assert set(run.metrics()) >= {"train", "validation", "test"}
