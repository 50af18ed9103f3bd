"""Stop signals: SIGTERM ends training as Ctrl-C does, and a stop is never lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when a signal comes.
A few places in the libraries under specc catch everything: Keras's saving, for one, falls
back to holding the weights in memory under a bare `except:` when its staged weights file
cannot be opened, so a stop that lands there while a checkpoint is written is swallowed
and training went on to its last epoch (seen as a flaky CI test). The handlers therefore
also remember the stop, and `raise_if_stopped` (called by the `StopCheck` callback at every
batch and epoch end) raises it again.

No TensorFlow here: the sweep driver uses the same handlers.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_stopped: list[int] = []  # the signals received inside the outermost `terminate_as_interrupt`
_depth = [0]


def _interrupt(signum: int, frame: Any) -> None:
    _stopped.append(signum)
    raise KeyboardInterrupt


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler, `kill`, a container stopping) ends training as Ctrl-C does: the
    epoch's checkpoint is kept and the record says interrupted. Both signals are remembered
    until the outermost of nested uses ends (see `raise_if_stopped`). Only the main thread
    can handle signals; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when Ctrl-C is ignored
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupt)
    if _depth[0] == 0:
        _stopped.clear()
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if _depth[0] == 0:
            _stopped.clear()


def raise_if_stopped() -> None:
    """Raise the KeyboardInterrupt of a stop signal that library code swallowed.

    Raises:
        KeyboardInterrupt: A stop signal came since training started.
    """
    if _stopped:
        raise KeyboardInterrupt
