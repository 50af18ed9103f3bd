"""specc/checks/plugins.py reads plugin modules without importing them: what it reads must be
what `specc compile` finds once it imports them (the names a layer is called by, the
arguments its constructor takes), and a module that registers layers some other way must
leave its layers unknown (validation then only warns)."""
from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import pytest

from specc.checks import plugins

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "custom_layer" / "my_layers.py"


def test_the_example_plugin_is_read():
    layers = plugins._read(str(EXAMPLE))
    assert set(layers) == {"scale", "my_layers>scale"}
    assert layers["scale"].args == ("initial",) + plugins.LAYER_BASE_ARGS
    assert layers["scale"].keeps_shape


def test_a_module_that_registers_otherwise_is_not_read(tmp_path):
    loop = tmp_path / "loop_layers.py"
    loop.write_text("import keras\n\nfor n in ('a', 'b'):\n"
                    "    keras.saving.register_keras_serializable(name=n)(type(n, (keras.layers.Layer,), {}))\n")
    assert plugins._read(str(loop)) is None
    other = tmp_path / "other_layers.py"
    other.write_text("import keras_hub\n")
    assert plugins._read(str(other)) is None


@pytest.mark.slow
def test_what_is_read_is_what_compile_finds():
    keras = pytest.importorskip("keras")
    from specc.compile.layers import custom_layers
    from specc.compile.objects import init_arg_names

    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import my_layers  # noqa: F401 - registers Scale
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    found = custom_layers()
    for name, layer in plugins._read(str(EXAMPLE)).items():
        assert found[name].__name__ == layer.cls
        assert set(init_arg_names(found[name])[0]) == set(layer.args)
    base = [p for p in inspect.signature(keras.layers.Layer.__init__).parameters if p not in ("self", "kwargs")]
    assert tuple(base) == plugins.LAYER_BASE_ARGS


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Scale", "MyDenseLayer", "HTTPLayer", "Conv2DPlus", "already_snake"])
def test_snake_case_is_keras_own(name):
    pytest.importorskip("keras")
    from keras.src.utils.naming import to_snake_case

    assert plugins.to_snake_case(name) == to_snake_case(name)
