"""Shared helpers and fixtures for the training, evaluation, prediction and export tests.

`lenet_run` trains specs/lenet-digits.yaml as written, once per test session, through
`specc train` (so the spec's `export:` section runs too); the tests that read its record,
evaluate it, predict with it or export it all reuse that one run.

TensorFlow is imported inside the fixtures only: other test files check, in fresh
processes, that parts of specc import without it.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SPEC_FILES = sorted(SPECS.glob("*.yaml"))


def tool(name: str):
    """The module tools/NAME.py, imported from its file (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def cli(*args):
    """`specc ARGS` in this process (TensorFlow stays imported between calls); the click
    Result has exit_code, stdout and stderr apart."""
    from specc.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def no_traceback(result) -> None:
    """The command ended through its exit code, not through an exception."""
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output


@dataclass
class Run:
    """A run folder written by `specc train`."""

    path: Path
    runs_dir: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    def record(self) -> dict:
        return read_json(self.path / "record.json")

    def metrics(self) -> dict:
        return read_json(self.path / "metrics.json")

    def history(self) -> list:
        return read_json(self.path / "history.json")


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


# `python -c CHECKPOINT_KILLER KILL_AT SPEC RUNS`: trains SPEC in that process and kills it
# (SIGKILL, no clean-up at all) on entering the KILL_AT-th os.replace into the run's
# checkpoints folder: a kill -9 at a chosen step of the checkpoint writes.
CHECKPOINT_KILLER = textwrap.dedent("""
    import os, signal, sys
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    kill_at, spec_file, runs = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    real_replace, seen = os.replace, [0]

    def replace(src, dst, *args, **kwargs):
        if "checkpoints" in str(dst):
            seen[0] += 1
            if seen[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace
    import specc
    doc, _ = specc.load_and_check(spec_file)
    specc.train(specc.resolved_spec(doc), spec_file, options=specc.TrainOptions(runs_dir=runs))
""")


def train_run(spec, runs_dir, *extra) -> Run:
    """Train with `specc train SPEC --runs-dir RUNS --quiet EXTRA...`; fail the test on an error."""
    result = cli("train", spec, "--runs-dir", runs_dir, "--quiet", *extra)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    return Run(Path(result.stdout.strip().splitlines()[-1]), Path(runs_dir))


def resolved(spec, *overrides) -> dict:
    """The resolved spec of a file, with --set style overrides."""
    from specc.api import load_and_check, resolved_spec

    doc, _ = load_and_check(str(spec), list(overrides))
    return resolved_spec(doc)


def splits_of(spec, *overrides):
    """The data splits `specc train` makes for a spec (same seed, same split)."""
    from specc.run.data import prepare_data

    return prepare_data(resolved(spec, *overrides), Path(spec).parent).splits


def load_weights(path: Path) -> list:
    import keras

    return keras.saving.load_model(path).get_weights()


def rebuild_schema() -> None:
    """The shipped schema (in memory) made again from the registries, as tools/bundle_schema.py
    makes it: after a test registers a task type or a data source, and after it removes it."""
    import importlib.util

    from specc.schema import load_schema
    from specc.schema_errors import validator

    spec = importlib.util.spec_from_file_location("bundle_schema", ROOT / "tools" / "bundle_schema.py")
    assert spec is not None and spec.loader is not None
    bundler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bundler)
    bundler.from_registries(load_schema())
    validator.cache_clear()


@pytest.fixture(scope="session")
def lenet_run(tmp_path_factory) -> Run:
    """specs/lenet-digits.yaml trained as written, with its export: section applied."""
    return train_run(SPECS / "lenet-digits.yaml", tmp_path_factory.mktemp("lenet-runs"))
