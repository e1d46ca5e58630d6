"""Time the data-quality gate (Great Expectations) on one batch of 200 chunks.

    .venv/bin/python benchmarks/bench_validation.py [--rounds 5]

Moved here from the test suite (it was a `< 1 s` assert, which flakes on a busy machine):
prints the median and best of ``--rounds`` validations after one warm-up (~0.1 s on 2 quiet
cores).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netdocs.types import Chunk  # noqa: E402
from netdocs.validation import ChunkValidator  # noqa: E402

TEXT = "Configure the BGP neighbor with remote-as and a route-map on the uplink."


def chunks(n: int) -> list[Chunk]:
    out = []
    for i in range(n):
        doc_id, heading = f"docs/site-{i // 5}.md", ("Runbook", f"Section {i % 5 + 1}")
        embed = f"{' > '.join(heading)}\n\n{TEXT}"
        out.append(
            Chunk(
                chunk_id=hashlib.sha256(f"{doc_id}/{i}".encode()).hexdigest(),
                doc_id=doc_id,
                ordinal=i % 5,
                heading_path=heading,
                text=TEXT,
                embed_text=embed,
                text_hash=hashlib.sha256(embed.encode()).hexdigest(),
                token_count=20,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    batch = chunks(200)
    vectors = np.random.default_rng(6).normal(size=(len(batch), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    validator = ChunkValidator(dim=384, max_tokens=200, normalized=True, tag_vocabulary=None)
    validator.validate(batch, vectors, {})  # warm-up: GX import and suite
    times = [validator.validate(batch, vectors, {}).duration_s for _ in range(args.rounds)]
    print(f"validate 200 chunks: median {statistics.median(times):.3f} s, best {min(times):.3f} s")


if __name__ == "__main__":
    main()
