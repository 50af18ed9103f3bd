"""specc's trees against a plain XGBoost script: the same parameters, the same split, one run.

    python bench/trees_vs_xgboost.py                         # specs/trees-*.yaml
    python bench/trees_vs_xgboost.py specs/trees-wine.yaml --repeat 3

For each spec: `specc train SPEC` as a process of its own (timed whole: Python, imports, data,
boosting, the final figures, the record), its boosting time alone (record.json
`train_seconds`) and its test figures; then, in this process, `xgboost.train` with the same
parameters (`specc.paradigms.trees.params`), the same rounds and early stopping on the same
validation split, on the same split (`specc.run.data.prepare_data`: the split is specc's, the
training is XGBoost's alone), timed around `xgboost.train`, and its test figures computed by
numpy. Printed: both figures, their difference, and the times (medians over --repeat).
docs/guides/trees.md's figures come from here.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def specc_run(spec: str, runs: str) -> tuple[float, dict, dict]:
    """(whole-process seconds, record, test figures) of `specc train SPEC`."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "specc", "train", spec, "--runs-dir", runs, "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"specc train {spec} failed:\n{done.stderr}")
    folder = Path(done.stdout.strip().splitlines()[-1])
    record = json.loads((folder / "record.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    return seconds, record, metrics["test"]


def plain_xgboost(spec: str) -> tuple[float, dict, int]:
    """(seconds in xgboost.train, test figures, best round count) with the spec's parameters."""
    import xgboost as xgb

    from specc.api import load_and_check, resolved_spec
    from specc.paradigms import declaration_of
    from specc.paradigms.trees import params
    from specc.run.data import prepare_data

    doc, _ = load_and_check(spec)
    resolved = resolved_spec(doc)
    splits = prepare_data(resolved, Path(spec).resolve().parent).splits
    trees = resolved["model"]["trees"]
    declared = declaration_of(resolved)
    settings = params(declared, resolved, len(splits.train.class_names or []) or None)
    train = xgb.DMatrix(splits.train.features["x"], label=splits.train.labels)
    valid = xgb.DMatrix(splits.validation.features["x"], label=splits.validation.labels)
    started = time.perf_counter()
    booster = xgb.train(settings, train, trees["rounds"], evals=[(valid, "validation")],
                        early_stopping_rounds=trees["early_stopping_rounds"], verbose_eval=False)
    seconds = time.perf_counter() - started
    rounds = booster.best_iteration + 1
    p = booster.predict(xgb.DMatrix(splits.test.features["x"]), iteration_range=(0, rounds))
    return seconds, figures(declared.name, np.asarray(splits.test.labels), p), rounds


def figures(kind: str, y: np.ndarray, p: np.ndarray) -> dict:
    if kind == "binary":
        q = np.clip(p, 1e-7, 1 - 1e-7)
        return {"binary_accuracy": float(np.mean((p >= 0.5) == y)),
                "loss": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))}
    if kind == "multiclass":
        q = np.clip(p, 1e-7, 1.0)
        return {"accuracy": float(np.mean(p.argmax(axis=1) == y)),
                "loss": float(-np.mean(np.log(q[np.arange(len(y)), y.astype(int)])))}
    y = y.reshape(len(y), -1)[:, 0]
    return {"mean_absolute_error": float(np.mean(np.abs(p - y))), "loss": float(np.mean(np.square(p - y)))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", default=sorted(str(p.relative_to(ROOT))
                                                          for p in (ROOT / "specs").glob("trees-*.yaml")))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    for spec in args.specs:
        with tempfile.TemporaryDirectory() as runs:
            whole, boosting, plain = [], [], []
            for _ in range(args.repeat):
                seconds, record, ours = specc_run(spec, runs)
                whole.append(seconds)
                boosting.append(record["train_seconds"])
                plain_seconds, theirs, rounds = plain_xgboost(spec)
                plain.append(plain_seconds)
        print(f"{spec}: specc kept {record['trees']['kept_rounds']} rounds, plain XGBoost {rounds}")
        for name, value in theirs.items():
            print(f"  test {name:<20} specc {ours[name]:.6f}  xgboost {value:.6f}  "
                  f"difference {ours[name] - value:+.2e}")
        print(f"  seconds: specc train (whole process) {statistics.median(whole):.2f}, specc boosting "
              f"{statistics.median(boosting):.3f}, xgboost.train {statistics.median(plain):.3f} "
              f"(medians of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
