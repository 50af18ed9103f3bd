"""How long `specc validate` takes, next to importing TensorFlow.

    python bench/validate_bench.py [--runs 5]

Runs each command in a fresh process (best of N wall-clock times, after one warm-up run
that is not counted) and prints a markdown table: `specc validate` on the largest spec in
specs/, `specc --help`, a bare Python start, and `python -c "import tensorflow"`, the cost
validation avoids by never importing it. Bytecode caching is switched on for the runs
(PYTHONDONTWRITEBYTECODE is dropped), as it is for an installed specc.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def largest_spec() -> Path:
    return max((ROOT / "specs").glob("*.yaml"), key=lambda p: p.stat().st_size)


def specc_command() -> list[str]:
    """The installed `specc` beside this Python, else the CLI module run by this Python."""
    found = Path(sys.executable).parent / "specc"
    if found.exists():
        return [str(found)]
    if shutil.which("specc"):
        return [shutil.which("specc")]
    return [sys.executable, "-c", "from specc.cli import main; main()"]


def best_of(command: list[str], runs: int, ok=(0,)) -> float:
    """The shortest wall time of `runs` runs (after a warm-up run), in seconds."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - start)
        if proc.returncode not in ok:
            raise SystemExit(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return min(times[1:])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (the best is shown)")
    args = parser.parse_args(argv)
    spec = largest_spec().relative_to(ROOT).as_posix()
    specc = specc_command()
    rows = [
        (f"`specc validate {spec}`", specc + ["validate", spec]),
        ("`specc --help`", specc + ["--help"]),
        ("`python -c pass`", [sys.executable, "-c", "pass"]),
        ('`python -c "import tensorflow"`', [sys.executable, "-c", "import tensorflow"]),
    ]
    results = [(label, best_of(command, args.runs)) for label, command in rows]
    base = results[0][1]
    print(f"| command (best of {args.runs}) | wall time | vs validate |")
    print("|---|---:|---:|")
    for label, seconds in results:
        print(f"| {label} | {seconds * 1000:.0f} ms | {seconds / base:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
