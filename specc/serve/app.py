"""The HTTP side of `specc serve`: Starlette routes on uvicorn.

POST /predict takes one row (a JSON object, column name -> value) or a list of rows and
answers {"run_id": ..., "predictions": [one object per row]}; each row is checked against
the run's input schema before the model sees it (specc/run/rows.py). A refused request gets a
4xx with {"error": message, "hint": ...}: 400 malformed JSON, 413 a body over `max_body`
bytes, 422 rows the schema refuses; 503 when the queue is full. GET /health, GET /metadata,
GET /metrics (Prometheus text).

uvicorn stops on SIGTERM or SIGINT gracefully: it stops accepting connections, lets the
requests in flight finish (their batches are predicted), then the lifespan's end stops the
model's worker.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from specc.errors import DataError
from specc.report import SILENT, Reporter
from specc.run.rows import check_rows
from specc.serve.batching import Batcher, QueueFull
from specc.serve.metrics import Metrics
from specc.serve.predictors import Predictor

MEGABYTE = 1 << 20
DRAIN_LIMIT = 64 * MEGABYTE   # bytes of a refused body read and dropped before answering 413


@dataclass
class Settings:
    """How the server batches and what it refuses.

    Attributes:
        max_batch: Rows per model call at most (1: no micro-batching).
        max_wait_ms: Milliseconds a request waits for others to share its model call.
        max_queue: Requests waiting for the model at most; more get 503.
        max_body: Bytes of a request body at most; more get 413.
    """

    max_batch: int = 64
    max_wait_ms: float = 2.0
    max_queue: int = 256
    max_body: int = MEGABYTE


def make_app(predictor: Predictor, settings: Settings, reporter: Reporter = SILENT,
             ready: Callable[[], str] = lambda: "") -> Any:
    """The Starlette application serving `predictor`."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    metrics = Metrics()
    state: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        batcher = Batcher(predictor.predict, settings.max_batch, settings.max_wait_ms / 1000,
                          settings.max_queue, metrics.batch)
        batcher.start()
        state["batcher"] = batcher
        reporter.line(ready())
        yield
        await batcher.stop()

    def refused(status: int, message: str, hint: str = "") -> Response:
        return JSONResponse({"error": message, **({"hint": hint} if hint else {})}, status_code=status)

    async def predict(request: Request) -> Response:
        batcher: Batcher = state["batcher"]
        body = await _body(request, settings.max_body)
        if body is None:
            return refused(413, f"the body is larger than {settings.max_body} bytes",
                           "send fewer rows per request (or start serve with a larger --max-body)")
        try:
            given = json.loads(body)
        except (ValueError, RecursionError) as err:
            return refused(400, f"the body is not JSON: {_first_line(err)}",
                           "send a JSON object (column name -> value) or a list of them")
        try:
            rows = check_rows(given, predictor.schema)
            metrics.queue_depth = batcher.depth
            answers = await batcher.submit(rows)
        except DataError as err:
            return refused(422, err.message, err.hint or "")
        except QueueFull:
            return refused(503, f"the server is busy: {settings.max_queue} requests are waiting",
                           "retry later")
        return JSONResponse({"run_id": state["run_id"], "predictions": answers})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def describe(request: Request) -> Response:
        return JSONResponse(state["metadata"])

    async def metrics_text(request: Request) -> Response:
        metrics.queue_depth = state["batcher"].depth
        return PlainTextResponse(metrics.text(), media_type="text/plain; version=0.0.4")

    def timed(route: str, handler: Callable) -> Callable:
        async def wrapped(request: Request) -> Response:
            start = time.perf_counter()
            try:
                response = await handler(request)
            except Exception as err:  # noqa: BLE001  (a bug answers 500; the server keeps serving)
                response = refused(500, f"internal error: {_first_line(err)}", "this is a bug in specc")
            metrics.request(route, response.status_code, time.perf_counter() - start)
            return response
        return wrapped

    state["metadata"] = predictor.metadata()
    state["run_id"] = state["metadata"]["run_id"]
    routes = [Route("/predict", timed("/predict", predict), methods=["POST"]),
              Route("/health", timed("/health", health), methods=["GET"]),
              Route("/metadata", timed("/metadata", describe), methods=["GET"]),
              Route("/metrics", timed("/metrics", metrics_text), methods=["GET"])]
    return Starlette(routes=routes, lifespan=lifespan)


async def _body(request: Any, limit: int) -> Any:
    """The body's bytes, or None when it is longer than `limit`.

    The rest of a body over the limit is read and dropped (up to DRAIN_LIMIT bytes), never
    kept: a server that answers and closes while the client is still sending resets the
    connection, and the client never sees the 413.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_LIMIT:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_LIMIT:
            return None
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def serve(predictor: Predictor, host: str, port: int, settings: Settings, reporter: Reporter = SILENT,
          graceful_seconds: int = 30) -> None:
    """Run the server until SIGTERM or SIGINT (then finish the requests in flight, for at
    most `graceful_seconds`)."""
    import uvicorn

    from specc.serve.predictors import warm_up

    warm_up(predictor)
    app = make_app(predictor, settings, reporter, ready=lambda: f"serving on http://{host}:{port}")
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", log_level="warning",
                            access_log=False, timeout_graceful_shutdown=graceful_seconds)
    uvicorn.Server(config).run()
