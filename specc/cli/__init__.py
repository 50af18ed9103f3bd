"""The `specc` command line: parse arguments, call the library, map errors to exit codes.

    group.py           the `specc` group and its error handling (one place for exit codes)
    spec_commands.py   validate, render, schema (never import TensorFlow)
    run_commands.py    compile, train, evaluate, predict, export (TensorFlow imported lazily)
    runs_commands.py   runs list / show / compare / export (no TensorFlow)
    sweep_commands.py  sweep (Optuna; trials in processes of their own), sweep-trial (hidden)
    serve_commands.py  serve (Starlette and uvicorn, imported when it runs)
    worker_commands.py warm-worker (hidden): runs trials one after another, TensorFlow imported once
    doc_pages.py       the docs page each command's help ends with (`see: docs/...`)

Only this package prints; the library reports through `specc.report.Reporter`.
"""
from specc.cli import (run_commands, runs_commands, serve_commands, spec_commands, sweep_commands,  # noqa: F401
                       worker_commands)  # (register the commands)
from specc.cli.doc_pages import point_to_docs
from specc.cli.group import main

point_to_docs(main)

__all__ = ["main"]
