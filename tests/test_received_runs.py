"""A run folder received from someone else: every name and path read out of it stays inside
it, symbolic links are not followed out, and what it says is printed without control
characters. Each tampered folder is a copy of the shared `lenet_run`."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import cli, no_traceback, read_json

pytestmark = pytest.mark.slow


def received(run, tmp_path: Path) -> Path:
    """A copy of the trained run in tmp_path/project/received/<name>/<id>: outside git, its
    project is tmp_path/project (the folder holding its runs folder)."""
    folder = tmp_path / "project" / "received" / run.path.parent.name / run.path.name
    shutil.copytree(run.path, folder, symlinks=True)
    return folder


def change_record(folder: Path, **fields) -> None:
    record = read_json(folder / "record.json")
    record.update(fields)
    (folder / "record.json").write_text(json.dumps(record), encoding="utf-8")


# --- checkpoints/commit.json ----------------------------------------------------------------

def _log_commit(folder: Path, name: str, content: bytes) -> Path:
    """An interrupted commit naming `name`, its staged file in place: what recover() would
    rename over `checkpoints/<name>`."""
    from specc.run.checkpoints import next_name

    checkpoints = folder / "checkpoints"
    staged = checkpoints / next_name(name)
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_bytes(content)
    log = checkpoints / "commit.json"
    log.write_text(json.dumps({"files": {name: hashlib.sha256(content).hexdigest()}}), encoding="utf-8")
    return log


@pytest.mark.parametrize("form", ["absolute", "dotdot"])
@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_a_commit_log_naming_a_file_outside_the_checkpoints_folder_is_refused(lenet_run, tmp_path, form, command):
    folder = received(lenet_run, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n")
    name = str(victim) if form == "absolute" else os.path.relpath(victim, folder / "checkpoints")
    assert (folder / "checkpoints" / name).resolve() == victim.resolve()
    log = _log_commit(folder, name, b"overwritten\n")
    result = cli(command, folder)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert victim.read_text() == "mine\n"
    assert f"{log} names '{name}', which is not a checkpoint file" in result.stderr
    assert f"delete {log}" in result.stderr
    assert log.exists()  # refused as a whole: nothing renamed, nothing dropped


def test_a_commit_log_naming_a_symbolic_link_is_refused(lenet_run, tmp_path):
    from specc.run.checkpoints import next_name

    folder = received(lenet_run, tmp_path)
    victim = tmp_path / "victim.keras"
    victim.write_bytes(b"mine")
    last = folder / "checkpoints" / "last.keras"
    content = last.read_bytes()
    log = _log_commit(folder, "last.keras", content)
    staged = folder / "checkpoints" / next_name("last.keras")
    staged.unlink()
    staged.symlink_to(victim)
    victim.write_bytes(content)
    result = cli("evaluate", folder)
    assert result.exit_code == 2, result.output
    assert f"{staged} is a symbolic link" in result.stderr and str(log) in result.stderr
    assert not last.is_symlink()


def test_a_checkpoint_commit_holds_only_the_files_recover_accepts(tmp_path):
    from specc.run.checkpoints import COMMITTED, commit

    with pytest.raises(ValueError, match="holds only"):
        commit(tmp_path, {"notes.txt": lambda path: path.write_text("x")})
    hashes = commit(tmp_path, {name: (lambda path: path.write_text("x")) for name in COMMITTED})
    assert set(hashes) == set(COMMITTED)


# --- runs export --mlflow -------------------------------------------------------------------

def test_mlflow_export_uploads_no_symbolic_link(lenet_run, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    folder = received(lenet_run, tmp_path)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("private\n")
    (folder / "notes.txt").symlink_to(secret / "key.txt")
    (folder / "checkpoints" / "more").symlink_to(secret)
    (folder / "inside.json").symlink_to(folder / "record.json")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = cli("runs", "export", folder, "--mlflow", uri)
    no_traceback(done)
    assert done.exit_code == 0, done.output

    client = mlflow.MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name(lenet_run.path.parent.name).experiment_id])
    downloaded = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "down")))
    files = {str(p.relative_to(downloaded)) for p in downloaded.rglob("*")}
    assert "record.json" in files and "checkpoints/last.keras" in files
    assert not {"notes.txt", "checkpoints/more", "checkpoints/more/key.txt", "inside.json"} & files


# --- control characters -----------------------------------------------------------------------

ESCAPES = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b]0;title\x07\x9b2J\r\x08"


def test_runs_commands_print_no_control_character_from_a_record(lenet_run, tmp_path):
    folder = received(lenet_run, tmp_path)
    record = read_json(folder / "record.json")
    change_record(folder, message=f"done{ESCAPES}", spec_file=f"/spec{ESCAPES}.yaml",
                  warnings=[f"careful{ESCAPES}"], overrides=[f"seed=1{ESCAPES}"],
                  best=dict(record["best"], monitor=f"val_loss{ESCAPES}"))
    metrics = read_json(folder / "metrics.json")
    metrics["test"][f"accuracy{ESCAPES}"] = 1.0
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    runs = tmp_path / "project" / "received"
    outputs = {
        "show": cli("runs", "show", folder),
        "list": cli("runs", "list", "--runs-dir", runs),
        "compare": cli("runs", "compare", lenet_run.path, folder),
    }
    for command, result in outputs.items():
        no_traceback(result)
        assert result.exit_code == 0, (command, result.output)
        shown = result.stdout.replace("\n", "")
        assert shown.isprintable(), (command, [c for c in shown if not c.isprintable()])
    assert "done]52;c;ZWNobyBwd25lZA==]0;title2J" in outputs["show"].stdout
    assert "val_loss]52;c;" in outputs["list"].stdout


def test_an_error_quoting_a_record_prints_no_control_character(lenet_run, tmp_path):
    pytest.importorskip("mlflow")
    folder = received(lenet_run, tmp_path)
    change_record(folder, status=f"running{ESCAPES}")
    result = cli("runs", "export", folder, "--mlflow", f"sqlite:///{tmp_path / 'mlflow.db'}")
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert "is running]52;c;" in result.stderr and result.stderr.replace("\n", "").isprintable()


# --- duplicate keys -----------------------------------------------------------------------------

def test_a_record_with_a_repeated_key_is_refused(lenet_run, tmp_path):
    folder = received(lenet_run, tmp_path)
    text = (folder / "record.json").read_text(encoding="utf-8")
    (folder / "record.json").write_text(text.replace('"status": "completed"', '"status": "running", "status": "completed"'),
                                        encoding="utf-8")
    for args in (("runs", "show", folder), ("evaluate", folder)):
        result = cli(*args)
        no_traceback(result)
        assert result.exit_code == 2, (args, result.output)
        assert str(folder / "record.json") in result.stderr and "duplicate key 'status'" in result.stderr


def test_metrics_and_resume_state_with_a_repeated_key_are_refused(lenet_run, tmp_path):
    folder = received(lenet_run, tmp_path)
    (folder / "metrics.json").write_text('{"test": {"accuracy": 0.1}, "test": {"accuracy": 0.9}}', encoding="utf-8")
    shown = cli("runs", "show", folder)
    no_traceback(shown)
    assert shown.exit_code == 2 and "duplicate key 'test'" in shown.stderr
    (folder / "metrics.json").unlink()
    state = folder / "checkpoints" / "state.json"
    state.write_text(state.read_text(encoding="utf-8").replace('"epoch":', '"epoch": 0, "epoch":', 1),
                     encoding="utf-8")
    from specc.errors import UsageError
    from specc.run.checkpoints import read_state

    with pytest.raises(UsageError, match="duplicate key 'epoch'"):
        read_state(folder / "checkpoints", "received")


def test_a_run_spec_with_a_repeated_key_is_refused(lenet_run, tmp_path):
    folder = received(lenet_run, tmp_path)
    spec = folder / "spec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8") + "seed: 99\n", encoding="utf-8")
    result = cli("evaluate", folder)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert f"cannot read the spec it ran, {spec}:" in result.stderr and "duplicate key 'seed'" in result.stderr


# --- record.json spec_file ----------------------------------------------------------------------

def _reading(folder: Path, spec_file: Path, data_path: str) -> None:
    """The received run reads its data from `data_path`, relative to `spec_file`'s folder."""
    import yaml

    spec = yaml.safe_load((folder / "spec.yaml").read_text(encoding="utf-8"))
    spec["data"]["source"] = {"csv": {"path": data_path, "label": "y"}}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    change_record(folder, spec_file=str(spec_file))


@pytest.mark.parametrize("spec_in, data_path", [("victim", "secret.csv"), ("project", "../victim/secret.csv")])
def test_a_received_run_reads_no_relative_path_outside_its_project(lenet_run, tmp_path, spec_in, data_path):
    folder = received(lenet_run, tmp_path)
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "secret.csv").write_text("y,token\n1,hunter2\n")
    _reading(folder, tmp_path / spec_in / "spec.yaml", data_path)
    result = cli("evaluate", folder)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert f"data.source.csv.path: {data_path} would be read as {tmp_path / 'victim' / 'secret.csv'}" in result.stderr
    assert f"outside the project holding the run ({tmp_path / 'project'})" in result.stderr
    assert f"names the spec file {tmp_path / spec_in / 'spec.yaml'}" in result.stderr


def test_a_run_reads_relative_paths_from_a_spec_folder_inside_its_project(lenet_run, tmp_path):
    from specc.run.session import open_run

    folder = received(lenet_run, tmp_path)
    _reading(folder, tmp_path / "project" / "spec.yaml", "data/table.csv")
    opened = open_run(str(folder))
    assert opened.spec_dir == tmp_path / "project"


def test_a_relative_spec_file_in_a_record_is_not_read_against_the_current_folder(lenet_run, tmp_path):
    from specc.run.session import open_run

    folder = received(lenet_run, tmp_path)
    change_record(folder, spec_file="specs/x.yaml")
    assert open_run(str(folder)).spec_dir == folder


def test_a_run_folder_that_is_a_symbolic_link_is_not_written_through(lenet_run, tmp_path):
    folder = received(lenet_run, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(folder / "exports")
    (folder / "exports").symlink_to(elsewhere)
    result = cli("export", folder, "--format", "keras", "--force")
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert f"{folder / 'exports'} is a symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []
