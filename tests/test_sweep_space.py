"""The sweep section without Optuna or TensorFlow: the space as data, its defaults, its checks
(the golden cases tests/cases/invalid/sweep_*.yaml show the messages), and `--set` paths
written with brackets, which a search space's keys are."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from specc.api import load_and_check, resolved_spec
from specc.errors import UsageError
from specc.load import apply_overrides, load_spec
from specc.sweep_space import Parameter, direction_of, grid_size, override, parameters
from specc.validate import validate

ROOT = Path(__file__).resolve().parent.parent
SWEEP_SPEC = ROOT / "specs" / "mlp-wine-sweep.yaml"

BASE = """\
specc: 1
name: tiny
data:
  source: {builtin: iris}
task: {type: multiclass, classes: 3}
model:
  inputs: {features: [4]}
  layers:
    - dense: {units: 16, activation: relu}
    - dropout: 0.1
train: {epochs: 9}
"""


def spec(tmp_path, sweep: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(BASE + sweep, encoding="utf-8")
    return path


def problems(tmp_path, sweep: str) -> list:
    return validate(load_spec(spec(tmp_path, sweep)))


# --- the space as data -------------------------------------------------------------------------

def test_parameters_and_their_grids():
    section = {"space": {"a": {"choice": [1, "x", [2]]}, "b": {"int": [2, 10], "step": 4},
                         "c": {"uniform": [0.0, 0.5], "step": 0.25}, "d": {"log_uniform": [1e-4, 1e-2]},
                         "e": {"int": [1, 3]}}}
    params = parameters(section)
    assert [p.path for p in params] == ["a", "b", "c", "d", "e"]
    assert params[0].grid() == [1, "x", [2]]
    assert params[1].grid() == [2, 6, 10]
    assert params[2].grid() == [0.0, 0.25, 0.5]
    assert params[3].grid() is None and params[3].is_log
    assert params[4].grid() == [1, 2, 3]
    assert grid_size(params) is None
    assert grid_size([params[0], params[1], params[4]]) == 27
    assert Parameter("x", "uniform", (0.0, 1.0)).tried() == [(0, 0.0), (1, 1.0)]


def test_a_sampled_value_is_a_set_override_that_reads_back_as_it_was():
    assert override("model.layers[0].dense.units", 64) == "model.layers[0].dense.units=64"
    assert override("optimizer.adam.learning_rate", 1e-05) == "optimizer.adam.learning_rate=1e-05"
    doc = load_spec(ROOT / "specs" / "mlp-wine.yaml")
    out = apply_overrides(doc, [override("optimizer.rmsprop.learning_rate", 1e-05),
                                override("model.layers[0].dense.activation", "relu"),
                                override("model.layers[0].dense.units", 64)])
    assert out.data["optimizer"]["rmsprop"]["learning_rate"] == 1e-05
    assert out.data["model"]["layers"][0]["dense"]["activation"] == "relu"
    assert out.data["model"]["layers"][0]["dense"]["units"] == 64


def test_direction_follows_the_metric_unless_given():
    assert direction_of("val_loss") == "minimize"
    assert direction_of("val_accuracy") == "maximize"
    assert direction_of("val_auc") == "maximize"
    assert direction_of("val_mean_absolute_error") == "minimize"
    assert direction_of("val_loss", "maximize") == "maximize"


# --- --set paths with brackets -----------------------------------------------------------------

def test_set_takes_bracketed_indexes_like_dotted_ones():
    doc = load_spec(ROOT / "specs" / "mlp-wine.yaml")
    bracketed = apply_overrides(doc, ["model.layers[2].dense.units=7"])
    dotted = apply_overrides(doc, ["model.layers.2.dense.units=7"])
    assert bracketed.data == dotted.data
    assert bracketed.data["model"]["layers"][2]["dense"]["units"] == 7


@pytest.mark.parametrize("item, words", [("model.layers[x].dense.units=3", "is not a list index"),
                                         ("model.layers[2.dense.units=3", "unbalanced brackets"),
                                         ("model.layers[9].dense.units=3", "out of range"),
                                         ("[0]=3", "empty part")])
def test_bad_bracketed_paths(item, words):
    with pytest.raises(UsageError) as info:
        apply_overrides(load_spec(ROOT / "specs" / "mlp-wine.yaml"), [item])
    assert words in info.value.message


# --- defaults ----------------------------------------------------------------------------------

def test_the_resolved_section_fills_every_default(tmp_path):
    doc, _ = load_and_check(str(spec(tmp_path, "sweep:\n  space:\n    model.layers[0].dense.units: {choice: [8, 16]}\n")))
    assert resolved_spec(doc)["sweep"] == {
        "name": "tiny", "metric": "val_loss", "direction": "minimize", "sampler": "tpe", "trials": 20,
        "pruning": {"startup_trials": 5, "warmup_epochs": 3}, "storage": None, "heartbeat": 10,
        "space": {"model.layers[0].dense.units": {"choice": [8, 16]}}}


def test_a_grid_runs_each_point_once_by_default(tmp_path):
    doc, _ = load_and_check(str(spec(tmp_path, "sweep:\n  sampler: grid\n  metric: val_accuracy\n  pruning: false\n"
                                     "  space:\n    model.layers[0].dense.units: {choice: [8, 16]}\n"
                                     "    train.epochs: {int: [2, 6], step: 2}\n")))
    section = resolved_spec(doc)["sweep"]
    assert (section["trials"], section["direction"], section["pruning"]) == (6, "maximize", False)


# --- checks ------------------------------------------------------------------------------------

def test_the_bundled_sweep_spec_is_valid():
    doc, warnings = load_and_check(str(SWEEP_SPEC))
    assert warnings == []
    section = resolved_spec(doc)["sweep"]
    assert section["trials"] == 12 and section["sampler"] == "tpe"
    assert [p.path for p in parameters(section)] == ["optimizer.rmsprop.learning_rate", "model.layers[0].dense.units"]


def test_every_value_is_checked_with_the_others_at_the_spec_own(tmp_path):
    found = problems(tmp_path, "sweep:\n  space:\n    model.layers[1].dropout: {uniform: [0.0, 0.5]}\n"
                               "    model.layers[0].dense.units: {int: [1, 4096]}\n")
    assert found == []


def test_a_short_form_is_searched_by_its_own_path(tmp_path):
    """`dropout: 0.1` has no `rate` key to set; the message is the one --set gives."""
    [problem] = problems(tmp_path, "sweep:\n  space:\n    model.layers[1].dropout.rate: {uniform: [0.0, 0.5]}\n")
    assert "model.layers.1.dropout is a number, not a mapping" in problem.message
    assert problem.path == ("sweep", "space", "model.layers[1].dropout.rate")
    assert (problem.position.line, problem.position.column) == (14, 5)


def test_a_scored_metric_other_than_the_checkpoint_monitor_is_a_warning(tmp_path):
    [problem] = problems(tmp_path, "sweep:\n  metric: val_accuracy\n  space:\n    seed: {choice: [1, 2]}\n")
    assert problem.severity == "warning"
    assert "set train.checkpoints.monitor: val_accuracy" in problem.hint


def test_no_validation_split_no_sweep(tmp_path):
    text = BASE.replace("  source: {builtin: iris}\n", "  source: {builtin: iris}\n  split: {validation: 0}\n")
    path = tmp_path / "spec.yaml"
    path.write_text(text + "sweep:\n  space:\n    seed: {choice: [1, 2]}\n", encoding="utf-8")
    [problem] = validate(load_spec(path))
    assert "there is no validation split" in problem.message


def test_a_sweep_in_an_extending_file(tmp_path):
    """A sweep file that names its spec: `extends:` it and add the section."""
    spec(tmp_path, "")
    (tmp_path / "search.yaml").write_text(
        "specc: 1\nextends: spec.yaml\nname: tiny-search\nsweep:\n  space:\n"
        "    model.layers[0].dense.units: {choice: [4, 0]}\n", encoding="utf-8")
    [problem] = validate(load_spec(tmp_path / "search.yaml"))
    assert problem.position.file.endswith("search.yaml") and problem.position.line == 6
    assert "0 (choice 2 of 2) makes the spec invalid" in problem.message


def test_validate_and_help_import_neither_optuna_nor_tensorflow():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom specc.cli import main\n"
            f"for args in [['validate', {str(SWEEP_SPEC)!r}], ['sweep', '--help'], ['runs', 'export', '--help'],"
            " ['runs', 'list', '--help']]:\n"
            "    result = CliRunner().invoke(main, args)\n"
            "    assert result.exit_code == 0, (args, result.output)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'optuna', 'mlflow'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- storage: a spec's path like any other ------------------------------------------------------

SPACE = "  space:\n    model.layers[0].dense.units: {choice: [8, 16]}\n"


@pytest.mark.parametrize("url", ["sqlite:////tmp/elsewhere/study.db", "sqlite:///../study.db",
                                 "sqlite+pysqlite:///~/study.db?timeout=5"])
def test_a_sqlite_storage_outside_the_project_is_refused(tmp_path, url):
    folder = tmp_path / "project"
    folder.mkdir()
    problems = validate(load_spec(spec(folder, f"sweep:\n  storage: '{url}'\n{SPACE}")))
    assert [(p.path, p.code) for p in problems] == [(("sweep", "storage"), "path")]
    assert "is outside the spec's project" in problems[0].message


@pytest.mark.parametrize("url", ["sqlite:///study.db", "sqlite:///sweeps/study.db?timeout=5", "sqlite://",
                                 "sqlite:///:memory:", "postgresql://user@host/db"])
def test_a_storage_inside_the_project_or_on_a_server_is_valid(tmp_path, url):
    assert validate(load_spec(spec(tmp_path, f"sweep:\n  storage: '{url}'\n{SPACE}"))) == []


def test_a_storage_given_on_the_command_line_is_the_users_choice(tmp_path):
    doc, _ = load_and_check(str(spec(tmp_path, f"sweep:\n{SPACE}")), ["sweep.storage=sqlite:////tmp/elsewhere.db"])
    assert resolved_spec(doc)["sweep"]["storage"] == "sqlite:////tmp/elsewhere.db"


def test_a_relative_sqlite_file_is_the_one_beside_the_spec_whatever_the_current_folder(tmp_path, monkeypatch):
    from specc.sweep.settings import Settings, storage_url

    path = spec(tmp_path, f"sweep:\n  storage: sqlite:///sweeps/study.db?timeout=5\n{SPACE}")
    settings = Settings.of(resolved_spec(load_and_check(str(path))[0]))
    monkeypatch.chdir(tmp_path.parent)
    assert storage_url(settings, tmp_path / "unused", str(path)) == \
        f"sqlite:///{tmp_path.resolve() / 'sweeps' / 'study.db'}?timeout=5"
