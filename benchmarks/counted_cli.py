"""Run the netdocs CLI with its local model's ``embed`` counted (benchmark launcher).

    python benchmarks/counted_cli.py COUNTS.json ingest DOCS --json ...

Wraps ``LocalEmbedder.embed`` and ``OpenVINOEmbedder.embed`` (the class methods, so every
instance the run builds is counted; installed when the run first builds the local model),
runs ``netdocs.cli.main`` and writes to COUNTS.json the calls, texts and seconds inside the
model, and this process's peak RSS.
"""

from __future__ import annotations

import functools
import json
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class Counter:
    """Calls, texts and seconds spent in wrapped ``embed`` methods (thread-safe)."""

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def wrap(self, embed: Callable[..., Any]) -> Callable[..., Any]:
        """``embed`` counted."""

        @functools.wraps(embed)
        def counted(obj: Any, texts: Sequence[str]) -> Any:
            started = time.perf_counter()
            try:
                return embed(obj, texts)
            finally:
                with self._lock:
                    self.calls += 1
                    self.texts += len(texts)
                    self.seconds += time.perf_counter() - started

        return counted

    def to_json(self) -> dict[str, Any]:
        return {"embed_calls": self.calls, "embed_texts": self.texts, "model_s": self.seconds}


def _patch_classes(counter: Counter) -> None:
    from netdocs.embedding.local import LocalEmbedder
    from netdocs.embedding.openvino_backend import OpenVINOEmbedder

    LocalEmbedder.embed = counter.wrap(LocalEmbedder.embed)  # type: ignore[method-assign]
    if "embed" in OpenVINOEmbedder.__dict__:
        OpenVINOEmbedder.embed = counter.wrap(OpenVINOEmbedder.__dict__["embed"])  # type: ignore[method-assign]


def install(counter: Counter) -> None:
    """Count every local-model embed call in this process (both runtimes).

    The classes are wrapped when the run first builds a local model's embedder
    (``factory._build_local``, on its first use), not before: a run that never embeds with
    it (hashing vectors; a no-change run) does not import the model runtimes (~1 s of CPU a
    user's process would not spend)."""
    from netdocs.embedding import factory

    build = factory._build_local
    patched = False

    def counted_build(settings: Any, purpose: Any) -> Any:
        nonlocal patched
        if not patched:
            _patch_classes(counter)  # wraps the methods; instances built later use them
            patched = True
        return build(settings, purpose)

    factory._build_local = counted_build


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> int:
    counts_file = Path(sys.argv[1])
    counter = Counter()
    install(counter)
    from netdocs.cli import main as cli_main

    code = 1
    try:
        code = cli_main(sys.argv[2:])
    finally:
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        out = {
            **counter.to_json(),
            "peak_rss_mb": peak_rss_mb(),
            "cpu_s": round(cpu.ru_utime + cpu.ru_stime, 2),
            "exit_code": code,
        }
        counts_file.write_text(json.dumps(out))
    return code


if __name__ == "__main__":
    sys.exit(main())
