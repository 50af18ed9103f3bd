"""What `device.jit: auto` becomes on the CPU: XLA when the run's work pays for its compile.

Measured here (bench/matmul_rate.py, bench/train_bench.py; figures in docs/benchmarks.md):
- XLA compiles a small convolutional model in 6-24 s on this CPU and then trains it no
  faster (LeNet on the digits by hand: slower, 11,900 against 15,000 samples/s), so a model whose
  multiply-adds are mostly in convolutions or recurrences stays without it;
- on a model whose multiply-adds are mostly matrix products (dense layers), XLA's train step
  runs 1.2x faster than TensorFlow's (an MLP 1024-2048-2048-10: 0.93 against 0.78 of the
  fp32 rate of a plain `tf.linalg.matmul`), and its compile takes a few seconds, paid back
  only when the run has work enough.

So `auto` turns XLA on when dense layers do at least half of the model's multiply-adds AND
the run's estimated work (6 FLOPs per multiply-add per sample for a training step: forward,
input gradient, weight gradient; times the samples of every epoch) reaches `MIN_FLOPS`: at the
~100 GFLOP/s of this machine, about 10 s of compute, where a few seconds of compile are won
back many times over. The decision and its reason go into record.json (`device.jit`,
`device.jit_reason`). A spec's `jit: true|false` is always obeyed.
"""
from __future__ import annotations

from typing import Any

MIN_FLOPS = 1e12
DENSE_SHARE = 0.5
MATMUL_KINDS = ("Dense", "EinsumDense")


def auto_jit(model: Any, samples_per_epoch: int, epochs: int) -> tuple[bool, str]:
    """(XLA on?, why) for a single-device CPU run of `model` (built) with `jit: auto`."""
    from specc.compile.summary import human, macs_by_kind

    kinds = macs_by_kind(model)
    macs = sum(kinds.values())
    if not macs:
        return False, "auto: no multiply-adds counted in the model"
    dense = sum(kinds.get(kind, 0) for kind in MATMUL_KINDS) / macs
    flops = 6.0 * macs * samples_per_epoch * epochs
    work = f"~{human(flops)}FLOP of training, {dense:.0%} of it in dense layers"
    if dense < DENSE_SHARE:
        return False, f"auto: {work} (XLA gains nothing on convolutions and recurrences on the CPU)"
    if flops < MIN_FLOPS:
        return False, f"auto: {work}, under the {human(MIN_FLOPS)}FLOP that repay XLA's compile"
    return True, f"auto: {work}, over the {human(MIN_FLOPS)}FLOP that repay XLA's compile"
