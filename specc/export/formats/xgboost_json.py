"""XGBoost's own model file (`.json`), read back by `xgboost.Booster.load_model`: a trees
run's kept rounds, for XGBoost in any language."""
from __future__ import annotations

from specc.export.formats import _booster

ARTIFACT = "model.json"
TOLERANCE = 1e-6
RUNTIME = "xgboost"
write = _booster.writer(".json")
run = _booster.run
