"""A question's vector computed beside the full-text query.

The question embedding (CPU in this process, the GIL released inside the model runtime) and
the full-text query (CPU in the PostgreSQL backend) do not depend on each other, so a fused
search starts the embedding on a worker thread, runs the full-text query, and only then
waits for the vector the dense query needs. Measured on a 2-core host (whole shared corpus,
all-MiniLM-L6-v2 on onnxruntime fp32, 150 questions x 4 rounds, interleaved): p50 / p95
36.8 / 59.2 -> 31.8 / 54.6 ms per unrestricted search, and about a third less CPU
(README, "The question is embedded while the full-text query runs").

Only the embedding runs on the worker: everything that touches the connection (the
question-embedding cache's store, counters) runs in the caller's thread, in ``get``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child the parent's worker threads do not exist: start a new pool."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_forget_pool)


def _executor() -> ThreadPoolExecutor:
    """One pool per process, a thread per usable core (a server answers in parallel)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from netdocs.embedding.local import _usable_cpus

            _pool = ThreadPoolExecutor(_usable_cpus(), thread_name_prefix="netdocs-embed")
        return _pool


def _timed(embed: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    vector = np.asarray(embed(), dtype=np.float32)
    return vector, (time.perf_counter() - started) * 1000.0


class PendingVector:
    """The vector of one question, being embedded on a worker thread.

    ``finish`` (optional) receives the vector once, in the thread that first calls ``get``
    (the connection's owner): the question-embedding cache stores it there. ``timings``
    receives the embedding's milliseconds as ``embed_ms`` at that point.
    """

    def __init__(
        self,
        embed: Callable[[], np.ndarray],
        *,
        finish: Callable[[np.ndarray], None] | None = None,
        timings: dict[str, float] | None = None,
    ) -> None:
        self._future: Future[tuple[np.ndarray, float]] = _executor().submit(_timed, embed)
        self._finish = finish
        self._timings = timings
        self._vector: np.ndarray | None = None
        self._lock = threading.Lock()

    def get(self) -> np.ndarray:
        """The vector (waits for the worker; the embedding's error is raised here)."""
        with self._lock:
            if self._vector is None:
                vector, ms = self._future.result()
                if self._timings is not None:
                    self._timings["embed_ms"] = self._timings.get("embed_ms", 0.0) + ms
                if self._finish is not None:
                    self._finish(vector)
                self._vector = vector
            return self._vector

    def settle(self) -> None:
        """Wait for the worker without raising (when the search failed before ``get``), so
        no embedding outlives the search that asked for it."""
        if not self._future.cancel():
            # the search's own error is the one reported, not the embedding's
            with contextlib.suppress(Exception):
                self._future.result()


VectorLike = np.ndarray | PendingVector
