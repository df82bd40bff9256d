"""Graders off the event loop, with a time limit: a model's answer may be built to make a
grader slow (``3^{100000000}`` for math-verify, a crafted megabyte for ``SequenceMatcher``),
and a thread cannot be stopped. So a grade is computed in a worker process (a few, kept for
the life of the process); one that takes longer than its limit is killed and the grading is
the output's failure (:class:`GraderTimeout`, a model failure by the outcome rule), as is a
worker that dies under it. The event loop only waits.

The workers belong to the process that started them: a process forked from it (a test
runner's worker, a user's ``fork``) starts its own, since two processes writing to one
worker's pipe would read each other's grades, or wait forever.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import threading
import uuid
import weakref
from typing import Any

GRADE_TIMEOUT_S = 60.0  # far beyond any honest answer's grading (milliseconds)


class GraderTimeout(Exception):
    """Grading an output took longer than its limit, or killed its worker."""


def _serve(conn: Any) -> None:  # pragma: no cover - runs in the worker process
    suites: dict[str, Any] = {}
    while True:
        try:
            key, blob, method, args, kwargs = conn.recv()
        except EOFError:
            return
        try:
            if key not in suites:
                suites.clear()  # one run's suites at a time
                suites[key] = pickle.loads(blob)
            result = ("ok", getattr(suites[key], method)(*args, **kwargs))
        except BaseException as exc:  # the outcome rule decides what it means
            result = ("err", exc)
        try:
            conn.send(result)
        except Exception as exc:  # an exception that does not pickle: its words
            conn.send(("err", RuntimeError(f"{type(result[1]).__name__}: {result[1]}"[:500]
                                           if result[0] == "err" else f"unpicklable: {exc}")))


class _Worker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True,
                                name="m1eval-grader")  # fmt: skip
        self.proc.start()
        child.close()

    def call(self, message: tuple[Any, ...], timeout_s: float) -> Any:
        self.conn.send(message)
        if not self.conn.poll(timeout_s):
            raise GraderTimeout(f"grading took longer than {timeout_s:g} s")
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            raise GraderTimeout("the grader's process died while grading") from None
        if status == "err":
            raise value
        return value

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)


class _Pool:
    def close(self) -> None:
        """Stop every idle worker (each is started again on next use)."""
        for _ in range(self.size):
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker is not None:
                worker.close()
            self._idle.put(None)

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        for _ in range(size):
            self._idle.put(None)  # started on first use

    def call(self, message: tuple[Any, ...], timeout_s: float) -> Any:
        worker = self._idle.get()
        if worker is not None and not worker.proc.is_alive():  # died while idle (OOM, kill):
            worker.close()  # not the next output's doing; a fresh one grades it
            worker = None
        worker = worker or _Worker()
        healthy = False
        try:
            result = worker.call(message, timeout_s)
            healthy = True
            return result
        except GraderTimeout:
            raise
        except BaseException:
            healthy = worker.proc.is_alive()
            raise
        finally:
            if not healthy:
                worker.close()
            self._idle.put(worker if healthy else None)


_POOL: _Pool | None = None
_POOL_LOCK = threading.Lock()
_BLOBS: weakref.WeakKeyDictionary[Any, tuple[str, bytes]] = weakref.WeakKeyDictionary()


def _forget_parents_workers() -> None:
    """In a forked child: the parent's workers (and a lock a parent thread may have held at
    the fork) are not this process's."""
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_parents_workers)


def shutdown() -> None:
    """Stop this process's grader workers (they start again on the next grading): for a
    process that must leave no child behind, such as a test session's end."""
    with _POOL_LOCK:
        pool = _POOL
    if pool is not None:
        pool.close()


def _pool() -> _Pool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = _Pool(max(1, min(4, os.cpu_count() or 1)))
        return _POOL


def call_bounded(suite: Any, method: str, *args: Any, timeout_s: float = GRADE_TIMEOUT_S,
                 **kwargs: Any) -> Any:  # fmt: skip
    """``suite.method(*args, **kwargs)`` in a grader worker, within ``timeout_s`` (blocking:
    call it through ``asyncio.to_thread``). The suite goes to the worker pickled without its
    run-time state (its ``worker_transient`` attributes and anything that does not pickle)."""
    with _POOL_LOCK:
        if suite not in _BLOBS:
            _BLOBS[suite] = (uuid.uuid4().hex, pickle.dumps(suite))
        key, blob = _BLOBS[suite]
    return _pool().call((key, blob, method, args, kwargs), timeout_s)
