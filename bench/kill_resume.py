"""Kill -9 a training run at random moments, resume it, and compare with an uninterrupted run.

    python bench/kill_resume.py                 # 20 kills
    python bench/kill_resume.py --kills 50 --seed 3

A small iris spec trains for 100 epochs with a checkpoint after every epoch (the most writes a
run makes). One uninterrupted run is the reference. Then, for each kill: `specc train` starts
in a fresh process, is killed with SIGKILL after a random delay (spread over start-up and
training), `specc train --resume` continues it, and the resumed run's last.keras (weights and
optimizer state) and metrics are compared with the reference's. Also counted: stray files
left in the run folder after the resume, and kills that came before the run folder existed
(nothing to resume). Figures go to stdout; docs/benchmarks.md's reliability figures come from here.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SPEC = """specc: 1
name: killed
seed: 5
data:
  source: {builtin: iris}
  split: {validation: 0.2, test: 0.2}
task: {type: multiclass, classes: 3}
model:
  inputs: {x: [4]}
  layers:
    - dense: {units: 8, activation: relu}
    - dropout: 0.1
train: {epochs: 100, checkpoints: {every_seconds: 0}}
optimizer: {adam: {learning_rate: 0.01}}
batch: {size: 16}
"""


def specc(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "specc", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def reference(folder: Path, spec: Path) -> tuple[Path, float, float]:
    """The uninterrupted run, the seconds until its folder appeared, and its whole time."""
    started = time.monotonic()
    runs = folder / "reference"
    process = specc("train", str(spec), "--runs-dir", str(runs), "--quiet")
    appeared = None
    while process.poll() is None:
        if appeared is None and list(runs.glob("killed/*/checkpoints/state.json")):
            appeared = time.monotonic() - started
        time.sleep(0.05)
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the reference run failed: {err}")
    total = time.monotonic() - started
    return Path(out.strip().splitlines()[-1]), appeared or total / 2, total


def model_state(path: Path) -> list:
    import keras

    model = keras.saving.load_model(path)
    return [w.tolist() for w in model.get_weights()] + \
        [keras.ops.convert_to_numpy(v).tolist() for v in model.optimizer.variables]


def one_kill(folder: Path, spec: Path, delay: float, expected: tuple) -> str:
    """Start a run, wait for its first checkpoint, kill it `delay` seconds later, resume it."""
    runs = folder / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    process = specc("train", str(spec), "--runs-dir", str(runs), "--quiet")
    while process.poll() is None and not list(runs.glob("killed/*/checkpoints/state.json")):
        time.sleep(0.02)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    found = list((runs / "killed").glob("*")) if (runs / "killed").is_dir() else []
    if not found:
        return "killed before the run existed"
    if process.returncode == 0 or json.loads((found[0] / "record.json").read_text()).get("status") == "completed":
        return "finished before the kill"
    resumed = specc("train", "--resume", found[0].name, "--runs-dir", str(runs), "--quiet")
    _, err = resumed.communicate()
    if resumed.returncode != 0:
        return f"resume refused: {err.strip().splitlines()[0] if err.strip() else resumed.returncode}"
    run = found[0]
    stray = [p.name for p in run.rglob("*") if p.name.startswith(".") and p.name != ".lock"]
    weights = model_state(run / "checkpoints" / "last.keras") == expected[0]
    metrics = json.loads((run / "metrics.json").read_text()) == expected[1]
    outcome = "identical" if weights and metrics else \
        f"DIFFERENT ({'weights' if not weights else ''}{' and ' if not weights and not metrics else ''}" \
        f"{'metrics' if not metrics else ''})"
    return outcome + (f", stray files {stray}" if stray else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="specc-kills-"))
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    spec = folder / "killed.yaml"
    spec.write_text(SPEC)
    run, appeared, seconds = reference(folder, spec)
    expected = (model_state(run / "checkpoints" / "last.keras"), json.loads((run / "metrics.json").read_text()))
    rng = random.Random(args.seed)
    outcomes: dict = {}
    for index in range(args.kills):
        # after the run's first checkpoint, anywhere until about the end of its training
        delay = rng.uniform(0.0, (seconds - appeared) * 0.8)
        outcome = one_kill(folder, spec, delay, expected)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        print(f"kill {index + 1:>3} after {delay:5.2f} s: {outcome}", flush=True)
    print(f"\nreference run: {seconds:.1f} s (first checkpoint after {appeared:.1f} s); {args.kills} kills:")
    for outcome, count in sorted(outcomes.items(), key=lambda kv: -kv[1]):
        print(f"  {count:>3}  {outcome}")
    shutil.rmtree(folder, ignore_errors=True)
    return 0 if all(o.startswith(("identical", "killed before", "finished before")) and "stray" not in o
                    for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
