"""Eval retrieves through the product's uncached path: the optional stages, then diversity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netdocs.config import Settings
from netdocs.evaluation.retrieve import retrieve
from netdocs.query.results import Hit


def _hit(path: str, n: int, score: float) -> Hit:
    return Hit(chunk_id=f"{path}#{n}", path=path, heading="h", text=f"t {path} {n}", score=score)


@dataclass
class FakeService:
    """Candidates in fused order: one document holds the three best chunks."""

    settings: Settings
    calls: list[tuple[int, int]] = field(default_factory=list)

    def search(self, text: str, k: int, mode: str, *, vector: Any = None, **kw: Any) -> list[Hit]:
        pool = kw.get("pool", 0)
        self.calls.append((k, pool))
        hits = [_hit("a.md", 1, 0.9), _hit("a.md", 2, 0.8), _hit("a.md", 3, 0.7)]
        hits += [_hit(f"d{i}.md", 1, 0.5 - i / 100) for i in range(10)]
        return hits[: max(k, pool)]


def test_diversity_applies_as_users_get_it() -> None:
    svc = FakeService(Settings(diversity_per_doc=2))
    paths = [h.path for h in retrieve(svc, "q", 5, "fused", None)]  # type: ignore[arg-type]
    assert paths.count("a.md") == 2 and len(paths) == 5
    assert svc.calls[0][1] > 5  # a candidate pool deeper than k


def test_diversity_off_is_the_plain_top_k() -> None:
    svc = FakeService(Settings(diversity_per_doc=0))
    paths = [h.path for h in retrieve(svc, "q", 5, "fused", None)]  # type: ignore[arg-type]
    assert paths[:3] == ["a.md", "a.md", "a.md"]
