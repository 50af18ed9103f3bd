"""`specc serve`: a prediction server for a run (its Keras checkpoint, SavedModel or ONNX export)."""
from __future__ import annotations

from typing import Optional

import click

from specc.cli.common import Echo
from specc.cli.group import main
from specc.cli.run_commands import CHECKPOINT_HELP, RUNS_DIR_HELP, parse_settings, trust_option, with_option
from specc.serve.formats import SERVED_FORMATS, formats_help

DEFAULTS = {"max_batch": 64, "max_wait_ms": 2.0, "max_queue": 256, "max_body": 1 << 20}


@main.command()
@click.argument("run")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (another than 127.0.0.1 lets other machines call it).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--format", "fmt", type=click.Choice(list(SERVED_FORMATS)), default="keras", show_default=True,
              help=formats_help())
@click.option("--checkpoint", type=click.Choice(["best", "last"]), default="best", help=CHECKPOINT_HELP)
@click.option("--runs-dir", help=RUNS_DIR_HELP)
@click.option("--max-batch", default=DEFAULTS["max_batch"], show_default=True, type=click.IntRange(1, 1 << 16),
              help="Rows per model call at most: concurrent requests share calls (1: no micro-batching).")
@click.option("--max-wait-ms", default=DEFAULTS["max_wait_ms"], show_default=True, type=click.FloatRange(0, 1000),
              help="Milliseconds a request waits for others to share its model call.")
@click.option("--max-queue", default=DEFAULTS["max_queue"], show_default=True, type=click.IntRange(1, 1 << 20),
              help="Requests waiting for the model at most; more are answered 503.")
@click.option("--max-body", default=DEFAULTS["max_body"], show_default=True, type=click.IntRange(1, 1 << 30),
              help="Bytes of a request body at most; more are answered 413.")
@with_option
@trust_option
def serve(run: str, host: str, port: int, fmt: str, checkpoint: str, runs_dir: Optional[str], max_batch: int,
          max_wait_ms: float, max_queue: int, max_body: int, settings: tuple, trust_plugins: bool) -> None:
    """Serve a trained run's predictions over HTTP (POST /predict, GET /health, /metadata,
    /metrics) until SIGTERM or Ctrl-C, which finish the requests in flight first.

    RUN is a run (id, prefix, NAME/latest or path) or its export folder. Needs the `serve`
    extra: pip install 'specc[serve]'.
    """
    from specc.serve.app import Settings, serve as serve_app
    from specc.serve.predictors import open_predictor

    _require_server()
    if SERVED_FORMATS[fmt].tensorflow:
        from specc.run.quiet import import_tensorflow

        import_tensorflow()
    predictor = open_predictor(run, fmt, checkpoint, runs_dir, trust_plugins, parse_settings(settings))
    serve_app(predictor, host, port, Settings(max_batch, max_wait_ms, max_queue, max_body), Echo(err=True))


def _require_server() -> None:
    from specc.errors import UsageError

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError("specc serve needs Starlette and uvicorn", "pip install 'specc[serve]'") from None
