"""Counters and a latency histogram of the server, in Prometheus' text exposition format.

Kept by hand rather than with prometheus_client: a handful of series, and one dependency less.
"""
from __future__ import annotations

import threading
from collections import Counter

# seconds; the last bucket is +Inf
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Histogram:
    """Cumulative bucket counts, a sum and a count, as Prometheus reads them."""

    def __init__(self, bounds: tuple) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        index = next((i for i, bound in enumerate(self.bounds) if value <= bound), len(self.bounds))
        self.counts[index] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str) -> list:
        out, running = [], 0
        for bound, count in zip([*map(str, self.bounds), "+Inf"], self.counts):
            running += count
            out.append(f'{name}_bucket{{le="{bound}"}} {running}')
        return out + [f"{name}_sum {self.total:.6f}", f"{name}_count {self.count}"]


class Metrics:
    """What /metrics reports: requests by route and status, the latency of /predict, the
    size of each model call (rows), the requests refused because the queue was full."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: Counter = Counter()   # (route, status) -> count
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batches = Histogram(BATCH_BUCKETS)
        self.queue_depth = 0

    def request(self, route: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(route, status)] += 1
            if route == "/predict":
                self.latency.observe(seconds)

    def batch(self, rows: int) -> None:
        with self.lock:
            self.batches.observe(rows)

    def text(self) -> str:
        with self.lock:
            lines = ["# HELP specc_requests_total HTTP requests by route and status code.",
                     "# TYPE specc_requests_total counter"]
            lines += [f'specc_requests_total{{route="{route}",status="{status}"}} {count}'
                      for (route, status), count in sorted(self.requests.items())]
            errors = sum(count for (_, status), count in self.requests.items() if status >= 400)
            lines += ["# HELP specc_request_errors_total Requests answered with a 4xx or 5xx status.",
                      "# TYPE specc_request_errors_total counter", f"specc_request_errors_total {errors}",
                      "# HELP specc_predict_latency_seconds Time to answer POST /predict.",
                      "# TYPE specc_predict_latency_seconds histogram",
                      *self.latency.lines("specc_predict_latency_seconds"),
                      "# HELP specc_batch_rows Rows per model call (micro-batches).",
                      "# TYPE specc_batch_rows histogram", *self.batches.lines("specc_batch_rows"),
                      "# HELP specc_queue_depth Requests waiting for the model.",
                      "# TYPE specc_queue_depth gauge", f"specc_queue_depth {self.queue_depth}"]
        return "\n".join(lines) + "\n"
