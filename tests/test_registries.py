"""Every registry entry conforms to its protocol, checked without training: each data source
and export format module imports (without TensorFlow) and has the members its protocol
names, with the parameters it names; each task type's implementation is a `Paradigm` whose
overrides take the base class's parameters. A protocol change that leaves an implementation
behind fails here in seconds, not in the slow export tests.
"""
from __future__ import annotations

import subprocess
import sys
import types
from typing import Mapping

import pytest

from specc.data.sources.protocol import DataSource
from specc.errors import SpeccError
from specc.export.formats import MIN_AGREEMENT, format_module
from specc.export.formats.protocol import ExportFormat
from specc.registries import DATA_SOURCES, EXPORT_FORMATS, QUANTIZE_MODES, TASK_TYPES
from specc.registry import conformance_problems, load_object


@pytest.mark.parametrize("name", DATA_SOURCES.names())
def test_every_data_source_conforms(name):
    assert conformance_problems(load_object(DATA_SOURCES.get(name).module), DataSource) == []


@pytest.mark.parametrize("name", EXPORT_FORMATS.names())
def test_every_export_format_conforms(name):
    info = EXPORT_FORMATS.get(name)
    module = load_object(info.module)
    assert conformance_problems(module, ExportFormat) == []
    assert isinstance(module.ARTIFACT, str) and module.ARTIFACT and "/" not in module.ARTIFACT
    assert isinstance(module.RUNTIME, str) and module.RUNTIME
    if info.quantizable:  # a tolerance for each mode it may be exported in
        assert isinstance(module.TOLERANCE, Mapping) and set(module.TOLERANCE) == set(QUANTIZE_MODES)
    else:
        assert isinstance(module.TOLERANCE, float) and module.TOLERANCE > 0


def test_every_quantization_mode_has_its_agreement_bound():
    assert set(MIN_AGREEMENT) == set(QUANTIZE_MODES)


def test_artifacts_have_distinct_names():
    artifacts = [load_object(EXPORT_FORMATS.get(name).module).ARTIFACT for name in EXPORT_FORMATS]
    assert len(set(artifacts)) == len(artifacts)


def test_sources_and_formats_load_without_tensorflow():
    modules = [DATA_SOURCES.get(n).module for n in DATA_SOURCES] + [EXPORT_FORMATS.get(n).module
                                                                      for n in EXPORT_FORMATS]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow  # imports Keras (no training)
@pytest.mark.parametrize("name", TASK_TYPES.names())
def test_every_task_type_names_a_conforming_paradigm(name):
    from specc.paradigms import implementation_of
    from specc.paradigms.base import Paradigm

    cls = implementation_of(TASK_TYPES.get(name))
    assert issubclass(cls, Paradigm) and conformance_problems(cls, Paradigm) == []


# --- what the checks catch ------------------------------------------------------------------

def format_with_old_write(monkeypatch) -> str:
    module = types.ModuleType("old_format")
    module.ARTIFACT, module.TOLERANCE, module.RUNTIME = "model.old", 1e-6, "keras"
    module.write = lambda model, path, quantize, calibration: None  # the protocol before ExportContext
    module.run = lambda context: ({}, [])
    monkeypatch.setitem(sys.modules, "old_format", module)
    return "old_format"


def test_a_format_left_behind_by_the_protocol_is_named_with_what_differs(monkeypatch):
    name = format_with_old_write(monkeypatch)
    with pytest.raises(SpeccError) as caught:
        format_module(name)
    assert caught.value.exit_code == 70
    assert caught.value.message == ("old_format does not implement ExportFormat: "
                                         "write(model, path, quantize, calibration) must take (context)")


def test_missing_members_and_a_function_for_a_value_are_named(monkeypatch):
    module = types.ModuleType("half_format")
    module.ARTIFACT = lambda: "model.half"
    monkeypatch.setitem(sys.modules, "half_format", module)
    assert conformance_problems(module, ExportFormat) == [
        "ARTIFACT must be a value, not a function", "no TOLERANCE", "no RUNTIME", "no write", "no run"]


def test_an_override_with_other_parameters_is_named():
    from specc.paradigms.base import Paradigm

    class Drifted(Paradigm):
        def parts(self, network):  # noqa: D102 - the base takes `model`
            return {}

    assert conformance_problems(Drifted, Paradigm) == ["parts(network) must take (model)"]
