"""XGBoost's own model file (`.ubj`), read back by `xgboost.Booster.load_model`: a trees
run's kept rounds, for XGBoost in any language."""
from __future__ import annotations

from specc.export.formats import _booster

ARTIFACT = "model.ubj"
TOLERANCE = 1e-6
RUNTIME = "xgboost"
write = _booster.writer(".ubj")
run = _booster.run
