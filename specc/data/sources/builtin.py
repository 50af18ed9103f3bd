"""`builtin`: a data set that ships inside scikit-learn (no download)."""
from __future__ import annotations

from typing import Any

import numpy as np

from specc.data.checks import missing_key
from specc.data.table import Table
from specc.registries import BUILTIN_DATA_SETS

NAMES = tuple(BUILTIN_DATA_SETS)
REGRESSION = tuple(name for name, info in BUILTIN_DATA_SETS.items() if info.classes is None)


def load(spec: Any, context: Any) -> Table:
    """Load one of scikit-learn's bundled data sets."""
    name = spec.get("name") if isinstance(spec, dict) else spec
    if name not in NAMES:
        raise missing_key("builtin", "data set", name, NAMES, f"{context.key}.builtin")
    from sklearn import datasets  # scikit-learn is slow to import; only pay when used

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float32)
    regression = name in REGRESSION
    y = np.asarray(bunch.target, dtype=np.float32 if regression else np.int64)
    class_names = None if regression else [str(c) for c in bunch.target_names]
    return Table(features={"x": x}, labels=y, class_names=class_names,
                 feature_names=[str(f) for f in bunch.feature_names], origin=f"builtin {name}",
                 rows=np.arange(len(x), dtype=np.int64))
