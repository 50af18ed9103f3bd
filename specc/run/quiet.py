"""Keep TensorFlow's start-up chatter (absl, CUDA probing) off the user's terminal."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def native_stderr_silenced(fds: tuple = (2,)) -> Iterator[None]:
    """Send file descriptors (default: 2) to /dev/null for the block.

    TensorFlow's C++ logs and the LiteRT converter write to the descriptors directly,
    past Python's sys.stderr, so only this keeps them off the terminal.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    try:
        with open(os.devnull, "wb") as null:
            for fd in fds:
                os.dup2(null.fileno(), fd)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def import_tensorflow() -> Any:
    """Import TensorFlow and probe its devices once, without the native log lines."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf
