"""Mutants of the bundled specs: validation never raises, and what it accepts compiles.

The mutations are tools/fuzz_specs.py's (one implementation: the tool measures thousands of
mutants, these properties keep a bounded sample in CI). Hypothesis drives the tool's random
choices (`st.randoms`), so a failure shrinks to few, small edits. Derandomized: CI is stable.

The goal (see tools/fuzz_specs.py): a spec `specc validate` accepts either compiles or is
refused by `specc compile` with every problem at file:line:column; never an exit-70 crash.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


fuzz = _tool("fuzz_specs")
SOURCES = fuzz.load_sources(ROOT)


@st.composite
def mutants(draw):
    """A bundled spec with one to three of the tool's mutations."""
    source = draw(st.sampled_from(SOURCES))
    rng = draw(st.randoms(use_true_random=False))
    return fuzz.make_mutant(source, rng)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mutants")


def explain(mutant, outcome: str) -> str:
    return f"{mutant.source.name}: {mutant.description}\n{outcome}"


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutants())
def test_validation_never_raises_and_positions_every_error(folder, mutant):
    path = fuzz.write_mutant(mutant, folder)
    verdict = fuzz.check_validation(path, timeout=10.0)
    details = f"{verdict.outcome}: {verdict.error_type} {verdict.message} {verdict.where}"
    assert verdict.outcome in ("accepted", "rejected"), explain(mutant, details)


# Compiling imports TensorFlow and takes ~0.3 s a mutant: a few, without shrinking (each
# shrink step is another compile), so the test stays well under a minute.
@pytest.mark.slow
@settings(max_examples=20, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(mutants())
def test_what_validation_accepts_compiles_or_is_refused_with_positions(folder, mutant):
    path = fuzz.write_mutant(mutant, folder)
    assume(fuzz.check_validation(path, timeout=10.0).accepted)
    result = fuzz.compile_file(path, mutant.source.spec_dir)
    assert result.outcome in (fuzz.OK, fuzz.POSITIONED), explain(mutant, result.describe())
    if result.outcome == fuzz.POSITIONED:
        assert result.error_type.startswith("SpecInvalid"), explain(mutant, result.describe())
