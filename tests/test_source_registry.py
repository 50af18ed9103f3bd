"""Data sources known from their registry lines: the path checks, the validate-time checks of
a columnar file's header, the missing-package message and the by-name readers of predict and
evaluate derive from specc.registries.DATA_SOURCES.

The first tests take every registered source with files and show that a path outside the
spec's project is refused at validate time; the others register `tsv` (tests/toys/tsv_source.py:
one module, one registry line) and take it through validate, compile, train, evaluate on a
file with its columns in another order, and predict by column name.
"""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import rebuild_schema
from specc.registries import DATA_SOURCES, DataSourceInfo

ROOT = Path(__file__).resolve().parent.parent


def _problems(spec: Path) -> tuple[list, int]:
    from specc.api import problems_of

    return problems_of(str(spec))


def _register(info: DataSourceInfo):
    DATA_SOURCES.add(info.name, info)
    rebuild_schema()
    try:
        yield info
    finally:
        DATA_SOURCES.remove(info.name)
        rebuild_schema()


def _tsv_line() -> DataSourceInfo:
    from toys import tsv_source

    # the one registry line of a new columnar source
    return DataSourceInfo("tsv", "toys.tsv_source", columnar=True, suffixes=(".tsv",), schema=tsv_source.SCHEMA)


@pytest.fixture
def tsv_source():
    yield from _register(_tsv_line())


# --- every registered source with files ---------------------------------------------------------

SPEC = """\
specc: 1
name: outside
data:
  source: {SOURCE}
task: {type: multiclass, classes: 3}
model:
  inputs: {x: [4]}
  layers: [{dense: {units: 4}}]
"""


def _outside_path_problems(tmp_path: Path, form: str) -> dict:
    """Problems of a spec whose `form` source names ../outside for each of its path keys."""
    info = DATA_SOURCES.get(form)
    folder = tmp_path / "project"
    folder.mkdir()
    source = {form: {key: "../outside" for key in info.paths}}
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.replace("{SOURCE}", json.dumps(source)))
    problems, code = _problems(spec)
    return {"code": code, "found": {p.path: p for p in problems if p.code == "path"}}


@pytest.mark.parametrize("form", [name for name in DATA_SOURCES if DATA_SOURCES.get(name).files])
def test_every_file_source_refuses_a_path_outside_the_project(tmp_path, form):
    shown = _outside_path_problems(tmp_path, form)
    assert shown["code"] == 1
    for key in DATA_SOURCES.get(form).paths:
        problem = shown["found"].get(("data", "source", form, key))
        assert problem is not None, (key, list(shown["found"]))
        assert "outside the spec's project" in problem.message and problem.position is not None


def test_a_registered_source_gets_the_path_check(tmp_path, tsv_source):
    shown = _outside_path_problems(tmp_path, "tsv")
    assert ("data", "source", "tsv", "path") in shown["found"]


def test_a_missing_package_names_the_extra_that_installs_it(tmp_path):
    line = dataclasses.replace(_tsv_line(), name="tsv_needs", needs=("specc_no_such_module",), extra="toy")
    for _ in _register(line):
        spec = tmp_path / "spec.yaml"
        spec.write_text(SPEC.replace("{SOURCE}", "{tsv_needs: {path: data.tsv, label: y}}"))
        problems, code = _problems(spec)
        assert code == 1
        found = [p for p in problems if p.path == ("data", "source", "tsv_needs")]
        assert found and "specc_no_such_module" in found[0].message, [p.format() for p in problems]
        assert "pip install 'specc[toy]'" in found[0].hint
        assert found[0].position is not None
        # loading it (evaluate --data, a library call) says the same, before importing it
        from specc.data import load_source
        from specc.errors import UsageError

        with pytest.raises(UsageError) as caught:
            load_source({"tsv_needs": {"path": "data.tsv", "label": "y"}}, tmp_path, 0, key="--data")
        assert "specc_no_such_module" in caught.value.message and caught.value.hint == "pip install 'specc[toy]'"


@pytest.mark.parametrize("form", [name for name in DATA_SOURCES if DATA_SOURCES.get(name).columnar])
def test_every_columnar_source_reads_its_header_and_names_its_suffixes(form):
    import inspect

    from specc.registry import load_object

    info = DATA_SOURCES.get(form)
    read_header = getattr(load_object(info.module), "read_header", None)
    assert callable(read_header) and list(inspect.signature(read_header).parameters) == ["spec", "context"]
    assert info.suffixes and all(suffix.startswith(".") for suffix in info.suffixes)


# --- a columnar source registered by a test --------------------------------------------------------

COLUMNS = ["a", "b", "c"]
TSV_SPEC = """\
specc: 1
name: toy-tsv
seed: 3
data:
  source: {tsv: {path: train.tsv, label: kind}}
  split: {validation: 0.25, test: 0.25}
task: {type: multiclass, classes: 3}
model:
  inputs: {x: [3]}
  layers: [{dense: {units: 8, activation: relu}}]
optimizer: {adam: {learning_rate: 0.05}}
batch: {size: 16}
train: {epochs: 1}
"""


def _samples(count: int = 48) -> tuple[np.ndarray, list]:
    x = np.random.default_rng(0).normal(size=(count, 3)).round(3)
    kinds = ["low", "mid", "high"]
    return x, [kinds[i % 3] for i in range(count)]


def write_tsv(path: Path, order: list, x: np.ndarray, kinds: list) -> None:
    """The samples with their columns in `order` (a, b, c, and kind or not)."""
    lines = ["\t".join(order)]
    for values, kind in zip(x.tolist(), kinds):
        cells = dict(zip(COLUMNS, map(repr, values)), kind=kind)
        lines.append("\t".join(cells[name] for name in order))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def tsv_project(tmp_path, tsv_source):
    x, kinds = _samples()
    write_tsv(tmp_path / "train.tsv", COLUMNS + ["kind"], x, kinds)
    spec = tmp_path / "toy.yaml"
    spec.write_text(TSV_SPEC)
    return spec


def test_the_toy_source_validates(tsv_project):
    problems, code = _problems(tsv_project)
    assert code == 0, [p.format() for p in problems]


def test_the_toy_source_path_outside_the_project_is_refused(tsv_project):
    tsv_project.write_text(TSV_SPEC.replace("path: train.tsv", "path: ../../../etc/passwd"))
    problems, code = _problems(tsv_project)
    assert code == 1
    found = [p for p in problems if p.path == ("data", "source", "tsv", "path")]
    assert found and "outside the spec's project" in found[0].message
    assert (found[0].position.line, found[0].position.column) == (5, 24), found[0].format()


def test_the_toy_source_header_is_checked_at_validate_time(tsv_project):
    tsv_project.write_text(TSV_SPEC.replace("label: kind}", "label: kind, features: [a, bb]}"))
    problems, code = _problems(tsv_project)
    assert code == 1
    found = [p for p in problems if p.path == ("data", "source", "tsv", "features", 1)]
    assert found, [p.format() for p in problems]
    assert "no column 'bb' (named by tsv.features)" in found[0].message and found[0].position.line == 5
    assert found[0].hint == "the columns: a, b, c, kind"
    # the count of `auto` features comes from the header too
    tsv_project.write_text(TSV_SPEC.replace("inputs: {x: [3]}", "inputs: {x: [4]}"))
    problems, _ = _problems(tsv_project)
    assert any(p.path == ("model", "inputs", "x") and "has 3" in p.message for p in problems), \
        [p.format() for p in problems]


def test_the_toy_source_words_its_load_errors_with_its_own_form(tsv_project):
    from specc.data import load_source
    from specc.errors import DataError

    source = {"tsv": {"path": "train.tsv", "label": "kind", "features": ["a", "bb"]}}
    with pytest.raises(DataError) as caught:
        load_source(source, tsv_project.parent, 0)
    assert "no column 'bb'" in caught.value.message and "data.source.tsv.features" in caught.value.hint
    table = load_source({"tsv": {"path": "train.tsv", "label": "kind"}}, tsv_project.parent, 0)
    assert table.class_names == ["high", "low", "mid"] and table.features["x"].shape == (48, 3)
    assert table.columns["inputs"] == {"x": COLUMNS}


@pytest.mark.slow
def test_the_toy_source_compiles_trains_evaluates_and_predicts_by_name(tsv_project):
    pytest.importorskip("keras")
    from conftest import cli, no_traceback, train_run

    folder = tsv_project.parent
    compiled = cli("compile", tsv_project)
    assert compiled.exit_code == 0, compiled.output
    run = train_run(tsv_project, folder / "runs", "--no-export")
    assert run.record()["columns"]["inputs"] == {"x": COLUMNS}
    x, kinds = _samples(12)
    write_tsv(folder / "reordered.tsv", ["kind", "c", "a", "b"], x, kinds)
    write_tsv(folder / "ordered.tsv", COLUMNS + ["kind"], x, kinds)
    figures = {}
    for name in ("ordered", "reordered"):
        evaluated = cli("evaluate", run.run_id, "--runs-dir", run.runs_dir, "--format", "json",
                        "--data", f"{{tsv: {{path: {folder / name}.tsv}}}}")
        no_traceback(evaluated)
        assert evaluated.exit_code == 0, evaluated.output
        figures[name] = json.loads(evaluated.stdout)["data"]
    assert figures["ordered"] == figures["reordered"]
    predictions = {}
    write_tsv(folder / "inputs.tsv", ["b", "c", "a"], x, kinds)  # no label column, another order
    for name in ("ordered", "inputs"):
        out = folder / f"{name}-predictions.csv"
        predicted = cli("predict", run.run_id, "--runs-dir", run.runs_dir, "--input", folder / f"{name}.tsv",
                        "--output", out)
        no_traceback(predicted)
        assert predicted.exit_code == 0, predicted.output
        with open(out, newline="") as handle:
            predictions[name] = list(csv.DictReader(handle))
    assert len(predictions["inputs"]) == 12 and predictions["inputs"] == predictions["ordered"]
    assert {row["predicted"] for row in predictions["inputs"]} <= {"low", "mid", "high"}
    write_tsv(folder / "lacking.tsv", ["b", "a"], x, kinds)
    refused = cli("predict", run.run_id, "--runs-dir", run.runs_dir, "--input", folder / "lacking.tsv",
                  "--output", folder / "lacking.csv")
    no_traceback(refused)
    assert refused.exit_code == 3 and "no column 'c'" in refused.output


def test_the_schema_is_the_shipped_file_once_the_toy_is_gone():
    from specc.schema import load_schema

    assert load_schema() == json.loads((ROOT / "schemas" / "specc-v1.schema.json").read_text())
