"""The data-quality gate: Great Expectations checks on every batch of chunks before writing.

One expectation suite (built once per :class:`ChunkValidator`, in an ephemeral GX context)
runs on a pandas frame with one row per chunk. Failing rows are mapped back to their
documents, so one bad chunk quarantines only its own document. Great Expectations is
imported lazily (it costs seconds), on the first non-empty batch or on :meth:`prepare`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from netdocs.errors import ValidationFailed
from netdocs.types import Chunk

if TYPE_CHECKING:
    from netdocs.validation_suite import GxSuite, Outcome

MAX_SAMPLES = 3
SAMPLE_CHARS = 80
MARKDOWN_ROWS = 50


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation for one document."""

    expectation: str  # GX expectation type plus a short human name
    column: str
    message: str  # human readable, names the problem
    sample_values: list[str]  # up to 3 offending values, truncated


@dataclass(frozen=True)
class BatchReport:
    """The result of validating one batch."""

    failures: dict[str, list[ExpectationFailure]]  # doc_id -> failures (failing docs only)
    checked_docs: int
    checked_chunks: int
    expectations_evaluated: int
    duration_s: float

    @property
    def ok(self) -> bool:
        """True when every document passed."""
        return not self.failures

    def errors(self) -> list[ValidationFailed]:
        """One :class:`ValidationFailed` per failing document, naming its problems."""
        out = []
        for doc_id, fails in sorted(self.failures.items()):
            parts = [f"{f.message} (e.g. {', '.join(f.sample_values)})" for f in fails]
            out.append(ValidationFailed(doc_id, "data-quality gate: " + "; ".join(parts)))
        return out

    def to_markdown(self) -> str:
        """A short summary (counts plus a table of failures) for a Prefect run artifact."""
        head = (
            f"**Data-quality gate**: {len(self.failures)} of {self.checked_docs} documents "
            f"failed; {self.checked_chunks} chunks checked against "
            f"{self.expectations_evaluated} expectations in {self.duration_s:.3f} s."
        )
        if not self.failures:
            return head + "\n"
        lines = [head, "", "| Document | Expectation | Problem | Samples |", "|---|---|---|---|"]
        rows = [(d, f) for d, fs in sorted(self.failures.items()) for f in fs]
        for doc_id, f in rows[:MARKDOWN_ROWS]:
            samples = ", ".join(_md(s) for s in f.sample_values)
            lines.append(f"| {_md(doc_id)} | {_md(f.expectation)} | {_md(f.message)} | {samples} |")
        if len(rows) > MARKDOWN_ROWS:
            lines.append(f"\n… and {len(rows) - MARKDOWN_ROWS} more failures.")
        return "\n".join(lines) + "\n"


class ChunkValidator:
    """Validates batches of chunks and their embeddings with one GX expectation suite."""

    def __init__(
        self, *, dim: int, max_tokens: int, normalized: bool, tag_vocabulary: set[str] | None
    ) -> None:
        if dim < 1 or max_tokens < 1:
            raise ValueError(f"dim and max_tokens must be positive (got {dim}, {max_tokens})")
        self.dim = dim
        self.max_tokens = max_tokens
        self.normalized = normalized
        self.tag_vocabulary = frozenset(tag_vocabulary) if tag_vocabulary is not None else None
        self._suite: GxSuite | None = None
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Import GX and build the context and suite now (otherwise done on first use)."""
        with self._lock:
            self._ensure_suite()

    def _ensure_suite(self) -> GxSuite:
        if self._suite is None:
            from netdocs.validation_suite import GxSuite

            self._suite = GxSuite(
                dim=self.dim,
                max_tokens=self.max_tokens,
                normalized=self.normalized,
                tags=self.tag_vocabulary is not None,
            )
        return self._suite

    def validate(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        tags_by_doc: Mapping[str, Sequence[str]],
    ) -> BatchReport:
        """Check ``chunks`` (``vectors[i]`` embeds ``chunks[i]``); report failing documents."""
        start = time.perf_counter()
        if len(chunks) == 0:
            return BatchReport({}, 0, 0, 0, time.perf_counter() - start)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(chunks):
            raise ValueError(
                f"vectors must have shape ({len(chunks)}, d), got {tuple(vectors.shape)}"
            )
        from netdocs.validation_suite import build_frame

        vocabulary = set(self.tag_vocabulary) if self.tag_vocabulary is not None else None
        frame = build_frame(chunks, vectors, tags_by_doc, vocabulary)
        with self._lock:
            suite = self._ensure_suite()
            outcomes = suite.run(frame)
        failures = _failures_by_doc(chunks, outcomes)
        return BatchReport(
            failures=failures,
            checked_docs=len({c.doc_id for c in chunks}),
            checked_chunks=len(chunks),
            expectations_evaluated=len(outcomes),
            duration_s=time.perf_counter() - start,
        )


def _failures_by_doc(
    chunks: Sequence[Chunk], outcomes: Sequence[Outcome]
) -> dict[str, list[ExpectationFailure]]:
    """Map each failing row back to its document; one entry per (document, expectation)."""
    per_doc: dict[str, int] = {}
    for c in chunks:
        per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
    failures: dict[str, list[ExpectationFailure]] = {}
    for outcome in outcomes:
        hits: dict[str, list[object]] = {}
        for row, value in zip(outcome.rows, outcome.values, strict=True):
            hits.setdefault(chunks[row].doc_id, []).append(value)
        check = outcome.check
        for doc_id, values in hits.items():
            samples: list[str] = []
            for value in values:
                sample = _sample(value, check.focus)
                if sample not in samples:
                    samples.append(sample)
            failures.setdefault(doc_id, []).append(
                ExpectationFailure(
                    expectation=f"{outcome.expectation_type} ({check.name})",
                    column=check.column,
                    message=f"{check.problem}: {len(values)} of {per_doc[doc_id]} chunk(s)",
                    sample_values=samples[:MAX_SAMPLES],
                )
            )
    return failures


def _sample(value: object, focus: str | None) -> str:
    """A short printable rendering of an offending value (control characters escaped)."""
    if isinstance(value, str):
        match = re.search(focus, value) if focus else None
        if match is not None and len(value) > SAMPLE_CHARS // 2:
            start = max(0, match.start() - SAMPLE_CHARS // 4)
            value = ("…" if start else "") + value[start:]
        text = repr(value)
    elif isinstance(value, float | np.floating):
        text = f"{float(value):.6g}"
    else:
        text = str(value)
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"


def _md(text: str) -> str:
    """Escape a value for a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "\\`")
