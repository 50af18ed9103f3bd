"""Micro-batching: concurrent requests wait up to `max_wait` seconds to share one model call
of at most `max_batch` rows; a bounded queue refuses a request when it is full (HTTP 503)
rather than letting latency grow without end.

The model runs in one worker thread (a Keras model is not called from two threads at once),
so the event loop keeps reading and checking requests while a batch is being predicted.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from specc.errors import DataError


class QueueFull(Exception):
    """The queue holds `max_queue` requests already."""


@dataclass
class Job:
    """One request's rows and where its answer goes."""

    rows: list
    future: asyncio.Future
    queued: float = field(default_factory=time.perf_counter)


class Batcher:
    """Collects requests into model calls.

    Args:
        predict: Rows (checked JSON objects) -> one answer per row; called in the worker thread.
        max_batch: Rows per model call at most (1: every request alone, no batching); a
            request of more rows is called alone.
        max_wait: Seconds the first request of a batch waits for others.
        max_queue: Requests waiting at most; one more is refused (`QueueFull`).
        on_batch: Told the rows of each model call (metrics).
    """

    def __init__(self, predict: Callable[[list], list], max_batch: int, max_wait: float, max_queue: int,
                 on_batch: Optional[Callable[[int], None]] = None) -> None:
        self.predict, self.max_batch, self.max_wait = predict, max(1, max_batch), max(0.0, max_wait)
        self.on_batch = on_batch or (lambda rows: None)
        self.queue: asyncio.Queue = asyncio.Queue(max(1, max_queue))
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="specc-model")
        self.task: Optional[asyncio.Task] = None
        self.carry: Optional[Job] = None   # taken from the queue, answered in the next batch

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Answer what is queued, then stop the worker (after the server stopped taking requests)."""
        await self.queue.join()
        if self.task is not None:
            self.task.cancel()
        self.executor.shutdown(wait=True)

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    async def submit(self, rows: list) -> list:
        """The answers for `rows`, once their batch has been predicted.

        Raises:
            QueueFull: The queue is full.
            DataError: The rows could not be read (raised by `predict`).
        """
        job = Job(rows, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFull() from None
        return await job.future

    async def _work(self) -> None:
        while True:
            jobs = await self._collect()
            try:
                await self._answer(jobs)
            finally:
                for _ in jobs:
                    self.queue.task_done()

    async def _collect(self) -> list:
        """The next batch: the first waiting job, then others until the batch is full or the
        first has waited `max_wait`. A job that would overflow the batch starts the next one."""
        first, self.carry = self.carry or await self.queue.get(), None
        jobs, rows = [first], len(first.rows)
        deadline = first.queued + self.max_wait
        while rows < self.max_batch:
            try:
                job = self.queue.get_nowait() if self.queue.qsize() else \
                    await asyncio.wait_for(self.queue.get(), max(0.0, deadline - time.perf_counter()))
            except (asyncio.TimeoutError, asyncio.QueueEmpty):
                break
            if rows + len(job.rows) > self.max_batch:
                self.carry = job
                break
            jobs.append(job)
            rows += len(job.rows)
        return jobs

    async def _answer(self, jobs: list) -> None:
        rows = [row for job in jobs for row in job.rows]
        loop = asyncio.get_running_loop()
        try:
            answers = await loop.run_in_executor(self.executor, self._predict, rows)
        except DataError as err:
            if len(jobs) > 1:   # one request's rows spoil the batch: answer each alone
                for job in jobs:
                    await self._answer([job])
                return
            _settle(jobs[0].future, error=err)
            return
        except Exception as err:  # noqa: BLE001  (a failed call is that request's 500, not the server's end)
            for job in jobs:
                _settle(job.future, error=err)
            return
        start = 0
        for job in jobs:
            _settle(job.future, answers[start:start + len(job.rows)])
            start += len(job.rows)

    def _predict(self, rows: list) -> list:
        self.on_batch(len(rows))
        return self.predict(rows)


def _settle(future: asyncio.Future, result: Any = None, error: Optional[BaseException] = None) -> None:
    if future.done():  # the client went away and its request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
