"""A bounded load test of `specc serve` on 127.0.0.1 (a benchmark, not a test).

    nice -n 19 python bench/serve_load.py [--requests 300] [--seconds 15] [--dir DIR]

Trains a small classifier (8 numeric columns, 2 classes, 1 epoch) and exports it to ONNX,
then for the `.keras` checkpoint and the ONNX export, with micro-batching (--max-batch 64,
--max-wait-ms 2) and without (--max-batch 1), starts `specc serve` in a process of its own and
sends single-row POST /predict requests from 1, 8 and 64 client threads (each with its own
keep-alive connection), at most `--requests` requests or `--seconds` seconds per level.
Reports requests/s, p50 and p99 latency and the failed requests (anything but 200) of each
level; the start-up time of each server (process start to the first answer of /health) and
its peak resident memory (VmHWM, after the load); and, with a queue of 8 (--max-queue 8) and
64 clients, how many requests were answered 503.

The clients run on the same machine as the server (they share its cores), so the figures are
of the pair; run it with `nice -n 19` on a shared machine and say so beside the figures.
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

COLUMNS = [f"f{i}" for i in range(8)]
SPEC = """specc: 1
name: serve-bench
seed: 1
task: {type: multiclass, classes: 2}
data: {source: {csv: {path: data.csv, label: kind}}, split: {validation: 0.2, test: 0.2}}
model: {inputs: {x: [8]}, layers: [{dense: {units: 32, activation: relu}}, {dense: {units: 32, activation: relu}}]}
train: {epochs: 1}
"""


def specc(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"specc {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def make_run(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=(400, 8)), 4)
    lines = [",".join(COLUMNS + ["kind"])] + [",".join(map(str, row)) + ("," + ("yes" if row.sum() > 0 else "no"))
                                              for row in x]
    (folder / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "spec.yaml").write_text(SPEC, encoding="utf-8")
    run = Path(specc("train", str(folder / "spec.yaml"), "--runs-dir", str(folder / "runs"), "--quiet",
                     "--no-export").strip().splitlines()[-1])
    specc("export", str(run), "--format", "onnx")
    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`specc serve` in a process of its own; its start-up time and peak memory."""

    def __init__(self, run: Path, fmt: str, *options: str) -> None:
        self.port = free_port()
        start = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "specc", "serve", str(run), "--format", fmt,
                                         "--port", str(self.port), *options],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"the server ended: {self.process.stderr.read() if self.process.stderr else ''}")
            try:
                status, _ = post_or_get(http.client.HTTPConnection("127.0.0.1", self.port, timeout=5), "/health")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        self.startup = time.perf_counter() - start

    def peak_memory_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def post_or_get(connection: http.client.HTTPConnection, path: str, body: bytes = b"") -> tuple:
    if body:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    else:
        connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def load(port: int, clients: int, requests: int, seconds: float) -> dict:
    """`requests` single-row requests (at most `seconds`) from `clients` threads."""
    rng = np.random.default_rng(clients)
    bodies = [json.dumps({name: float(v) for name, v in zip(COLUMNS, row)}).encode()
              for row in np.round(rng.normal(size=(64, 8)), 4)]
    latencies: list = []
    statuses: list = []
    lock = threading.Lock()
    left = [requests]
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.perf_counter() < deadline:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            start = time.perf_counter()
            try:
                status, _ = post_or_get(connection, "/predict", bodies[(index + left[0]) % len(bodies)])
            except OSError:
                status = 0
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                latencies.append(time.perf_counter() - start)
                statuses.append(status)
        connection.close()

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ok = [lat for lat, status in zip(latencies, statuses) if status == 200]
    quantiles = statistics.quantiles(ok, n=100) if len(ok) > 1 else [float("nan")] * 99
    return {"clients": clients, "requests": len(statuses), "rps": len(statuses) / wall,
            "p50_ms": 1000 * quantiles[49], "p99_ms": 1000 * quantiles[98],
            "failed": sum(status != 200 for status in statuses),
            "busy_503": sum(status == 503 for status in statuses)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per level at most")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per level at most")
    parser.add_argument("--dir", help="work folder (default: a temporary one)")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="serve-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    run = make_run(folder)
    print("| served | batching | clients | requests | requests/s | p50 | p99 | failed |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    starts = {}
    for fmt in ("keras", "onnx"):
        for batching, options in (("on", ["--max-batch", "64", "--max-wait-ms", "2"]), ("off", ["--max-batch", "1"])):
            server = Server(run, fmt, *options)
            for clients in (1, 8, 64):
                level = load(server.port, clients, args.requests, args.seconds)
                print(f"| {fmt} | {batching} | {clients} | {level['requests']} | {level['rps']:,.0f} | "
                      f"{level['p50_ms']:.1f} ms | {level['p99_ms']:.1f} ms | {level['failed']} |", flush=True)
            starts.setdefault(fmt, []).append((server.startup, server.peak_memory_mb()))
            server.stop()
    print("\n| served | start-up (process start to /health) | peak memory (VmHWM) |")
    print("|---|---:|---:|")
    for fmt, figures in starts.items():
        print(f"| {fmt} | {min(s for s, _ in figures):.1f} s | {max(m for _, m in figures):,.0f} MB |")
    print("\n| served | queue | clients | requests | answered 200 | answered 503 | other failures |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fmt in ("keras", "onnx"):
        server = Server(run, fmt, "--max-batch", "1", "--max-queue", "8")
        level = load(server.port, 64, args.requests, args.seconds)
        server.stop()
        print(f"| {fmt} | 8 | 64 | {level['requests']} | {level['requests'] - level['failed']} | "
              f"{level['busy_503']} | {level['failed'] - level['busy_503']} |", flush=True)


if __name__ == "__main__":
    main()
