"""Per-stage timings of a query: ``with timed(timings, "dense_ms"): ...``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def timed(timings: dict[str, float] | None, stage: str) -> Iterator[None]:
    """Add the block's wall time in milliseconds to ``timings[stage]`` (no-op for None).

    The time is added even when the block raises, so a failed stage still shows its cost.
    """
    if timings is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        ms = (time.perf_counter() - started) * 1000.0
        timings[stage] = timings.get(stage, 0.0) + ms
