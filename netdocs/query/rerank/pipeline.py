"""Rewrite and rerank around the offline search, with a fallback to the offline order.

``RetrievalPlan.build(settings)`` reads NETDOCS_RERANK / NETDOCS_QUERY_REWRITE once per
query; :meth:`RetrievalPlan.key` is its part of the query-cache key, :meth:`search` runs
it. Every stage only sees hits the caller's role may see (it reorders the already
filtered list), and any failure (provider error, timeout, open breaker, unreadable reply,
missing model files) keeps the offline order and adds a ``"<stage>: fallback (reason)"``
note; the query itself never fails here.

Code that calls ``SearchService.search`` directly (eval) gets the same stages, without the
cache and audit of ``netdocs.query.api``, from
``RetrievalPlan.build(settings).search(service, text, k, mode, vector=...)``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netdocs.config import Settings
from netdocs.errors import NetdocsError
from netdocs.query.deadline import ask_deadline
from netdocs.query.fusion import rrf
from netdocs.query.llm import ChatModel, Completion
from netdocs.query.pending import VectorLike
from netdocs.query.prompt import EXCERPT_FORMAT
from netdocs.query.rerank.base import Reranker, order_by_scores
from netdocs.query.rerank.clients import stage_chat
from netdocs.query.rerank.llm import RERANK_SYSTEM, LLMReranker
from netdocs.query.rerank.rewrite import REWRITE_SYSTEM, LLMRewriter
from netdocs.query.results import Hit
from netdocs.query.search import Mode
from netdocs.query.timing import timed
from netdocs.resilience import short_error

if TYPE_CHECKING:
    from netdocs.query.service import SearchService

log = logging.getLogger(__name__)

#: Weight of each rewritten query's list against the original question's (1.0) in the
#: fusion of the widened candidates: the user's own words stay first among equals.
REWRITE_WEIGHT = 0.5


@dataclass
class Retrieval:
    """Hits in final order; notes on what the optional stages did; their model calls."""

    hits: list[Hit]
    notes: list[str] = field(default_factory=list)
    calls: list[Completion] = field(default_factory=list)
    degraded: bool = False  # a stage fell back after a failure: do not cache the result


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason for a fallback note."""
    return str(exc)[:300] if isinstance(exc, NetdocsError) else short_error(exc)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@lru_cache(maxsize=4)
def _cross_encoder(model_dir: str, version: str) -> Reranker:
    from netdocs.query.rerank.onnx import OnnxCrossEncoder

    return OnnxCrossEncoder(Path(model_dir))


@dataclass
class RetrievalPlan:
    """The optional stages one query runs (both None: the plain offline search)."""

    settings: Settings
    rerank: str = "off"
    rewrite: str = "off"
    chat: ChatModel | None = None
    chat_problem: str | None = None  # why the LLM stages cannot run (no key)
    onnx_problem: str | None = None  # why the cross-encoder cannot run (no model files)
    onnx_version: str | None = None

    @classmethod
    def build(cls, settings: Settings) -> RetrievalPlan:
        """The plan of ``settings``; building never fails (problems become notes)."""
        plan = cls(settings, settings.rerank, settings.query_rewrite)
        if "llm" in (plan.rerank, plan.rewrite):
            try:
                plan.chat = stage_chat(settings)
            except Exception as e:  # e.g. a provider named without its key
                plan.chat_problem = _reason(e)
            if plan.chat is None and plan.chat_problem is None:
                plan.chat_problem = "no language model configured"
        if plan.rerank == "onnx":
            from netdocs.query.rerank.onnx import model_version

            try:
                plan.onnx_version = model_version(settings.rerank_model_dir)
            except Exception as e:
                plan.onnx_problem = _reason(e)
        return plan

    @property
    def active(self) -> bool:
        """Whether any optional stage is configured."""
        return self.rerank != "off" or self.rewrite != "off"

    def key(self) -> dict[str, Any]:
        """This plan's part of the query-cache key (empty when no stage is on)."""
        if not self.active:
            return {}
        s, chat = self.settings, self.chat
        llm = None
        if chat is not None:  # the endpoint too: another server may serve another model
            llm = f"{chat.provider}/{chat.router_model}{getattr(chat, 'endpoint', '')}"
        out: dict[str, Any] = {"rerank": self.rerank, "rewrite": self.rewrite, "llm": llm}
        if self.rerank != "off":
            out["candidates"] = s.rerank_candidates
            out["passage_chars"] = s.rerank_passage_chars
            out["rerank_prompt"] = _digest(RERANK_SYSTEM + EXCERPT_FORMAT)
        if self.rerank == "onnx":
            out["onnx"] = self.onnx_version
        if self.rewrite != "off":
            out["rewrite_prompt"] = _digest(REWRITE_SYSTEM)
        return {"retrieval": out}

    def search(
        self,
        service: SearchService,
        text: str,
        k: int,
        mode: Mode,
        *,
        vector: VectorLike | None = None,
        timings: dict[str, float] | None = None,
        pool: int = 0,
    ) -> Retrieval:
        """The top ``k`` for ``text`` as ``service``'s role, through the configured stages;
        up to ``pool`` hits when ``pool`` > k (candidates for per-document diversity)."""
        top = max(k, pool)
        if not self.active or k <= 0:
            return Retrieval(
                service.search(text, k, mode, vector=vector, timings=timings, pool=pool)
            )
        size = max(top, self.settings.rerank_candidates) if self.rerank != "off" else top
        out = Retrieval(service.search(text, size, mode, vector=vector, timings=timings))
        widened = reranked = False
        with ask_deadline(self.settings.ask_deadline_s):  # a search's model calls, too
            if self.rewrite == "llm":
                with timed(timings, "rewrite_ms"):
                    widened = self._rewrite(service, text, size, mode, out)
            if self.rerank != "off" and out.hits:
                with timed(timings, "rerank_ms"):
                    reranked = self._rerank(text, out)
        fell_back = self.rerank != "off" and out.hits and not reranked and not widened
        if fell_back and size != top:
            # the offline top k exactly (a deeper fusion may order its head otherwise)
            out.hits = service.search(text, k, mode, vector=vector, pool=pool)
        out.hits = out.hits[:top]
        return out

    def _fallback(self, out: Retrieval, stage: str, reason: str, degraded: bool) -> None:
        log.warning("%s: falling back to the offline order: %s", stage, reason)
        out.notes.append(f"{stage}: fallback ({reason})")
        out.degraded = out.degraded or degraded

    def _rewrite(
        self, service: SearchService, text: str, pool: int, mode: Mode, out: Retrieval
    ) -> bool:
        if self.chat is None:
            self._fallback(out, "rewrite", self.chat_problem or "no language model", False)
            return False
        rewriter = LLMRewriter(self.chat)
        try:
            queries = rewriter.rewrite(text)
        except Exception as e:
            self._fallback(out, "rewrite", _reason(e), True)
            return False
        finally:
            out.calls.extend(rewriter.calls)
        lists = [out.hits] + [service.search(q, pool, mode) for q in queries]
        by_id: dict[str, Hit] = {h.chunk_id: h for h in out.hits}
        for hits in lists[1:]:  # a rewritten query's match says nothing of the question's:
            for h in hits:  # its confidence signals are dropped (see fallback.low_confidence)
                by_id.setdefault(h.chunk_id, replace(h, cosine=None, all_terms=False))
        weights = [1.0] + [REWRITE_WEIGHT] * len(queries)
        fused = rrf([[h.chunk_id for h in hits] for hits in lists], weights=weights)
        out.hits = [replace(by_id[cid], score=score) for cid, score in fused[:pool]]
        out.notes.append(f"rewrite: {rewriter.name} (+{len(queries)} queries)")
        return True

    def _reranker(self) -> Reranker | None:
        if self.rerank == "onnx" and self.onnx_version:
            s = self.settings
            return _cross_encoder(str(s.rerank_model_dir), self.onnx_version)
        if self.rerank == "llm" and self.chat is not None:
            return LLMReranker(self.chat, passage_chars=self.settings.rerank_passage_chars)
        return None

    def _rerank(self, text: str, out: Retrieval) -> bool:
        reranker = self._reranker()
        if reranker is None:
            problem = self.chat_problem if self.rerank == "llm" else self.onnx_problem
            self._fallback(out, "rerank", problem or "no reranker", False)
            return False
        top = out.hits[: self.settings.rerank_candidates]
        try:
            scores = reranker.rerank(text, top)
        except Exception as e:
            self._fallback(out, "rerank", _reason(e), True)
            return False
        finally:
            out.calls.extend(getattr(reranker, "calls", []))
        out.hits = order_by_scores(top, scores) + out.hits[len(top) :]
        out.notes.append(f"rerank: {reranker.name} ({len(scores)}/{len(top)} scored)")
        return True


def usage_fields(
    calls: list[Completion], base: tuple[int, int, float | None] = (0, 0, 0.0)
) -> dict[str, Any]:
    """Token and cost fields of a query record: ``base`` plus the retrieval stages' calls."""
    costs = [base[2], *(c.cost_usd for c in calls)]
    return {
        "input_tokens": base[0] + sum(c.input_tokens for c in calls),
        "output_tokens": base[1] + sum(c.output_tokens for c in calls),
        "cost_usd": None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
    }
