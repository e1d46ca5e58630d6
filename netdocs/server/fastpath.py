"""Cached answers served on the event loop, without a worker thread.

Most questions a team asks have been asked before: their answer is a query-cache entry.
Here the three short statements of serving one (index snapshot, lookup with its visibility
re-check, audit and metric rows) run in the request's own coroutine on an asyncio pool, not
a worker thread handing the GIL back and forth; an entry served once is remembered, and the
next time its key comes in ONE statement (``netdocs.cache.replay``) re-checks all that and
writes the rows only if it all still holds.

The statements, the cache key, the served result and the rows are the same pure functions
the threaded path uses (``netdocs.query.api`` / ``lifecycle``, ``netdocs.cache.store``,
``netdocs.store.snapshot``). Whatever this path cannot decide alone -- a token not in the
token cache, a policy not parsed yet, no cache entry, a database error -- makes it return
None before anything is written, and the request takes the threaded path from the start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool

from netdocs.cache.replay import replay_params, replay_sql
from netdocs.cache.store import CachedResult, entry_of_row, lookup_statement
from netdocs.query import api
from netdocs.query.hooks import QueryRecord, any_hooks, run_hooks
from netdocs.query.lifecycle import (
    TOGETHER_SQL,
    QueryInfo,
    query_key,
    record_parts,
    together_params,
    write_apart,
)
from netdocs.query.rerank.pipeline import usage_fields
from netdocs.query.results import Hit
from netdocs.query.search import Mode
from netdocs.safetext import visible_text
from netdocs.server.auth import Principal, check_role, known_principal
from netdocs.server.keyparts import KeyParts
from netdocs.server.runtime import APP_NAME, Busy, Runtime
from netdocs.store.snapshot import SNAPSHOT_SQL, IndexSnapshot, snapshot_of_row

log = logging.getLogger(__name__)

#: Entries remembered for one-statement replays (the oldest is forgotten first).
MEMORY_ENTRIES = 4096
#: What a served entry becomes: hits, latency (ms), the rows' extras, the JSON reply.
Shaped = tuple[list[Hit], float, dict[str, Any], dict[str, Any]]
Shape = Callable[[CachedResult], Shaped]


class CachedAnswers:
    """The event-loop path for cached searches and answers (opened by the app's lifespan)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.pool: AsyncConnectionPool | None = None
        self._snapshot: IndexSnapshot | None = None  # as last read; None: read it again
        self._memory: dict[str, CachedResult] = {}  # entries served, by cache key
        self.enabled = rt.settings.serve_async_hits and rt.settings.query_cache_ttl > 0
        self._wait_s = max(rt.settings.serve_queue_timeout_s, 0.001)
        self.served = self.replayed = 0  # answers given here; of those, in one statement
        self._keys = KeyParts(rt.settings)

    async def open(self) -> None:
        """Start the pool (it connects in the background; until then, the threaded path)."""
        if not self.enabled:
            return
        self.pool = AsyncConnectionPool(
            self.rt.url,
            min_size=1,
            max_size=self.rt.limit,  # one connection per request in flight: the slots here
            kwargs={"autocommit": True, "connect_timeout": 10, "application_name": APP_NAME},
            configure=self._configure,
            open=False,
            name="netdocs-serve-hits",
        )
        await self.pool.open(wait=False)

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Wait for a lock no longer than for a slot: behind a table lock (a migration) the
        loop declines (``LockNotAvailable``) and the threaded path answers or says 503."""
        ms = max(1, round(self._wait_s * 1000))
        await conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{ms}ms")))

    def stats(self) -> dict[str, Any]:
        """For /healthz: on or off, answers served (replayed), remembered, connections."""
        out: dict[str, Any] = {"enabled": self.pool is not None, "served": self.served}
        out.update(replayed=self.replayed, remembered=len(self._memory))
        if self.pool is not None:
            pool = self.pool.get_stats()
            out["connections"] = {k: pool.get(k, 0) for k in ("pool_size", "pool_available")}
        return out

    async def close(self) -> None:
        """Close the pool."""
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def search(
        self,
        headers: Mapping[str, str],
        host: str | None,
        question: str,
        k: int,
        mode: Mode,
        role: str | None,
        by: api.By,
    ) -> dict[str, Any] | None:
        """``POST /v1/search`` from the cache, or None (take the threaded path)."""
        who = self._who(headers, host, role)
        if who is None:
            return None
        k = max(k, 0)
        run = QueryInfo("search", visible_text(question), k, mode, who.user)
        s = self.rt.settings
        settings = api.search_key_settings(k, mode, by, s.diversity_per_doc, self._keys.plan())

        def shape(entry: CachedResult) -> Shaped:
            hits, notes, docs = api.search_of_entry(entry, by)
            latency = run.elapsed_ms()
            extra = {"retrieval_notes": tuple(notes), **usage_fields([])}
            out = api.SearchResult(run.query_id, hits, True, latency, notes, docs).to_json()
            return hits, latency, extra, out

        return await self._serve(run, who, settings, shape)

    async def ask(
        self,
        headers: Mapping[str, str],
        host: str | None,
        question: str,
        k: int | None,
        role: str | None,
        passages: bool,
    ) -> dict[str, Any] | None:
        """``POST /v1/ask`` from the cache, or None (take the threaded path)."""
        who = self._who(headers, host, role)
        if who is None:
            return None
        s = self.rt.settings
        k = max(s.answer_top_k if k is None else k, 0)
        run = QueryInfo("ask", visible_text(question), k, "fused", who.user)
        keys = self._keys
        settings = api.ask_key_of(k, "fused", s.diversity_per_doc, keys.answer(), keys.plan())

        def shape(entry: CachedResult) -> Shaped:
            result, saved = api.ask_of_entry(entry, run.query_id, run.question, run.elapsed_ms())
            a = result.answer
            out = result.to_json()
            if passages:
                out["passages"] = [h.to_json() for h in a.hits]
            return a.hits, a.latency_ms, api.ask_extra(result, [], saved), out

        return await self._serve(run, who, settings, shape)

    def _who(
        self, headers: Mapping[str, str], host: str | None, role: str | None
    ) -> Principal | None:
        if self.pool is None:
            return None
        who = known_principal(headers, host, self.rt.settings, self.rt.tokens)
        if who is not None:
            check_role(who, role)  # a body naming another role: 403, as on the threaded path
        return who

    async def _serve(
        self, run: QueryInfo, who: Principal, settings: dict[str, Any], shape: Shape
    ) -> dict[str, Any] | None:
        """A remembered entry replayed in one statement, else the index snapshot and the
        entry read, and the rows written; None when there is no servable entry."""
        assert self.pool is not None
        try:  # waits as long as for a query slot, then 503 + Retry-After (never a hang)
            conn = await self.pool.getconn(timeout=self._wait_s)
        except PoolTimeout:
            raise Busy("too many requests in flight") from None
        apart: tuple[dict[str, Any], dict[str, Any], QueryRecord] | None = None
        try:
            out = await self._replay(conn, run, who, settings, shape)
            if out is not None:
                return out
            found = await self._lookup(conn, run, who, settings)
            if found is None:
                return None
            entry, allowed = found
            hits, latency, extra, out = shape(entry)
            row, details, record = record_parts(
                run, allowed, who.role, self.rt.settings, hits, True, latency, extra
            )
            params = together_params(row, details, record)
            apart = (row, details, record)
            if params is not None:
                try:
                    await conn.execute(TOGETHER_SQL, params)
                    apart = None
                except psycopg.Error as e:
                    log.debug("audit and metric rows not written together: %s", type(e).__name__)
        finally:
            await self.pool.putconn(conn)
        if apart is not None:  # fail closed: the audit row alone, or no answer
            await run_in_threadpool(self._write_apart, *apart)
        self._remember(entry)
        await self._served(entry.cache_key, record)
        return out

    async def _replay(
        self,
        conn: psycopg.AsyncConnection[Any],
        run: QueryInfo,
        who: Principal,
        settings: dict[str, Any],
        shape: Shape,
    ) -> dict[str, Any] | None:
        """The remembered entry for this key, served with its audit and metric rows in one
        statement that re-checks it; None when there is none or it no longer holds."""
        snap = self._snapshot
        keyed = None if snap is None else self._key(snap, run, who, settings)
        if snap is None or keyed is None or (entry := self._memory.get(keyed[1])) is None:
            return None
        allowed, key = keyed
        s = self.rt.settings
        hits, latency, extra, out = shape(entry)
        row, details, record = record_parts(run, allowed, who.role, s, hits, True, latency, extra)
        values = together_params(row, details, record)
        ok = False
        if values is not None:
            params = replay_params(snap, entry, s.query_cache_ttl, allowed, s.stale_max_age, values)
            try:
                cur = await conn.execute(replay_sql(restricted=allowed is not None), params)
                ok = bool((await cur.fetchone() or (False,))[0])
            except (psycopg.Error, TypeError, ValueError) as e:  # nothing was written
                log.debug("remembered entry not replayed: %s", type(e).__name__)
        if not ok:  # changed, expired or withdrawn: forget it and read the index again
            self._memory.pop(key, None)
            self._snapshot = None
            return None
        self.replayed += 1
        await self._served(key, record)
        return out

    async def _lookup(
        self,
        conn: psycopg.AsyncConnection[Any],
        run: QueryInfo,
        who: Principal,
        settings: dict[str, Any],
    ) -> tuple[CachedResult, frozenset[str] | None] | None:
        s = self.rt.settings
        try:
            snap = snapshot_of_row(await (await conn.execute(SNAPSHOT_SQL)).fetchone())
            self._snapshot = snap
            keyed = self._key(snap, run, who, settings)
            if keyed is None:
                return None
            allowed, key = keyed
            stmt, params = lookup_statement(key, s.query_cache_ttl, allowed, s.stale_max_age)
            entry = entry_of_row(await (await conn.execute(stmt, params)).fetchone())
        except psycopg.Error as e:  # the threaded path reports the database's state
            log.debug("cached answer not served on the event loop: %s", type(e).__name__)
            return None
        return None if entry is None else (entry, allowed)

    def _key(
        self, snap: IndexSnapshot, run: QueryInfo, who: Principal, settings: dict[str, Any]
    ) -> tuple[frozenset[str] | None, str] | None:
        """The caller's tag set and the cache key under ``snap``; None when the policy is
        not parsed yet or the index is empty. AccessDenied (403) as on the threaded path."""
        policy = self.rt.cached_policy(snap.policy_sha256)
        if policy is None or snap.model is None:
            return None
        allowed = policy.allowed_tags(who.role)
        model = snap.model[0]
        return allowed, query_key(
            run.action, run.question, allowed, snap.generation, settings, model
        )[1]

    def _remember(self, entry: CachedResult) -> None:
        if len(self._memory) >= MEMORY_ENTRIES:
            self._memory.pop(next(iter(self._memory)))  # the oldest
        self._memory[entry.cache_key] = entry

    async def _served(self, key: str, record: QueryRecord) -> None:
        self.served += 1
        self.rt.counters.entry_hit(key)
        if any_hooks():
            await run_in_threadpool(run_hooks, record)

    def _write_apart(
        self, row: dict[str, Any], details: dict[str, Any], record: QueryRecord
    ) -> None:
        with self.rt.connection() as conn:
            write_apart(conn, row, details, record)
