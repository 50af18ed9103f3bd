"""A whole tabular job, start to finish, each way in a fresh process: specc against Keras by hand
(and Ludwig, where one is installed).

The job (issue 14's peer job): scikit-learn's breast-cancer data as a CSV file (569 rows, 30
numeric columns and a 0/1 `target`), split 65/15/20, z-score normalized; two dense layers of
64 ReLU units and a sigmoid output; Adam 1e-3, batch 32, up to 30 epochs, early stopping on
val_loss with patience 5; test metrics at the end. Every variant is one command run as a
child process, timed from start to exit, its peak memory read from the operating system
(`os.wait4`'s maximum resident set size), so the figures include importing the framework:

    import       python -c "import tensorflow, keras"     (the floor for any TensorFlow tool)
    specc        specc train SPEC --no-export --quiet
    keras        python bench/hand_csv.py CSV             (the same model written in Keras)
    ludwig       ludwig train --config ... --dataset CSV  (only with --ludwig PATH)
    specc (old)  the same `specc train` from another source tree (only with --against DIR,
                 e.g. a `git worktree` of an older commit: before and after a change)

The variants run in turn, round after round (alternating, so a busy minute disturbs all of
them alike), and the table shows the median of the rounds.

    python bench/end_to_end.py                                  # 3 rounds, no Ludwig
    python bench/end_to_end.py --ludwig /work/ludwig-venv/bin/ludwig --markdown
    python bench/end_to_end.py --against ../baseline      # before/after a change
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

SPEC = """specc: 1
name: peer-breast-cancer
seed: 1
data:
  source: {csv: {path: breast_cancer.csv, label: target}}
  split: {validation: 0.15, test: 0.2}
  preprocessing: [normalization]
task: {type: binary}
model:
  inputs: {x: [30]}
  layers:
    - dense: {units: 64, activation: relu}
    - dense: {units: 64, activation: relu}
optimizer: {adam: {learning_rate: 0.001}}
batch: {size: 32}
train: {epochs: 30, early_stopping: {monitor: val_loss, patience: 5}}
"""


def write_job(folder: Path) -> Path:
    """The CSV, the specc spec and the Ludwig config of the job, in `folder`; the CSV's path."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = [name.replace(" ", "_") for name in data.feature_names]
    csv = folder / "breast_cancer.csv"
    with csv.open("w") as handle:
        handle.write(",".join(names + ["target"]) + "\n")
        for row, label in zip(data.data, data.target):
            handle.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")
    (folder / "spec.yaml").write_text(SPEC)
    (folder / "ludwig.yaml").write_text(ludwig_config(names))
    return csv


def ludwig_config(names: list) -> str:
    """Ludwig's form of the same job: concat combiner with two fully connected layers of 64."""
    inputs = "".join(f"  - {{name: {n}, type: number, preprocessing: {{normalization: zscore}}}}\n"
                     for n in names)
    return ("input_features:\n" + inputs
            + "output_features:\n  - {name: target, type: binary}\n"
            + "combiner: {type: concat, num_fc_layers: 2, output_size: 64}\n"
            + "preprocessing: {split: {type: random, probabilities: [0.65, 0.15, 0.2]}}\n"
            + "trainer: {epochs: 30, batch_size: 32, learning_rate: 0.001, optimizer: {type: adam}, "
              "early_stop: 5, validation_metric: loss}\n")


def commands(folder: Path, csv: Path, ludwig: str | None, against: str | None) -> dict:
    python = sys.executable
    train = ["train", str(folder / "spec.yaml"), "--no-export", "--quiet", "--runs-dir", str(folder / "runs")]
    out = {"import": [python, "-c", "import tensorflow, keras"],
           "specc": [python, "-c", _from_tree(str(ROOT)), *train],
           "keras": [python, str(HERE / "hand_csv.py"), str(csv)]}
    if against:
        out[f"specc ({_commit(against)})"] = [python, "-c", _from_tree(against), *train]
    if ludwig:
        out["ludwig"] = [ludwig, "train", "--config", str(folder / "ludwig.yaml"), "--dataset", str(csv),
                         "--output_directory", str(folder / "ludwig"), "--skip_save_processed_input",
                         "--skip_save_progress", "--skip_save_log"]
    return out


def _from_tree(tree: str) -> str:
    """`python -c` code running specc's command line from the source tree `tree`."""
    return f"import sys; sys.argv[0] = 'specc'; sys.path.insert(0, {tree!r}); from specc.cli import main; main()"


def _commit(tree: str) -> str:
    done = subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or Path(tree).name


def run(command: list) -> tuple:
    """(wall seconds, peak resident MB) of one child process; fails loudly if the child does."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{child.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def measure(rounds: int, ludwig: str | None, against: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv = write_job(folder)
        todo = commands(folder, csv, ludwig, against)
        figures: dict = {name: [] for name in todo}
        for _ in range(rounds):
            for name, command in todo.items():
                figures[name].append(run(command))
    return figures


def table(figures: dict, markdown: bool) -> str:
    floor = statistics.median(m for _, m in figures["import"])
    specc = statistics.median(s for s, _ in figures["specc"])
    head = ("variant", "wall (s)", "peak memory (MB)", "above import (MB)", "wall / specc's")
    body = []
    for name, values in figures.items():
        seconds = statistics.median(s for s, _ in values)
        memory = statistics.median(m for _, m in values)
        body.append((name, f"{seconds:.1f}", f"{memory:,.0f}", f"{memory - floor:+,.0f}", f"{seconds / specc:.2f}"))
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in [head] + body)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every variant (median shown)")
    parser.add_argument("--ludwig", help="a `ludwig` executable (Ludwig 0.11) to run the same job with")
    parser.add_argument("--against", help="another specc source tree to time beside this one")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)
    figures = measure(args.rounds, args.ludwig, args.against)
    print(table(figures, args.markdown))
    print(f"\nmedians of {args.rounds} alternating rounds; {os.cpu_count()} CPU(s); load average "
          f"{os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
