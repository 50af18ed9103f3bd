"""LeNet's first epoch in a fresh process: what a user waits for before the first line of progress.

Each measurement is a new Python process that imports TensorFlow, builds specs/lenet-digits.yaml
and trains it for 2 epochs through `specc.run.train.train`; a callback times the first epoch
(tracing the train and test functions, the first 40 steps and the validation included).
Processes run in turn (this tree, then --against's, round after round) and the median is shown.

    python bench/first_epoch.py                      # 5 rounds, this tree
    python bench/first_epoch.py --against ../old     # also another source tree (before/after)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(tree: str) -> None:
    """In a fresh process: train LeNet for 2 epochs from `tree`; print the first epoch's seconds."""
    import time

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, tree)
    from specc.run.quiet import import_tensorflow

    import_tensorflow()
    import keras

    from specc.api import load_and_check, resolved_spec
    from specc.run.train import TrainOptions, train

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.first = time.perf_counter() - self.started

    spec = str(Path(tree) / "specs" / "lenet-digits.yaml")
    doc, _ = load_and_check(spec, ["train.epochs=2", "train.early_stopping=false"])
    clock = Clock()
    with tempfile.TemporaryDirectory() as runs:
        train(resolved_spec(doc), spec, options=TrainOptions(runs_dir=runs, export=False, callbacks=[clock]))
    print(json.dumps({"first_epoch": clock.first}))


def measure(tree: str) -> float:
    done = subprocess.run([sys.executable, __file__, "--child", tree], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if done.returncode != 0:
        raise SystemExit(f"the run from {tree} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["first_epoch"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", help="another specc source tree to time beside this one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    trees = {"this tree": str(ROOT)}
    if args.against:
        trees[f"--against {args.against}"] = args.against
    seconds: dict = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            seconds[name].append(measure(tree))
    for name, values in seconds.items():
        print(f"{name:<30} first epoch {statistics.median(values):.2f} s (median of {len(values)}; "
              f"{min(values):.2f}-{max(values):.2f})")
    print(f"{os.cpu_count()} CPU(s); load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
