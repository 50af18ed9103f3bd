"""The per-epoch history of a run: rows of `{"epoch": N, metric: value, ...}` and their CSV
(non-finite values become empty cells; the record's status says why)."""
from __future__ import annotations

import csv
import io
import math
from typing import Any

from specc.run.records.provenance import as_float


def history_row(epoch: int, logs: dict) -> dict:
    row = {"epoch": int(epoch)}
    for key, value in (logs or {}).items():
        if key != "epoch":
            row[str(key)] = as_float(value)
    return row


def history_csv(rows: list) -> str:
    """history rows as CSV: epoch, then every metric in the order first logged."""
    columns = ["epoch"]
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""  # shortest text that reads back
    return str(value)
