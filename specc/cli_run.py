"""CLI commands that build, train or export models. TensorFlow is imported inside each command."""
from __future__ import annotations
