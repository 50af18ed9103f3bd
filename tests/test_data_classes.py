"""Classes named in a spec's data, on real data: `data.select`, `data.split.hold_out`, the class
lists of `by: class`, and the run's data preparation that applies them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from specc.data import Table, check_labels, load_source, select_classes, split_table
from specc.errors import DataError


def digits() -> Table:
    return load_source({"builtin": "digits"}, Path("."), 0)


def iris() -> Table:
    return load_source({"builtin": "iris"}, Path("."), 0)


def raises(parts: list, fn, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        fn(*args, **kwargs)
    text = info.value.format()
    for part in parts:
        assert part in text, f"{part!r} not in {text!r}"
    return info.value


def counts(table: Table, minlength: int = 10) -> list:
    return np.bincount(table.labels, minlength=minlength).tolist()


# ---------------------------------------------------------------- data.select

def test_select_keeps_classes_by_id_or_name_renumbered_in_id_order():
    whole = digits()
    picked = select_classes(whole, {"classes": ["8", 3, 5]})
    assert picked.class_names == ["3", "5", "8"]
    assert counts(picked, 3) == [int(np.sum(whole.labels == c)) for c in (3, 5, 8)]
    assert picked.description == "digits: 539 samples, 64 features, 3 classes"
    # the samples are the source's own, and say which rows they were
    np.testing.assert_array_equal(picked.features["x"], whole.features["x"][picked.rows])
    np.testing.assert_array_equal(np.array(["3", "5", "8"])[picked.labels], whole.labels[picked.rows].astype(str))
    check_labels(picked, {"type": "multiclass", "classes": 3})


def test_select_exclude_and_binary_from_two_classes():
    two = select_classes(iris(), {"exclude": ["setosa"]})
    assert two.class_names == ["versicolor", "virginica"] and counts(two, 2) == [50, 50]
    check_labels(two, {"type": "binary"})
    assert select_classes(iris(), None).class_names == ["setosa", "versicolor", "virginica"]


def test_select_of_ids_without_class_names():
    """Synthetic classes have ids only: the kept ids become the names, so predictions still
    say which source class each is."""
    blobs = load_source({"synthetic": {"kind": "classification", "samples": 90, "classes": 3}}, Path("."), 0)
    kept = select_classes(blobs, {"classes": [2, 0]})
    assert kept.class_names == ["0", "2"] and counts(kept, 2) == [30, 30]
    raises(["names class 'a', but the data's classes have no names (its labels are class ids: 0, 1, 2)",
            "name the classes in data.select.classes by id"], select_classes, blobs, {"classes": ["a"]})
    raises(["names class 7, which the data does not have", "the classes: 0, 1, 2"],
           select_classes, blobs, {"classes": [7]})


def test_select_mistakes_name_the_classes_the_data_has():
    raises(["builtin iris: data.select.classes names class 'setosaa', which the data does not have "
            "(did you mean 'setosa'?)", "the classes: 0 (setosa), 1 (versicolor), 2 (virginica)"],
           select_classes, iris(), {"classes": ["setosaa"]})
    raises(["data.select.exclude names class 3"], select_classes, iris(), {"exclude": [3]})
    raises(["data.select.exclude drops every class the data has (0, 1, 2)"],
           select_classes, iris(), {"exclude": [0, 1, 2]})
    diabetes = load_source({"builtin": "diabetes"}, Path("."), 0)
    raises(["data.select.classes names classes, but the labels are not one class id per sample"],
           select_classes, diabetes, {"classes": [1]})


def test_select_applies_to_explicit_split_files_too(tmp_path):
    """A test file of all three species under select {exclude: [setosa]}: its setosa rows are
    dropped and the others numbered as training numbers them; ids without names likewise."""
    header = "a,b,species\n"
    (tmp_path / "test.csv").write_text(header + "1,2,virginica\n3,4,setosa\n5,6,versicolor\n", encoding="utf-8")
    train = select_classes(iris(), {"exclude": ["setosa"]})
    test_file = {"source": {"csv": {"path": "test.csv", "label": "species"}}}
    parts = split_table(train, {"test": test_file}, 0, base_dir=tmp_path, select={"exclude": ["setosa"]})
    assert parts.test.class_names == ["versicolor", "virginica"]
    assert parts.test.labels.tolist() == [1, 0] and parts.test.rows.tolist() == [0, 2]
    assert parts.test.lines.tolist() == [2, 4]
    blobs = load_source({"synthetic": {"kind": "classification", "samples": 90, "classes": 3}}, Path("."), 0)
    (tmp_path / "ids.csv").write_text("a,b,y\n1,2,2\n3,4,0\n5,6,1\n", encoding="utf-8")
    ids_file = {"source": {"csv": {"path": "ids.csv", "label": "y"}}}
    kept = select_classes(blobs, {"classes": [1, 2]})
    parts = split_table(kept, {"validation": ids_file, "test": 0.2}, 0, base_dir=tmp_path, select={"classes": [1, 2]})
    assert parts.validation.labels.tolist() == [1, 0] and parts.validation.class_names == ["1", "2"]
    (tmp_path / "none.csv").write_text(header + "3,4,setosa\n", encoding="utf-8")
    raises(["none.csv: none of its samples is of the classes data.select keeps (versicolor, virginica)"],
           split_table, train, {"test": {"source": {"csv": {"path": "none.csv", "label": "species"}}}}, 0,
           base_dir=tmp_path, select={"exclude": ["setosa"]})


# ---------------------------------------------------------------- data.split.hold_out

def test_hold_out_moves_every_sample_of_its_classes_to_test():
    whole = digits()
    split = {"validation": 0.1, "test": 0.2, "stratify": True, "hold_out": {"classes": ["9"]}}
    parts = split_table(whole, split, 0)
    nines = int(np.sum(whole.labels == 9))
    assert counts(parts.train)[9] == 0 and counts(parts.validation)[9] == 0
    assert counts(parts.test)[9] == nines
    others = len(whole) - nines
    # the fractions split the other classes' samples (rounded down), stratified
    assert len(parts.validation) == int(others * 0.1) and len(parts.test) == int(others * 0.2) + nines
    assert len(parts.train) + len(parts.validation) + len(parts.test) == len(whole)
    rows = np.concatenate([t.rows for _, t in parts.items()])
    assert sorted(rows.tolist()) == list(range(len(whole)))
    assert all(abs(c - 18) <= 1 for c in counts(parts.validation)[:9])
    again = split_table(whole, split, 0)
    assert np.array_equal(again.test.rows, parts.test.rows)


def test_hold_out_without_a_test_fraction_tests_on_the_held_out_classes():
    parts = split_table(iris(), {"validation": 0.2, "test": 0, "hold_out": {"classes": [2]}}, 0)
    assert counts(parts.test, 3) == [0, 0, 50]
    assert counts(parts.train, 3)[2] == 0 and len(parts.validation) == 20


def test_hold_out_mistakes(tmp_path):
    raises(["data.split.hold_out holds out every class; none is left to train on"],
           split_table, iris(), {"hold_out": {"classes": [0, 1, 2]}}, 0)
    raises(["data.split.hold_out.classes names class 'daisy'"],
           split_table, iris(), {"hold_out": {"classes": ["daisy"]}}, 0)
    test_file = {"source": {"builtin": "iris"}}
    raises(["hold_out moves samples to the test split, but data.split.test is a source of its own"],
           split_table, iris(), {"test": test_file, "hold_out": {"classes": [2]}}, 0, base_dir=tmp_path)
    raises(["data.split.hold_out cannot be used with by: class"],
           split_table, iris(), {"by": "class", "test": [2], "hold_out": {"classes": [2]}}, 0)


# ---------------------------------------------------------------- by: class

def test_by_class_with_class_lists():
    parts = split_table(digits(), {"by": "class", "validation": [5, 6], "test": [7, 8, "9"]}, 0)
    assert [np.unique(t.labels).tolist() for _, t in parts.items()] == [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]
    parts = split_table(digits(), {"by": "class", "validation": 0.2, "test": [0, 1]}, 0)
    # a fraction takes the last ids of the classes not listed
    assert [np.unique(t.labels).tolist() for _, t in parts.items()] == [[2, 3, 4, 5, 6, 7], [8, 9], [0, 1]]


def test_by_class_fractions_as_before():
    parts = split_table(digits(), {"by": "class", "validation": 0, "test": 0.3}, 0)
    assert parts.validation is None
    assert [np.unique(t.labels).tolist() for _, t in parts.items()] == [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9]]
    raises(["the test split is empty: 3 classes * 0.2 < 1 class"],
           split_table, iris(), {"by": "class", "test": 0.2}, 0)


def test_by_class_list_mistakes():
    raises(["class 7 is listed in both data.split.validation and data.split.test"],
           split_table, digits(), {"by": "class", "validation": [6, 7], "test": [7, 8]}, 0)
    raises(["the train split is empty: validation and test take all 3 classes"],
           split_table, iris(), {"by": "class", "validation": [0], "test": [1, 2]}, 0)
    raises(["the train split is empty"], split_table, iris(), {"by": "class", "validation": 0.5, "test": [1, 2]}, 0)
    raises(["data.split.test is a list of classes, which needs data.split.by: class"],
           split_table, iris(), {"test": [2]}, 0)
    raises(["names class 'seven', which the data does not have"],
           split_table, digits(), {"by": "class", "test": ["seven"]}, 0)


# ---------------------------------------------------------------- through the run's data preparation

def test_a_run_prepares_selected_classes_and_hold_out(tmp_path):
    """specc train's data step: select, check the labels against the task, split."""
    from conftest import splits_of

    spec = tmp_path / "s.yaml"
    spec.write_text("specc: 1\nname: s\ndata:\n  source: {builtin: digits}\n  select: {exclude: [0]}\n"
                    "  split: {validation: 0.1, test: 0.2, hold_out: {classes: ['9']}}\n"
                    "task: {type: multiclass, classes: 9}\nmodel:\n  inputs: {x: [64]}\n  layers:\n"
                    "    - dense: {units: 8}\n", encoding="utf-8")
    parts = splits_of(spec)
    assert parts.train.class_names == [str(c) for c in range(1, 10)]
    assert counts(parts.train, 9)[8] == 0 and counts(parts.test, 9)[8] == 180
    assert 0 not in [int(v) for v in digits().labels[np.concatenate([t.rows for _, t in parts.items()])]]


def test_an_explicit_test_file_leaves_all_of_the_source_to_training(tmp_path):
    from conftest import splits_of

    (tmp_path / "test.csv").write_text("a,b,y\n1,2,0\n3,4,1\n", encoding="utf-8")
    (tmp_path / "train.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)),
                                        encoding="utf-8")
    spec = tmp_path / "s.yaml"
    spec.write_text("specc: 1\nname: s\ndata:\n  source: {csv: {path: train.csv, label: y}}\n"
                    "  split: {test: {source: {csv: {path: test.csv, label: y}}}}\n"
                    "task: {type: binary}\nmodel:\n  inputs: {x: [2]}\n  layers:\n    - dense: {units: 4}\n",
                    encoding="utf-8")
    parts = splits_of(spec)
    assert (len(parts.train), parts.validation, len(parts.test)) == (40, None, 2)
    asked = splits_of(spec, "data.split.validation=0.1")
    assert (len(asked.train), len(asked.validation)) == (36, 4)


@pytest.mark.slow
def test_evaluate_on_other_data_keeps_the_selected_classes_numbered_as_training(tmp_path):
    """A run trained on iris without setosa (classes renumbered 0, 1) evaluated on a CSV of all
    three species: the setosa rows are left out and the others numbered as training numbered
    them, so the accuracy is that of the predicted names."""
    import csv
    import json

    from conftest import cli, no_traceback, train_run

    spec = tmp_path / "s.yaml"
    spec.write_text("specc: 1\nname: s\nseed: 3\ndata:\n  source: {builtin: iris}\n  select: {exclude: [setosa]}\n"
                    "  preprocessing: [normalization]\n"
                    "task: {type: multiclass, classes: 2}\nmodel:\n  inputs: {x: [4]}\n  layers:\n"
                    "    - dense: {units: 8, activation: relu}\noptimizer: {adam: {learning_rate: 0.05}}\n"
                    "train: {epochs: 20}\n", encoding="utf-8")
    run = train_run(spec, tmp_path / "runs", "--no-export")
    table = iris()
    given = tmp_path / "iris.csv"
    with given.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.feature_names + ["species"])
        for row, label in zip(table.features["x"], table.labels):
            writer.writerow([*map(float, row), table.class_names[label]])
    source = f"{{csv: {{path: {given}, label: species}}}}"
    result = cli("evaluate", run.path, "--data", source, "--format", "json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    accuracy = json.loads(result.stdout)["data"]["accuracy"]
    out = tmp_path / "p.csv"
    assert cli("predict", run.path, "--input", given, "--output", out).exit_code == 0
    rows = list(csv.DictReader(out.open()))
    named = [r["predicted"] == table.class_names[label] for r, label in zip(rows, table.labels) if label != 0]
    assert accuracy == pytest.approx(sum(named) / len(named), abs=1e-6) and accuracy > 0.7
