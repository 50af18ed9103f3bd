"""How fast does specc train, against the same model trained with Keras by hand?

Trains the LeNet digits model (specs/lenet-digits.yaml) in one process, on the same splits
(1259 train / 179 validation samples), for a fixed number of epochs, four ways:

    specc             `specc.run.train.train` (library call, no export, no early stopping)
    keras fit         a plain hand-written script: model.fit(x, y, batch_size=32)
    keras tuned       the same with steps_per_execution=64, XLA off
    keras tuned, XLA  the same with steps_per_execution=64, XLA on

Every variant validates on the validation split each epoch, as specc does. For each: the time
of the first epoch (tracing and compiling included) and, over the later epochs, the training
throughput (samples/s from the start of an epoch to the start of its validation) and the
whole-epoch time (validation and callbacks included), each the median of the later epochs
(an epoch takes a fraction of a second: the median keeps one disturbed epoch out). A
throwaway fit runs first so no variant pays the process's one-time TensorFlow start-up.

    python bench/train_bench.py                # table
    python bench/train_bench.py --markdown     # the same as a markdown table
    python bench/train_bench.py --epochs 12
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc.run.quiet import import_tensorflow  # noqa: E402

import_tensorflow().get_logger().setLevel("ERROR")  # no retracing notices in the table

import keras  # noqa: E402
from hand_models import lenet_by_hand  # noqa: E402
import numpy as np  # noqa: E402

from specc.api import load_and_check, resolved_spec  # noqa: E402
from specc.run.data import prepare_data  # noqa: E402
from specc.run.train import TrainOptions, train  # noqa: E402

SPEC = ROOT / "specs" / "lenet-digits.yaml"
BATCH = 32


class EpochClock(keras.callbacks.Callback):
    """Per epoch: seconds of training (until validation starts) and of the whole epoch."""

    def __init__(self):
        super().__init__()
        self.train_seconds, self.epoch_seconds = [], []
        self.started = self.validating = None

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.validating = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if self.started is not None and self.validating is None:
            self.validating = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        self.train_seconds.append((self.validating or end) - self.started)
        self.epoch_seconds.append(end - self.started)


def arrays(resolved: dict) -> tuple:
    splits = prepare_data(resolved, SPEC.parent).splits
    shape = (-1, 8, 8, 1)
    return (splits.train.features["x"].reshape(shape).astype(np.float32), splits.train.labels,
            splits.validation.features["x"].reshape(shape).astype(np.float32), splits.validation.labels)


def by_hand(data: tuple, epochs: int, **compile_args) -> EpochClock:
    x, y, xv, yv = data
    keras.utils.set_random_seed(7)
    model = lenet_by_hand(epochs * -(-len(x) // BATCH), **compile_args)
    clock = EpochClock()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, validation_data=(xv, yv), callbacks=[clock], verbose=0)
    return clock


def via_specc(resolved: dict, epochs: int, runs_dir: str) -> EpochClock:
    clock = EpochClock()
    train(resolved, str(SPEC), options=TrainOptions(runs_dir=runs_dir, export=False,
                                                    callbacks=[clock]))
    return clock


def measure(epochs: int, runs_dir: str) -> list:
    """Rows of (variant, first epoch s, steady train samples/s, steady epoch s)."""
    doc, _ = load_and_check(str(SPEC), [f"train.epochs={epochs}", "train.early_stopping=false"])
    resolved = resolved_spec(doc)
    data = arrays(resolved)
    by_hand((data[0][:64], data[1][:64], data[2][:32], data[3][:32]), 1)  # warm-up, not timed
    variants = [("specc", lambda: via_specc(resolved, epochs, runs_dir)),
                ("keras fit, batch_size=32", lambda: by_hand(data, epochs)),
                ("keras tuned: steps_per_execution=64, XLA off",
                 lambda: by_hand(data, epochs, steps_per_execution=64, jit_compile=False)),
                ("keras tuned: steps_per_execution=64, XLA on",
                 lambda: by_hand(data, epochs, steps_per_execution=64, jit_compile=True))]
    rows = []
    for name, run in variants:
        keras.backend.clear_session()
        clock = run()
        rows.append((name, clock.epoch_seconds[0], len(data[0]) / statistics.median(clock.train_seconds[1:]),
                     statistics.median(clock.epoch_seconds[1:])))
    return rows


def table(rows: list, markdown: bool) -> str:
    head = ("variant", "first epoch (s)", "steady train samples/s", "steady epoch (s)")
    body = [(name, f"{first:.2f}", f"{rate:,.0f}", f"{epoch:.3f}") for name, first, rate, epoch in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in body])


def main(argv=None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15, help="epochs per variant (the first is not steady)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is reported apart)")
    with tempfile.TemporaryDirectory() as runs_dir:
        rows = measure(args.epochs, runs_dir)
    print(table(rows, args.markdown))
    print(f"\n{args.epochs} epochs each, batch {BATCH}, {os.cpu_count()} CPU(s); load average "
          f"{os.getloadavg()[0]:.2f} at the end; TensorFlow {import_tensorflow().__version__}, "
          f"Keras {keras.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
