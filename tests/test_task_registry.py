"""Task types known from their declarations alone: every check and the schema derive from
specc.registries.TASK_TYPES, so each registered type (and one registered by a test) gets the
validate-time shape checks, its own `task:` field namespace and its own loss.

The first tests build a spec of each registered type from its declaration (its parts, the part
the data feeds, its links and required fields) and seed a layer that cannot take its input in
each network; the others register `toy_vae` (tests/toy_task: a declaration module, a paradigm
module, one registry line) and take it through validate, render, compile, train, evaluate and
predict.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import rebuild_schema
from specc.registries import TASK_TYPES
from specc.tasks.base import DATA, TaskType

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 64  # builtin digits: 64 values per sample
SEED = {"lstm": {"units": 4}}  # needs (batch, steps, features): no network here gives it 3-D input


def _example(schema: dict) -> object:
    """A valid value of a required task field (a count, a name)."""
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "integer":
        return max(2, schema.get("minimum", 2))
    if schema.get("type") == "array":
        return ["a", "b"]
    raise AssertionError(f"no example value for {schema}")


def _units(declared: TaskType, part: str, features: int) -> int:
    """The units a part ends with so that the spec is valid: the shape the type requires of
    its output, the data's size when it makes samples, else a code of 8."""
    if part in declared.part_outputs:
        return int(declared.part_outputs[part].shape[0])
    makes_data = any(link.source == part and link.target in (DATA, declared.feeds) for link in declared.links)
    return features if makes_data else 8


def _spec(declared: TaskType, seeded: tuple = (), features: int = FEATURES) -> dict:
    """A spec of the type whose data takes `features` values per sample, with the seeded
    layer first in the network at `seeded`."""
    task = {"type": declared.name, **{f: _example(declared.fields[f]) for f in declared.required}}
    if declared.parts:
        model: dict = {part: {"layers": [{"dense": {"units": _units(declared, part, features)}}]} for part in declared.parts}
        if declared.feeds:
            model[declared.feeds]["inputs"] = {"x": [features]}
    else:
        model = {"inputs": {"x": [features]}, "layers": [{"dense": {"units": 8}}]}
    if seeded:
        network = model[seeded[1]] if len(seeded) > 1 else model
        network["layers"].insert(0, dict(SEED))
    return {"specc": 1, "name": "seeded", "data": {"source": {"builtin": "digits"}}, "task": task,
            "model": model, "train": {"epochs": 1}}


def _problems(tmp_path: Path, spec: dict) -> list:
    from specc.api import problems_of

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return problems_of(str(path))[0]


def _networks(declared: TaskType) -> list:
    return [("model", part) for part in declared.parts] or [("model",)]


CASES = [(name, network) for name in TASK_TYPES for network in _networks(TASK_TYPES.get(name))]


@pytest.mark.parametrize("name", list(TASK_TYPES))
def test_each_type_has_a_spec_without_shape_problems(tmp_path, name):
    problems = _problems(tmp_path, _spec(TASK_TYPES.get(name)))
    assert [p.format() for p in problems if p.code == "shape"] == []


@pytest.mark.parametrize("name,network", CASES, ids=[f"{n}-{'.'.join(w)}" for n, w in CASES])
def test_a_seeded_shape_error_is_reported_at_its_layer(tmp_path, name, network):
    problems = _problems(tmp_path, _spec(TASK_TYPES.get(name), network))
    seeded = network + ("layers", 0)
    found = [p for p in problems if p.path == seeded and p.severity == "error"]
    assert found, [p.format() for p in problems]
    assert found[0].position is not None and found[0].position.line > 1


@pytest.mark.parametrize("name", list(TASK_TYPES))
def test_the_input_the_data_feeds_is_checked_against_the_data(tmp_path, name):
    declared = TASK_TYPES.get(name)
    problems = _problems(tmp_path, _spec(declared, features=FEATURES - 1))
    fed = ("model", declared.feeds) if declared.feeds else ("model",)
    found = [p for p in problems if p.path[:len(fed) + 1] == fed + ("inputs",)]
    assert found and f"{FEATURES}" in found[0].message, [p.format() for p in problems]


# --- a task type registered by a test ----------------------------------------------------------

@pytest.fixture
def toy_task():
    from toy_task.declaration import TOY

    TASK_TYPES.add(TOY.name, TOY)  # the one registry line of a new task type
    rebuild_schema()
    try:
        yield TOY
    finally:
        TASK_TYPES.remove(TOY.name)
        rebuild_schema()


def test_the_registered_schema_is_the_shipped_one_again_after_the_toy(toy_task):
    from specc.schema import load_schema

    assert toy_task.name in load_schema()["$defs"]["task"]["properties"]["type"]["enum"]


def test_the_schema_is_the_shipped_file_once_the_toy_is_gone():
    from specc.schema import load_schema

    assert load_schema() == json.loads((ROOT / "schemas" / "specc-v1.schema.json").read_text())


TOY_SPEC = """\
specc: 1
name: toy
seed: 3
data:
  source: {builtin: digits}
  split: {validation: 0.2, test: 0.2}
  preprocessing:
    - rescaling: {scale: 0.0625}
task: {type: toy_vae, evaluation: {draws: 2}}
model:
  encoder:
    inputs: {image: [64]}
    layers:
      - dense: {units: 8, activation: relu}
  decoder:
    layers:
      - dense: {units: 64, activation: sigmoid}
loss: auto
optimizer: adam
batch: {size: 64}
train: {epochs: 1}
"""


def test_the_toy_type_has_its_own_field_namespace_and_loss(tmp_path, toy_task):
    from specc.api import problems_of

    spec = tmp_path / "toy.yaml"
    spec.write_text(TOY_SPEC)
    assert [p.format() for p in problems_of(str(spec))[0]] == []
    # few_shot's `evaluation:` is another field: its keys are not the toy's
    spec.write_text(TOY_SPEC.replace("{draws: 2}", "{shots: 1}"))
    problems = problems_of(str(spec))[0]
    assert [p.path for p in problems] == [("task", "evaluation", "shots")], [p.format() for p in problems]
    assert problems[0].position is not None and "allowed keys here: draws" in problems[0].hint
    spec.write_text(TOY_SPEC.replace("task: {type: toy_vae, evaluation: {draws: 2}}",
                                     "task: {type: few_shot, evaluation: {draws: 2}}"))
    assert ("task", "evaluation", "draws") in [p.path for p in problems_of(str(spec))[0]]
    # its own loss, by name: validate takes it, render writes it for `loss: auto`
    spec.write_text(TOY_SPEC.replace("loss: auto", "loss: toy_reconstruction"))
    assert [p.format() for p in problems_of(str(spec))[0]] == []


def test_the_toy_type_gets_the_shape_checks_and_the_path_checks(tmp_path, toy_task):
    from specc.api import problems_of

    spec = tmp_path / "toy.yaml"
    spec.write_text(TOY_SPEC.replace("      - dense: {units: 64, activation: sigmoid}",
                                     "      - dense: {units: 32, activation: sigmoid}")
                    .replace("source: {builtin: digits}", "source: {npz: {path: ../../outside.npz}}"))
    problems, code = problems_of(str(spec))
    assert code == 1
    shown = {p.path: p for p in problems}
    assert "reconstructs the input, (None, 64)" in shown[("model", "decoder")].message
    assert shown[("model", "decoder")].position.line == 16
    assert any(p.path[:2] == ("data", "source") and "outside" in p.message for p in problems), \
        [p.format() for p in problems]


@pytest.mark.slow
def test_the_toy_type_renders_compiles_trains_evaluates_and_predicts(tmp_path, toy_task):
    pytest.importorskip("keras")
    from conftest import cli, no_traceback

    spec = tmp_path / "toy.yaml"
    spec.write_text(TOY_SPEC)
    rendered = cli("render", spec)
    assert rendered.exit_code == 0, rendered.output
    assert yaml.safe_load(rendered.stdout)["loss"] == "toy_reconstruction"
    again = tmp_path / "rendered.yaml"
    again.write_text(rendered.stdout)
    checked = cli("validate", again)
    assert checked.exit_code == 0, checked.output
    compiled = cli("compile", spec)
    assert compiled.exit_code == 0, compiled.output
    trained = cli("train", spec, "--runs-dir", tmp_path / "runs", "--quiet")
    no_traceback(trained)
    assert trained.exit_code == 0, trained.output
    run = Path(trained.stdout.strip().splitlines()[-1])
    record = json.loads((run / "record.json").read_text())
    assert record["status"] == "completed" and set(record["parts"]) == {"encoder", "decoder"}
    evaluated = cli("evaluate", run, "--format", "json")
    assert evaluated.exit_code == 0, evaluated.output
    assert np.isfinite(json.loads(evaluated.stdout)["test"]["loss"])
    data = tmp_path / "x.npz"
    np.savez(data, x=np.zeros((3, 64), dtype="float32"))
    predicted = cli("predict", run, "--input", data, "--output", tmp_path / "out.npz")
    no_traceback(predicted)
    assert predicted.exit_code == 0, predicted.output
    assert (tmp_path / "out.npz").exists()


def test_the_with_help_names_an_example_setting_of_every_type(toy_task):
    from specc.cli.run_commands import with_examples

    shown = with_examples()
    assert "toy_vae normal=[0,1,2]" in shown
    for name in TASK_TYPES:
        if TASK_TYPES.get(name).options:
            assert f"{name} " in shown
