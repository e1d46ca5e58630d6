"""The ingest run summary: counters, the JSON shape, the Markdown artifact."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from netdocs.safetext import json_safe, safe_name
from netdocs.types import DocFailure

if TYPE_CHECKING:
    from netdocs.ingest.plan import Plan

JSON_ORDER = (
    "run_id",
    "scanned",
    "new",
    "changed",
    "unchanged",
    "metadata_only",
    "deleted",
    "failed",
    "chunks_embedded",
    "chunks_reused",
    "chunks_deleted",
    "embedding_cache_hits",
    "duration_s",
)


#: The name of the Completed state of an ingest run with failed or pending documents.
PARTIAL = "Partial"


@dataclass
class BatchStats:
    """Counters of one processed batch of documents (summed into the run's)."""

    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_deleted: int = 0
    embedding_cache_hits: int = 0
    committed: int = 0
    quarantined: int = 0
    failed: list[DocFailure] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)
    embed_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per stage, summed
    embedding_tokens: int = 0  # tokens sent to the embedding model
    cache_saved_tokens: int = 0  # tokens the embedding cache answered instead
    reused_tokens: int = 0  # tokens of chunks already stored (not embedded again)

    def time(self, phase: str, seconds: float) -> None:
        """Add ``seconds`` to ``phase``'s total."""
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds


@dataclass
class RunStats(BatchStats):
    """Counters of one ingest run (the ``netdocs ingest --json`` object)."""

    run_id: str = ""
    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    metadata_only: int = 0
    deleted: int = 0
    duration_s: float = 0.0
    messages: list[str] = field(default_factory=list)
    embedding_model: str | None = None
    embedding_cost_usd: float | None = None  # None: a local (unpaid) or unpriced model
    saved_tokens: int = 0  # cache_saved_tokens + reused_tokens
    saved_cost_usd: float | None = None
    #: Documents served from an older version: {path, reason, since, withdrawn}.
    stale: list[dict[str, Any]] = field(default_factory=list)
    # branch model: an embedding-model rebuild's progress ({from, to, status, ...}), if any
    rebuild: dict[str, Any] = field(default_factory=dict)
    # scope branch: the path scope of a backfill (globs under the root); [] = everything
    scope: list[str] = field(default_factory=list)

    def count_plan(self, plan: Plan) -> None:
        """Take the scan's and the diff's counts; the scan's failures start the failed list."""
        ch = plan.changes
        self.scanned = len(plan.scan.docs) + len(plan.scan.failures)
        self.new, self.changed, self.unchanged = len(ch.new), len(ch.changed), len(ch.unchanged)
        self.metadata_only = len(ch.metadata_only)
        self.failed = list(plan.scan.failures)

    def add_batch(self, other: BatchStats) -> None:
        """Fold one batch's counters in."""
        self.chunks_embedded += other.chunks_embedded
        self.chunks_reused += other.chunks_reused
        self.chunks_deleted += other.chunks_deleted
        self.embedding_cache_hits += other.embedding_cache_hits
        self.committed += other.committed
        self.quarantined += other.quarantined
        self.embed_s += other.embed_s
        self.embedding_tokens += other.embedding_tokens
        self.cache_saved_tokens += other.cache_saved_tokens
        self.reused_tokens += other.reused_tokens
        self.saved_tokens = self.cache_saved_tokens + self.reused_tokens
        self.failed.extend(other.failed)
        for phase, seconds in other.phases.items():
            self.time(phase, seconds)
        for key, value in other.validation.items():
            self.validation[key] = self.validation.get(key, 0) + value

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object (failures as ``{path, error}``; strings made safe)."""
        data = asdict(self)
        data["failed"] = [{"path": f.doc_id, "error": f.error} for f in self.failed]
        data["duration_s"] = round(self.duration_s, 3)
        data["embed_s"] = round(self.embed_s, 3)
        data["phases"] = {k: round(v, 3) for k, v in self.phases.items()}
        if not data.get("rebuild"):
            data.pop("rebuild", None)  # only during an embedding-model change
        first = [k for k in JSON_ORDER if k in data]
        ordered = {k: data[k] for k in first + [k for k in data if k not in JSON_ORDER]}
        return dict(json_safe(ordered))  # storable and printable whatever the file names

    def to_markdown(self) -> str:
        """A run summary for the Prefect UI."""
        rows = [
            ("scanned", self.scanned),
            ("new", self.new),
            ("changed", self.changed),
            ("unchanged", self.unchanged),
            ("metadata only", self.metadata_only),
            ("deleted", self.deleted),
            ("failed", len(self.failed)),
            ("chunks embedded", self.chunks_embedded),
            ("chunks reused", self.chunks_reused),
            ("chunks deleted", self.chunks_deleted),
            ("embedding cache hits", self.embedding_cache_hits),
            ("quarantined", self.quarantined),
            ("duration (s)", f"{self.duration_s:.1f}"),
        ]
        lines = [f"# Ingest run `{self.run_id}`", ""]
        if self.scope:
            lines += ["Scope: " + ", ".join(_cell(p) for p in self.scope), ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        if self.validation:
            lines += ["", "## Validation", ""]
            lines += [f"- {k}: {v}" for k, v in sorted(self.validation.items())]
        lines += ["", "## Embedding", "", *self._embedding_lines()]
        if self.phases:
            lines += ["", "## Time by stage (s, summed over batches)", ""]
            lines += [f"- {k}: {v:.1f}" for k, v in self.phases.items()]
        if self.failed:
            lines += ["", "## Failed documents", "", "| path | error |", "|---|---|"]
            lines += [f"| {_cell(f.doc_id)} | {_cell(f.error)} |" for f in self.failed[:200]]
        if self.stale:
            lines += ["", "## Served from an older version", ""]
            lines += ["| path | why | since | withdrawn |", "|---|---|---|---|"]
            lines += [
                f"| {_cell(str(s['path']))} | {_cell(str(s['reason']))} | {s['since']} "
                f"| {'yes' if s['withdrawn'] else 'no'} |"
                for s in self.stale[:200]
            ]
        if self.messages:
            lines += ["", "## Notes", ""] + [f"- {_cell(m)}" for m in self.messages]
        return safe_name("\n".join(lines))

    def _embedding_lines(self) -> list[str]:
        def usd(value: float | None) -> str:
            return "n/a (unpaid model)" if value is None else f"${value:.6f}"

        return [
            "| figure | value |",
            "|---|---|",
            f"| model | {self.embedding_model or 'n/a'} |",
            f"| tokens embedded | {self.embedding_tokens} |",
            f"| embedding cost | {usd(self.embedding_cost_usd)} |",
            f"| tokens saved by the embedding cache | {self.cache_saved_tokens} |",
            f"| tokens saved by reusing stored chunks | {self.reused_tokens} |",
            f"| cost saved | {usd(self.saved_cost_usd)} |",
        ]


_MARKUP = re.compile(r"([\\`*_\[\]<>!|#~])")


def _cell(text: str) -> str:
    """``text`` inert in the Markdown summary: one line, every markup character escaped (a
    file name or a front-matter tag could otherwise add headings, links or remote images)."""
    return _MARKUP.sub(r"\\\1", " ".join(text.splitlines()))
