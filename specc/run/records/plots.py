"""Learning curves of a run (curves.png), drawn with matplotlib's Agg canvas (no pyplot)."""
from __future__ import annotations

import io
import math
from typing import Any, Optional

from specc.run.records.files import PathLike, atomic_write_bytes


def plot_curves(history: list, path: PathLike, phase_starts: Optional[list] = None) -> None:
    """Learning curves to a PNG: one subplot per metric, the train line and its val_ line;
    a dashed line where each training phase after the first begins (`[(name, epoch)]`).

    Uses matplotlib's Agg canvas directly (no pyplot, so no global backend is touched).
    Does nothing when the history is empty.
    """
    if not history:
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys: list = []
    for row in history:
        for key in row:
            if key != "epoch" and key not in keys:
                keys.append(key)
    panels: list = []  # (title, [series keys])
    for key in keys:
        if key.startswith("val_") and key[4:] in keys:
            continue
        series = [key] + ([f"val_{key}"] if f"val_{key}" in keys else [])
        panels.append((key[4:] if key.startswith("val_") else key, series))
    if not panels:
        return
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows), dpi=100)
    FigureCanvasAgg(figure)
    epochs = [row.get("epoch", i) for i, row in enumerate(history)]
    for index, (title, series) in enumerate(panels, start=1):
        axes = figure.add_subplot(rows, columns, index)
        for key in series:
            values = [_plot_value(row.get(key)) for row in history]
            label = "validation" if key.startswith("val_") else "train"
            axes.plot(epochs, values, marker="o" if len(epochs) < 30 else None, markersize=3,
                      label=label)
        for name, first in phase_starts or []:
            axes.axvline(first - 0.5, color="gray", linestyle="--", linewidth=1)
            axes.annotate(name, (first - 0.5, 1), xycoords=("data", "axes fraction"), fontsize="x-small",
                          color="gray", xytext=(2, -10), textcoords="offset points")
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())


def _plot_value(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def plot_importances(importances: dict, path: PathLike, most: int = 20) -> None:
    """A trees run's feature importances (total gain) to a PNG: the `most` largest, as bars,
    largest on top. Does nothing without any."""
    if not importances:
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = sorted(importances.items(), key=lambda kv: -kv[1])[:most]
    figure = Figure(figsize=(6.4, 0.8 + 0.28 * len(shown)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.barh([name for name, _ in reversed(shown)], [value for _, value in reversed(shown)])
    axes.set_xlabel("total gain of the feature's splits")
    axes.set_title(f"feature importances ({len(shown)} of {len(importances)})")
    axes.grid(True, axis="x", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
