"""The wine sweeps of README, a process per trial against warm workers, alternating.

    python bench/warm_workers.py                # each sweep once per mode: process, warm, ...
    python bench/warm_workers.py --rounds 2 --only cv

Runs `specc sweep specs/mlp-wine-sweep.yaml --parallel 2` (12 trials) and its 5-fold version
specs/mlp-wine-sweep-cv.yaml (12 trials of 5 folds, and the refit), each with `--process-per-trial`
and with warm workers (the default), one after the other in fresh folders, and times each command end to end.
Then it checks the trials gave identical results: a trial of one sweep and the trial of the
other with the same values must have bit-identical per-epoch val_loss over the epochs both ran
(TPE's later values and the median pruner depend on which trials end first, so the two sweeps
need not sample the same values; the seeded first trials they do share). And where the time of
a trial goes (in the last round's sweeps), from the trial's Optuna times, its runs' records and the epoch times in its log:
start (spawn, imports, spec, data, build), the first epoch (tracing), the other epochs, the end
(records, Optuna). Figures go to stdout; docs/benchmarks.md's warm-worker figures come from here.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"plain": ROOT / "specs" / "mlp-wine-sweep.yaml", "cv": ROOT / "specs" / "mlp-wine-sweep-cv.yaml"}
MODES = ("process", "warm")
EPOCH_LINE = re.compile(r"^epoch\s+(\d+)/\d+ .*\((\d+(?:\.\d+)?)s\)$", re.M)


def sweep(spec: Path, mode: str, runs: Path, parallel: int) -> float:
    """Seconds of `specc sweep` end to end (Python's start included)."""
    if runs.exists():  # a study there would be continued, not run
        raise SystemExit(f"{runs} exists: give --keep an empty folder")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "specc", "sweep", str(spec), "--parallel", str(parallel),
                           *(["--process-per-trial"] if mode == "process" else []), "--runs-dir", str(runs),
                           "--quiet"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{spec.name} ({mode}) failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds


def trials(runs: Path, name: str) -> list:
    """The study's trials (Optuna imported here, after the timed commands)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = next(runs.glob(f"{name}/sweeps/*/study.db"))
    return optuna.load_study(study_name=db.parent.name, storage=f"sqlite:///{db}").get_trials()


def run_folders(trial) -> list[Path]:
    attrs = trial.user_attrs
    return [Path(p) for p in attrs.get("runs") or ([attrs["run"]] if attrs.get("run") else [])]


def losses(run: Path) -> list:
    return [row.get("val_loss") for row in json.loads((run / "history.json").read_text())]


def compare(first: list, second: list) -> tuple[int, int, list]:
    """(trials with the same values in both, of them bit-identical, the values that differed)."""
    others = {json.dumps(t.params, sort_keys=True): t for t in second}
    shared = same = 0
    differed = []
    for trial in first:
        twin = others.get(json.dumps(trial.params, sort_keys=True))
        if twin is None or not run_folders(trial) or not run_folders(twin):
            continue
        shared += 1
        pairs = list(zip(run_folders(trial), run_folders(twin)))
        if all(_prefix_equal(losses(a), losses(b)) for a, b in pairs):
            same += 1
        else:
            differed.append(trial.params)
    return shared, same, differed


def _prefix_equal(a: list, b: list) -> bool:
    n = min(len(a), len(b))
    return n > 0 and a[:n] == b[:n]


def breakdown(trial_list: list, logs: Path) -> dict:
    """Median seconds per trial: start (until its first run's folder: spawn, imports, spec, data,
    build), first epochs (each run's, tracing), other epochs, the rest (later folds' start,
    records, Optuna), and the whole trial."""
    parts: dict = {"start": [], "first epochs": [], "other epochs": [], "rest": [], "trial": []}
    for trial in trial_list:
        folders = run_folders(trial)
        if not folders or trial.datetime_complete is None:
            continue
        created = _time(json.loads((folders[0] / "record.json").read_text())["created"])
        epochs = [(int(n), float(s)) for n, s in EPOCH_LINE.findall(_log(logs, trial.number))]
        total = (trial.datetime_complete - trial.datetime_start).total_seconds()
        start = created - trial.datetime_start.timestamp()
        first = sum(s for n, s in epochs if n == 1)
        other = sum(s for n, s in epochs if n != 1)
        for key, value in zip(parts, (start, first, other, total - start - first - other, total)):
            parts[key].append(value)
    return {k: median(v) for k, v in parts.items() if v}


def _log(logs: Path, number: int) -> str:
    path = logs / f"trial-{number:04d}.log"
    return path.read_text(errors="replace") if path.is_file() else ""


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def machine() -> str:
    from importlib.metadata import version

    load = os.getloadavg()
    return (f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"TensorFlow {version('tensorflow')}, Keras {version('keras')}, Optuna {version('optuna')}; "
            f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="Each mode this many times per sweep.")
    parser.add_argument("--only", choices=sorted(SPECS), help="One of the two sweeps.")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--keep", metavar="DIR", help="Keep the sweeps' folders here (default: a temporary folder).")
    args = parser.parse_args()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="warm-bench-") as tmp:
        for kind, spec in SPECS.items():
            if args.only and kind != args.only:
                continue
            _bench(kind, spec, Path(args.keep or tmp), args.rounds, args.parallel)
    print(machine())


def _bench(kind: str, spec: Path, tmp: Path, rounds: int, parallel: int) -> None:
    name = "mlp-wine-sweep" + ("-cv" if kind == "cv" else "")
    seconds: dict = {mode: [] for mode in MODES}
    folders: dict = {}
    for round_ in range(rounds):
        for mode in MODES:
            runs = tmp / f"{kind}-{mode}-{round_}"
            seconds[mode].append(sweep(spec, mode, runs, parallel))
            folders[mode] = runs
            print(f"{name} ({mode}): {seconds[mode][-1]:.1f} s", flush=True)
    found = {mode: trials(folders[mode], name) for mode in MODES}
    best = {mode: min(seconds[mode]) for mode in MODES}
    print(f"{name}: process per trial {median(seconds['process']):.1f} s, warm workers "
          f"{median(seconds['warm']):.1f} s (medians of {rounds}): {median(seconds['process']) / median(seconds['warm']):.2f}x; "
          f"best of each {best['process'] / best['warm']:.2f}x")
    shared, same, differed = compare(found["warm"], found["process"])
    print(f"  trials with the same values in both modes: {shared}, with bit-identical val_loss per epoch: {same}"
          + (f"; DIFFERENT: {differed}" if differed else ""))
    for mode in MODES:
        logs = next(folders[mode].glob(f"{name}/sweeps/*/logs"))
        parts = breakdown(found[mode], logs)
        print(f"  a trial, {mode} (medians, s): " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
