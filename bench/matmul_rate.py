"""A compute-bound model against the machine's matmul rate, in one process.

The model (issue 14's): an MLP 1024 -> 2048 -> 2048 -> 10 on 16,384 synthetic samples, batch
256. A training step costs about 3 x 2 x (multiply-adds of the forward pass) FLOPs per sample
(forward, gradient of the input, gradient of the weights): ~38 MFLOP. The script measures,
in the same process and in turn (round after round, so load disturbs each alike):

    matmul      tf.linalg.matmul of [256, 2048] x [2048, 2048] fp32, in a tf.function loop,
                with TensorFlow's kernels and with XLA's: the machine's matmul rate is the
                higher of the two (GFLOP/s), the reference of every fraction below
    specc       `specc.run.train.train` of the spec (jit: auto, steps_per_execution: auto)
    specc ...   the same spec with jit forced on and off (`--variants`)
    keras fit   the same model written in Keras, plain model.fit(x, y, batch_size=256)

and prints each as GFLOP/s (median over epochs after the first, which holds the tracing and
any XLA compile) and as a fraction of the matmul rate of the same round.

    python bench/matmul_rate.py                 # 3 rounds, specc (auto) and keras fit
    python bench/matmul_rate.py --variants      # also specc with jit on / off
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc.run.quiet import import_tensorflow  # noqa: E402

tf = import_tensorflow()
tf.get_logger().setLevel("ERROR")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from specc.api import load_and_check, resolved_spec  # noqa: E402
from specc.run.train import TrainOptions, train  # noqa: E402

SAMPLES, BATCH, WIDTHS = 16384, 256, (1024, 2048, 2048, 10)
SPEC = f"""specc: 1
name: mlp-compute-bound
seed: 5
data:
  source: {{synthetic: {{kind: classification, samples: {SAMPLES}, features: {WIDTHS[0]}, classes: {WIDTHS[-1]}}}}}
  split: {{validation: 0.0, test: 0.0}}
task: {{type: multiclass, classes: {WIDTHS[-1]}}}
model:
  inputs: {{x: [{WIDTHS[0]}]}}
  layers:
    - dense: {{units: {WIDTHS[1]}, activation: relu}}
    - dense: {{units: {WIDTHS[2]}, activation: relu}}
optimizer: {{adam: {{learning_rate: 0.0001}}}}
batch: {{size: {BATCH}}}
train: {{epochs: 4}}
"""


def step_flops() -> float:
    """FLOPs of one training step per sample: 3 matmuls per layer (forward, input gradient,
    weight gradient) of 2 FLOPs per multiply-add."""
    macs = sum(a * b for a, b in zip(WIDTHS, WIDTHS[1:]))
    return 6.0 * macs


def matmul_rate(xla: bool, seconds: float = 3.0) -> float:
    """GFLOP/s of [256, 2048] x [2048, 2048] fp32 products, as a training step's are."""
    a = tf.random.normal((BATCH, 2048))
    b = tf.random.normal((2048, 2048)) / 2048 ** 0.5  # keeps the chain's values near 1

    @tf.function(jit_compile=xla)
    def many(a, b):
        for _ in tf.range(50):  # each product needs the last: nothing to hoist out of the loop
            a = tf.linalg.matmul(a, b)
        return a

    many(a, b).numpy()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        many(a, b).numpy()
        count += 50
    return count * 2.0 * BATCH * 2048 * 2048 / (time.perf_counter() - started) / 1e9


class EpochClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list = []
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def via_specc(spec_file: Path, runs_dir: str, jit: str) -> tuple:
    """(GFLOP/s of later epochs, first epoch s, what jit became)."""
    doc, _ = load_and_check(str(spec_file), [f"device.jit={jit}"])
    clock = EpochClock()
    outcome = train(resolved_spec(doc), str(spec_file),
                    options=TrainOptions(runs_dir=runs_dir, export=False, callbacks=[clock]))
    jit_used = outcome.record.read()["device"]["jit"]
    return _rate(clock), clock.seconds[0], jit_used


def by_hand(x: np.ndarray, y: np.ndarray) -> tuple:
    keras.utils.set_random_seed(5)
    inputs = keras.Input((WIDTHS[0],))
    h = keras.layers.Dense(WIDTHS[1], activation="relu")(inputs)
    h = keras.layers.Dense(WIDTHS[2], activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(WIDTHS[3], activation="softmax")(h))
    model.compile(keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = EpochClock()
    model.fit(x, y, batch_size=BATCH, epochs=4, verbose=0, callbacks=[clock])
    return _rate(clock), clock.seconds[0], False


def _rate(clock: EpochClock) -> float:
    return SAMPLES * step_flops() / statistics.median(clock.seconds[1:]) / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", action="store_true", help="also specc with jit forced on and off")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, WIDTHS[0])).astype(np.float32)
    y = rng.integers(0, WIDTHS[-1], SAMPLES)
    rows: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        spec_file = Path(tmp) / "mlp.yaml"
        spec_file.write_text(SPEC)
        variants = [("specc (jit auto)", lambda: via_specc(spec_file, tmp, "auto"))]
        if args.variants:
            variants += [("specc (jit on)", lambda: via_specc(spec_file, tmp, "true")),
                         ("specc (jit off)", lambda: via_specc(spec_file, tmp, "false"))]
        variants.append(("keras fit", lambda: by_hand(x, y)))
        for _ in range(args.rounds):
            rates = {"matmul (TF)": matmul_rate(False), "matmul (XLA)": matmul_rate(True)}
            rate = max(rates.values())
            for name, value in rates.items():
                rows.setdefault(name, []).append((value, value / rate, None, None))
            for name, run in variants:
                keras.backend.clear_session()
                gflops, first, jit = run()
                rows.setdefault(name, []).append((gflops, gflops / rate, first, jit))
    print(f"{'variant':<18} {'GFLOP/s':>8} {'of matmul':>10} {'first epoch (s)':>16}  jit")
    for name, values in rows.items():
        gflops = statistics.median(v[0] for v in values)
        share = statistics.median(v[1] for v in values)
        first = "" if values[0][2] is None else f"{statistics.median(v[2] for v in values):.1f}"
        print(f"{name:<18} {gflops:8.1f} {share:10.2f} {first:>16}  {values[0][3] if values[0][3] is not None else ''}")
    print(f"\n~{step_flops() / 1e6:.0f} MFLOP per sample per step, {SAMPLES} samples, batch {BATCH}; "
          f"medians of {args.rounds} rounds; {os.cpu_count()} CPU(s); load average {os.getloadavg()[0]:.2f}; "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
