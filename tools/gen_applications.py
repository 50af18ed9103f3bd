"""Write specc/catalog/applications.json: what validate knows of each keras.applications
architecture, read from the installed Keras (never edited by hand).

For each architecture function (`ResNet50`, `MobileNetV3Small`, ...): the module whose
`preprocess_input` it takes, its smallest and default input size (the `min_size` and
`default_size` it passes to Keras's own input check, `imagenet_utils.obtain_input_shape`,
captured while the architecture is built), the input channels its ImageNet weights take, and
for the network without its top (`include_top=False`, as a backbone is used): its weight
tensors and values (a weights file must hold the same to be this architecture's), its
output channels and how much it shrinks the image.

    python tools/gen_applications.py          # rewrite the table
    python tools/gen_applications.py --check  # exit 1 if it is out of date
"""
from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "specc" / "catalog" / "applications.json"


def architectures() -> dict:
    """Function name -> (function, the module of keras.applications that holds it)."""
    import keras

    apps = keras.applications
    modules = {name: getattr(apps, name) for name in dir(apps)
               if not name.startswith("_") and inspect.ismodule(getattr(apps, name)) and name != "imagenet_utils"}
    found = {}
    for name in dir(apps):
        function = getattr(apps, name)
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        holders = [m for m, mod in sorted(modules.items()) if getattr(mod, name, None) is function]
        # the module that also exports preprocess_input (MobileNetV3's none: it rescales inside itself)
        module = next((m for m in holders if hasattr(getattr(apps, m), "preprocess_input")), None)
        found[name] = (function, module)
    return found


def sizes_of(function) -> dict:
    """The min_size and default_size the architecture gives Keras's input check."""
    from keras.src.applications import imagenet_utils

    seen: dict = {}
    real = imagenet_utils.obtain_input_shape

    def spy(input_shape, default_size, min_size, data_format, require_flatten, weights=None):
        seen.setdefault("default_size", default_size)
        seen.setdefault("min_size", min_size)
        return real(input_shape, default_size, min_size, data_format, require_flatten, weights)

    imagenet_utils.obtain_input_shape = spy
    try:
        model = function(include_top=False, weights=None)
    finally:
        imagenet_utils.obtain_input_shape = real
    return {**seen, "model": model}


def smallest(function) -> int:
    """The smallest square input an architecture that checks its input itself builds with."""
    def builds(size: int) -> bool:
        try:
            function(include_top=False, weights=None, input_shape=(size, size, 3))
        except ValueError:
            return False
        return True

    low, high = 1, 224  # low fails (or is 1), high builds
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if builds(middle) else (middle, high)
    return high


def entry(name: str, function, module: str) -> dict:
    import keras

    sizes = sizes_of(function)
    sizes.pop("model")
    if "min_size" not in sizes:  # MobileNetV3 checks its input with its own code
        sizes = {"min_size": smallest(function), "default_size": 224}
    size = sizes["default_size"]
    model = function(include_top=False, weights=None, input_shape=(size, size, 3))
    out = model.output_shape
    count = int(sum(int(__import__("math").prod(w.shape)) for w in model.weights))
    keras.backend.clear_session()
    return {"preprocess": f"keras.applications.{module}.preprocess_input" if module else None,
            "function": f"keras.applications.{name}", "min_size": sizes["min_size"], "default_size": size, "channels": 3,
            "weights": {"tensors": len(model.weights), "values": count},
            "output_channels": int(out[-1]), "reduction": int(size // out[1]) if out[1] else None}


def table() -> dict:
    return {name: entry(name, function, module) for name, (function, module) in sorted(architectures().items())}


def main(argv: list[str]) -> int:
    text = json.dumps(table(), indent=1, sort_keys=True) + "\n"
    if "--check" in argv:
        if TABLE.read_text(encoding="utf-8") != text:
            print(f"{TABLE.relative_to(ROOT)} is out of date: run python tools/gen_applications.py")
            return 1
        return 0
    TABLE.write_text(text, encoding="utf-8")
    count = len(json.loads(text))
    print(f"wrote {TABLE.relative_to(ROOT)} ({count} architectures)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
