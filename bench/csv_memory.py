"""Peak memory and time of loading a large CSV file, against the size of its numbers.

    python bench/csv_memory.py [--size 1024] [--columns 30] [--against REV] [--dir DIR] [--keep]

Writes a CSV file of about `--size` MB (`--columns` float columns and an integer label), then
loads it with `specc.data.load_source({"csv": {...}}, base_dir, seed=0)` in a fresh process
and reports the wall time of the load and the process's peak resident memory (VmHWM), next to
the numeric size of the data (rows x columns x 4 bytes, the label counted as a column).
`--against REV` loads the same file a second time with the CSV reader of that git revision
(its specc/data/sources/csv.py put in place of today's, in the child only), for an old-new
comparison; e.g. `--against b5477c1`, the last revision that read every row as strings.
The file is deleted at the end unless `--keep` is given.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BLOCK_ROWS = 20_000

# The child: optionally swap in an older csv.py, load, report. Run as `python -c CHILD args`.
CHILD = r"""
import importlib.util, json, resource, sys, time
path, old = sys.argv[1], sys.argv[2]
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
import specc.data
if old:
    spec = importlib.util.spec_from_file_location("specc.data.sources.csv", old)
    module = importlib.util.module_from_spec(spec)
    sys.modules["specc.data.sources.csv"] = module
    spec.loader.exec_module(module)
before = status("VmRSS")
start = time.perf_counter()
table = specc.data.load_source({"csv": {"path": path, "label": "label"}}, ".", seed=0)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak": status("VmHWM"), "before": before,
                  "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "rows": len(table), "description": table.description}))
"""


def write_csv(path: Path, megabytes: float, columns: int, seed: int = 0) -> int:
    """Write about `megabytes` MB of random floats (6 significant digits) and a 0-9 label;
    return the number of data rows."""
    rng = np.random.default_rng(seed)
    template = ",".join(["%.6g"] * columns) + ",%d\n"
    target = int(megabytes * 1024 * 1024)
    rows = 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(",".join(f"f{i}" for i in range(columns)) + ",label\n")
        while handle.tell() < target:
            values = np.column_stack([rng.normal(size=(BLOCK_ROWS, columns)),
                                      rng.integers(0, 10, size=BLOCK_ROWS)])
            # One %-format of the whole block: C-speed formatting instead of a loop per cell.
            handle.write((template * BLOCK_ROWS) % tuple(values.ravel().tolist()))
            rows += BLOCK_ROWS
    return rows


def old_reader(revision: str, folder: Path) -> Path:
    """The csv.py of `revision`, written into `folder`."""
    text = subprocess.run(["git", "show", f"{revision}:specc/data/sources/csv.py"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    path = folder / f"csv_{revision.replace('/', '_')}.py"
    path.write_text(text, encoding="utf-8")
    return path


def measure(path: Path, old: str) -> dict:
    """Load `path` in a fresh process (with the older reader at `old`, if given)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), old], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the load failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - start
    return result


def mib(count: float) -> str:
    return f"{count / 2**20:,.0f} MiB"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=1024, help="size of the CSV file in MB (default 1024)")
    parser.add_argument("--columns", type=int, default=30, help="float columns besides the label (default 30)")
    parser.add_argument("--against", default="", help="also load with the CSV reader of this git revision")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where to write the file")
    parser.add_argument("--keep", action="store_true", help="keep the file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "big.csv"
        start = time.perf_counter()
        rows = write_csv(path, args.size, args.columns)
        size = path.stat().st_size
        numeric = rows * (args.columns + 1) * 4
        print(f"wrote {path} in {time.perf_counter() - start:.0f} s: {mib(size)}, {rows:,} rows x "
              f"{args.columns + 1} columns; numeric size {mib(numeric)}", flush=True)
        readers = [("this tree", "")]
        if args.against:
            readers.append((f"csv.py of {args.against}", str(old_reader(args.against, Path(folder)))))
        print("\n| reader | load time | peak RSS | peak / numeric size | peak - RSS before load |")
        print("|---|---:|---:|---:|---:|")
        for name, old in readers:
            got = measure(path, old)
            assert got["rows"] == rows, got
            print(f"| {name} | {got['seconds']:.1f} s | {mib(got['peak'])} | {got['peak'] / numeric:.2f}x | "
                  f"{mib(got['peak'] - got['before'])} ({(got['peak'] - got['before']) / numeric:.2f}x) |",
                  flush=True)
        if args.keep:
            kept = Path(args.dir) / "csv_memory.csv"
            os.replace(path, kept)
            print(f"kept {kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
