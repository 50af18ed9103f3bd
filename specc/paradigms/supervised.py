"""The supervised paradigm: the rows of the task table (binary, multilabel, multiclass,
regression), one model from inputs to labelled outputs. Everything is `Paradigm`'s default."""
from __future__ import annotations

from specc.paradigms.base import Paradigm


class Supervised(Paradigm):
    """inputs -> outputs, trained on the data's labels with the spec's loss and metrics."""
