"""How the library tells a person what it is doing: a small reporter interface.

Library code (training, export) calls `reporter.line(text)`; only the command line prints
(`specc.cli` passes a reporter that echoes). The default reporter says nothing, so a
library call is quiet unless its caller asks otherwise. No TensorFlow here.
"""
from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives progress lines (one line of text each, no trailing newline)."""

    def line(self, text: str) -> None:
        ...


class Silent:
    """A reporter that drops everything (the library's default)."""

    def line(self, text: str) -> None:
        pass


class Collected:
    """A reporter that keeps the lines (for tests and for callers that print later)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)


SILENT = Silent()


def figure(value: float) -> str:
    """A metric as people read it: four significant digits (0.2031, 163.5, 4.512e-05), so a
    small loss does not show as 0.0000."""
    return f"{value:.4g}"


def figures_text(values: dict) -> str:
    """`accuracy 0.9444  loss 0.2031`: a split's figures on one line."""
    return "  ".join(f"{name} {figure(value)}" for name, value in values.items())
