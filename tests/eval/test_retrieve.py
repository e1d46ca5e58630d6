"""Eval retrieves through the optional-stage entry point a build has, else plain search."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from netdocs.evaluation.retrieve import retrieve


class FakeService:
    settings = object()

    def search(self, text: str, k: int, mode: str, *, vector: Any = None) -> list[str]:
        return [f"plain:{text}:{k}"]


def test_plain_search_when_no_stage_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "netdocs.query.rerank.pipeline", None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "netdocs.query.ranked", None)  # type: ignore[arg-type]
    assert retrieve(FakeService(), "q", 10, "fused", None) == ["plain:q:10"]  # type: ignore[arg-type]


def test_diversity_entry_point_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    ranked = types.ModuleType("netdocs.query.ranked")
    ranked.ranked_hits = lambda svc, text, k, mode, vector=None: [f"ranked:{text}:{k}"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "netdocs.query.rerank.pipeline", None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "netdocs.query.ranked", ranked)
    assert retrieve(FakeService(), "q", 10, "fused", None) == ["ranked:q:10"]  # type: ignore[arg-type]
