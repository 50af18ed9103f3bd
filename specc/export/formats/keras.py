"""The `.keras` format: Keras's own file, read back by `keras.saving.load_model`."""
from __future__ import annotations

from typing import Any, Callable, Optional

from specc.export.formats._signature import single, spec

ARTIFACT = "model.keras"
TOLERANCE = 1e-6
RUNTIME = "keras"


def write(model: Any, path: Any, quantize: str, calibration: Optional[Callable]) -> None:
    model.save(path)


def run(path: str, inputs: dict, plugins: list, spec_dir: str) -> tuple:
    """Outputs and input signature, read back by Keras (specc's classes and the spec's
    plugins registered first)."""
    import keras

    from specc.compile import load_plugins
    from specc.paradigms import register_serializables

    register_serializables()
    load_plugins(plugins, spec_dir)
    model = keras.saving.load_model(path)
    signature = [spec(t.name.split(":")[0], t.shape, t.dtype) for t in model.inputs]
    return model.predict(single(inputs), verbose=0), signature
