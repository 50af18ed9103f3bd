"""Anomaly detection on the digits, each digit left out in turn, with specc's own commands.

    python bench/anomaly_auc.py                                   # the three shipped specs
    python bench/anomaly_auc.py specs/anomaly-sparse.yaml --digits 0 9

For each spec and each digit d: `specc train SPEC --set data.split.hold_out.classes=[d]`
(trained and thresholded on the other nine digits; every d goes to the test split), then
`specc evaluate RUN --format json` on the test split. Printed per spec: the ROC AUC of the
reconstruction error for each left-out digit, their mean, the mean precision and recall at
the run's threshold, and the training time. docs/guides/autoencoders.md's figures come from here.
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

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["specs/anomaly-multilayer.yaml", "specs/anomaly-sparse.yaml", "specs/anomaly-denoising.yaml"]


def specc(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode != 0:
        raise SystemExit(f"specc {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def one(spec: str, digit: int, runs: Path) -> dict:
    started = time.perf_counter()
    out = specc("train", spec, "--runs-dir", str(runs), "--no-export", "--quiet",
                "--set", f"data.split.hold_out.classes=[{digit}]")
    seconds = time.perf_counter() - started
    run = out.strip().splitlines()[-1]
    test = json.loads(specc("evaluate", run, "--format", "json"))["test"]
    return {"digit": digit, "roc_auc": test["roc_auc"], "precision": test["precision"],
            "recall": test["recall"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", default=SPECS)
    parser.add_argument("--digits", type=int, nargs="*", default=list(range(10)))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="specc-anomaly-") as tmp:
        for spec in args.specs:
            rows = []
            for digit in args.digits:
                rows.append(one(spec, digit, Path(tmp)))
                row = rows[-1]
                print(f"{spec}  left out {digit}: AUC {row['roc_auc']:.3f}  precision {row['precision']:.2f}  "
                      f"recall {row['recall']:.2f}  ({row['seconds']:.1f} s)", flush=True)
            mean = {key: statistics.mean(r[key] for r in rows) for key in ("roc_auc", "precision", "recall")}
            print(f"{spec}: mean AUC {mean['roc_auc']:.3f} (min {min(r['roc_auc'] for r in rows):.3f}), "
                  f"precision {mean['precision']:.2f}, recall {mean['recall']:.2f}, "
                  f"{statistics.mean(r['seconds'] for r in rows):.1f} s per run (wall, with start-up)\n", flush=True)


if __name__ == "__main__":
    main()
