"""How much does specc add to building and compiling a Keras model?

Compares, in one process, `resolve` + `specc.compile.compile_spec` (spec data -> compiled
keras.Model) with the same model written by hand in Keras, for the LeNet digits spec, the
wine MLP spec, and plain dense stacks of 10, 100 and 1000 layers. Each figure is the best of
N repetitions, specc and Keras alternating (`keras.backend.clear_session()` and a garbage
collection before each, not timed).

    python bench/compile_bench.py              # table
    python bench/compile_bench.py --markdown   # the same as a markdown table
    python bench/compile_bench.py --repeat 3 --depths 10 100
"""
from __future__ import annotations

import argparse
import copy
import gc
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
from hand_models import lenet_by_hand  # noqa: E402

from specc.paradigms import compile_spec  # noqa: E402
from specc.load import load_spec  # noqa: E402
from specc.render import resolve  # noqa: E402


# --- the same models, by hand --------------------------------------------------------------------

def lenet_by_hand_default():
    """specs/lenet-digits.yaml written directly in Keras (decay over 1000 steps)."""
    return lenet_by_hand(total_steps=1000)


def mlp_by_hand():
    """specs/mlp-wine.yaml written directly in Keras."""
    layers = keras.layers
    features = keras.Input((13,), name="features")
    x = layers.Normalization(name="features_normalization")(features)
    x = layers.Dense(32, activation="selu", kernel_initializer="lecun_normal")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dense(16, activation="relu", kernel_initializer="he_normal")(x)
    out = layers.Dense(3, activation="softmax", name="output")(x)
    model = keras.Model(features, out, name="mlp-wine")
    model.compile(optimizer=keras.optimizers.RMSprop(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    return model


def stack_by_hand(depth: int):
    x = inputs = keras.Input((32,), name="x")
    for _ in range(depth):
        x = keras.layers.Dense(32, activation="relu")(x)
    out = keras.layers.Dense(1, name="output")(x)
    model = keras.Model(inputs, out, name=f"dense-{depth}")
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.MeanSquaredError(),
                  metrics=["mean_absolute_error"])
    return model


def stack_spec(depth: int) -> dict:
    return {"specc": 1, "name": f"dense-{depth}", "data": {"source": {"builtin": "diabetes"}},
            "task": {"type": "regression"},
            "model": {"inputs": {"x": [32]},
                      "layers": [{"dense": {"units": 32, "activation": "relu"}}] * depth},
            "metrics": ["mean_absolute_error"], "optimizer": "adam"}


# --- timing ----------------------------------------------------------------------------------------

def best_of(ours, theirs, repeat: int) -> tuple[float, float]:
    """Best wall times (seconds) of `ours()` and `theirs()` over `repeat` rounds; the two
    alternate within each round so that drift in machine load hits both alike."""
    best = [float("inf"), float("inf")]
    for round_ in range(repeat):
        order = (0, 1) if round_ % 2 == 0 else (1, 0)
        for which in order:
            make = ours if which == 0 else theirs
            keras.backend.clear_session()
            gc.collect()
            start = time.perf_counter()
            make()
            best[which] = min(best[which], time.perf_counter() - start)
    return best[0], best[1]


def via_specc(data: dict):
    return lambda: compile_spec(resolve(copy.deepcopy(data)), total_steps=1000)


def measure(repeat: int, depths) -> list:
    """Rows of (case, layers, specc seconds, keras seconds)."""
    # Keras connects a functional model recursively: a 1000-layer stack needs a higher limit
    # by hand too (specc raises it itself while connecting).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    via_specc(stack_spec(2))(), stack_by_hand(2)  # warm up imports and caches
    rows = []
    for name, hand in (("lenet-digits", lenet_by_hand_default), ("mlp-wine", mlp_by_hand)):
        data = load_spec(str(ROOT / "specs" / f"{name}.yaml")).data
        count = len(hand().layers)
        rows.append((name, count, *best_of(via_specc(data), hand, repeat)))
    for depth in depths:
        reps = repeat if depth < 1000 else max(1, min(repeat, 3))
        rows.append((f"dense stack x{depth}", depth + 2,
                     *best_of(via_specc(stack_spec(depth)), lambda: stack_by_hand(depth), reps)))
    return rows


def table(rows: list, markdown: bool) -> str:
    head = ("model", "layers", "specc (ms)", "keras by hand (ms)", "overhead", "per layer (ms)")
    body = []
    for name, count, ours, theirs in rows:
        body.append((name, str(count), f"{ours * 1e3:.1f}", f"{theirs * 1e3:.1f}",
                     f"{(ours / theirs - 1) * 100:+.0f}%", f"{(ours - theirs) * 1e3 / count:+.3f}"))
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per figure (best is kept)")
    parser.add_argument("--depths", type=int, nargs="*", default=[10, 100, 1000], help="dense stack depths")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    rows = measure(args.repeat, args.depths)
    print(table(rows, args.markdown))
    if not args.markdown:
        print(f"\nbest of {args.repeat} (1000-layer stack: best of {max(1, min(args.repeat, 3))}); "
              f"Keras {keras.__version__}; build + compile, no training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
