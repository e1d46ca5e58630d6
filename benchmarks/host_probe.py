"""How fast is the host right now? A fixed workload timed around every benchmark step.

A shared 2-core host changes speed by 20-35 % between back-to-back ``make bench`` runs
(docs/benchmarks.md): every step of the slower run is slower, CPU seconds included, so the
two runs' figures disagree although they did the same work. To tell that drift from a real
change, each step records the time of the same small workload just before and just after it
(``host.probe_s``) and the share of CPU time the hypervisor took from this machine while it
ran (``host.steal_share``, from /proc/stat). ``compare_runs.py --normalize`` rescales the
second run's durations by the ratio of the two runs' probes for that step.

The workload mixes what netdocs' steps do: float32 matrix products (the embedding model),
interpreted Python on strings and dicts (scan, chunking, validation) and SHA-256 (content
hashes). The products run on numpy's BLAS threads, the rest on one; a round takes ~0.1 s on the
AVX2 host and the median of three rounds is the probe.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
_ROUNDS = 3
_A = np.random.default_rng(14).standard_normal((128, 384), dtype=np.float32)
_B = np.random.default_rng(15).standard_normal((384, 1536), dtype=np.float32)
_TEXT = "interface eth0 mtu 9000; router bgp 65001 neighbor 10.0.0.1 remote-as 65002 " * 40


def _workload() -> float:
    """Seconds for one round of the fixed workload."""
    started = time.perf_counter()
    acc = 0.0
    for _ in range(40):
        acc += float((_A @ _B)[0, 0])
    words: dict[str, int] = {}
    for _ in range(500):
        for w in _TEXT.split():
            words[w] = words.get(w, 0) + 1
        json.loads(json.dumps(words))
    data = _TEXT.encode()
    for _ in range(6000):
        data = hashlib.sha256(data).digest() + data[:3000]
    return time.perf_counter() - started + 0.0 * acc


def probe() -> float:
    """The median of three rounds of the workload, in seconds (rounded to 0.1 ms)."""
    return round(statistics.median(_workload() for _ in range(_ROUNDS)), 4)


def cpu_jiffies() -> tuple[int, int]:
    """(all, steal) jiffies of the machine so far, from /proc/stat; (0, 0) if unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def around(step: Callable[[], T]) -> tuple[T, dict[str, Any]]:
    """Run ``step`` between two probes; return its result and the ``host`` record."""
    before = probe()
    total0, steal0 = cpu_jiffies()
    result = step()
    total1, steal1 = cpu_jiffies()
    after = probe()
    share = (steal1 - steal0) / (total1 - total0) if total1 > total0 else 0.0
    return result, {"probe_s": [before, after], "steal_share": round(share, 4)}


def with_host(step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``step()``'s result dict with the ``host`` record added."""
    result, host = around(step)
    result["host"] = host
    return result
