"""What the booster formats share: writing XGBoost's own model file, and running one back
by XGBoost (in the checking process)."""
from __future__ import annotations

from typing import Callable

from specc.export.formats._signature import single, spec
from specc.export.formats.protocol import ExportContext, RuntimeContext


def writer(suffix: str) -> Callable[[ExportContext], None]:
    """A format's `write`: the kept rounds of the run's booster, by XGBoost's `save_model`
    (`.json` or `.ubj`: the suffix picks the format)."""

    def write(context: ExportContext) -> None:
        booster = context.model.kept()
        path = context.path.with_name(context.path.name + suffix)  # save_model reads the format off the suffix
        booster.save_model(str(path))
        path.replace(context.path)

    return write


def run(context: RuntimeContext) -> tuple:
    """The model file loaded by XGBoost alone, asked for its predictions."""
    import numpy as np
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(context.path)
    x = np.asarray(single(context.inputs), dtype=np.float32)
    data = xgb.DMatrix(x, feature_names=booster.feature_names, feature_types=booster.feature_types,
                       enable_categorical="c" in (booster.feature_types or []))
    values = np.asarray(booster.predict(data)).reshape(len(x), -1)
    name = next(iter(context.inputs))
    return values, [spec(name, [None, x.shape[1]], "float32")]
