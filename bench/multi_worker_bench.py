"""Training speed of one process, `--workers 1`, `--workers 2` and `mirrored` over 2 CPU devices.

    nice -n 19 python bench/multi_worker_bench.py [--epochs-wine 30] [--epochs-lenet 3]

Each configuration is a fresh `specc train` (its own TensorFlow start-up); the table gives the
training loop's time as the chief reports it ("trained N epoch(s) in S s"), the whole
command's wall time, and the final test accuracy. On a 2-core machine the workers share the
same cores, so this measures the cost of the multi-worker machinery (the all-reduce of every
step over gRPC on 127.0.0.1, the cross-worker metric reads), not a speed-up.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "one process": [],
    "--workers 1": ["--workers", "1"],
    "--workers 2": ["--workers", "2"],
    "mirrored, 2 CPU devices": ["--set", "device.strategy=mirrored", "--set", "device.devices=2"],
}


def run(spec: str, epochs: int, extra: list) -> dict:
    with tempfile.TemporaryDirectory() as runs:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "specc", "train", str(ROOT / "specs" / spec), "--set",
                               f"train.epochs={epochs}", "--runs-dir", runs, "--no-export", *extra],
                              capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"{spec} {extra}: exit {done.returncode}\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
        loop = float(re.search(r"trained \d+ epoch\(s\) in ([\d.]+)s", done.stdout).group(1))
        [metrics] = list(Path(runs).glob("*/*/metrics.json"))
        test = json.loads(metrics.read_text())["test"]
        accuracy = test.get("accuracy")
        return {"loop": loop, "wall": wall, "accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs-wine", type=int, default=30)
    parser.add_argument("--epochs-lenet", type=int, default=3)
    args = parser.parse_args()
    print("| spec | configuration | training loop | whole command | test accuracy |")
    print("|---|---|---:|---:|---:|")
    for spec, epochs in (("mlp-wine.yaml", args.epochs_wine), ("lenet-digits.yaml", args.epochs_lenet)):
        for name, extra in CONFIGS.items():
            result = run(spec, epochs, extra)
            print(f"| {spec} ({epochs} epochs) | {name} | {result['loop']:.1f} s | {result['wall']:.1f} s | "
                  f"{result['accuracy']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
