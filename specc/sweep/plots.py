"""The sweep's PNGs, drawn by Optuna's own matplotlib plots: the optimization history (each
trial's value and the best so far), the parameter importances (fANOVA), and each trial's
per-epoch metric (where pruned trials stopped)."""
from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

from specc.sweep.settings import Settings

# file -> the function of optuna.visualization.matplotlib that draws it
PLOTS = {"history.png": "plot_optimization_history", "importances.png": "plot_param_importances",
         "intermediate.png": "plot_intermediate_values"}
TARGETED = ("plot_optimization_history", "plot_param_importances")  # they take the metric's name


def import_ahead() -> threading.Thread:
    """Import what `draw_plots` needs (matplotlib, and scikit-learn for Optuna's fANOVA: about
    2 s) in a thread while the trials run, so the end of the sweep does not wait for it."""
    def load() -> None:
        try:
            import matplotlib.pyplot  # noqa: F401
            import optuna.importance  # noqa: F401
            import optuna.visualization.matplotlib  # noqa: F401
        except Exception:  # draw_plots says what is missing
            pass

    thread = threading.Thread(target=load, name="sweep-plot-imports", daemon=True)
    thread.start()
    return thread


def draw_plots(study: Any, settings: Settings, folder: Path) -> tuple[dict, dict]:
    """Draw each plot into the folder; returns ({file: path}, {file: why it was not drawn})."""
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    drawn, skipped = {}, {}
    for name, function in PLOTS.items():
        kwargs = {"target_name": settings.metric} if function in TARGETED else {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna's experimental-feature notices
                axes = getattr(optuna_plots, function)(study, **kwargs)
            figure = _figure(axes)
            figure.set_size_inches(8, 5)
            path = folder / name
            tmp = folder / f".{name}.tmp.png"
            figure.savefig(tmp, dpi=100, bbox_inches="tight")
            tmp.replace(path)
            plt.close(figure)
            drawn[name] = path
        except Exception as exc:  # too few trials for it (importances need two), or nothing to plot
            skipped[name] = f"{type(exc).__name__}: {exc}"
    return drawn, skipped


def _figure(axes: Any) -> Any:
    first = axes.flat[0] if hasattr(axes, "flat") else axes
    return first.get_figure()
