"""Building the same spec twice in one process, with the same seed, gives the same weights."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from specc.api import load_and_check, resolved_spec
from specc.paradigms import build_model

SPEC = Path(__file__).resolve().parent.parent / "specs" / "mlp-wine.yaml"  # names initializers


def test_two_builds_in_one_process_have_the_same_weights():
    doc, _ = load_and_check(str(SPEC))
    resolved = resolved_spec(doc)
    weights = []
    for _ in range(2):
        keras.utils.set_random_seed(1)
        weights.append(build_model(resolved).get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights))
