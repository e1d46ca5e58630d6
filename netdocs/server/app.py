"""The FastAPI application: thin routes (parse, run the handler off the event loop, serialise).

Every ``/v1`` route not answered from the cache on the event loop passes the gate (a caller
who cannot be authenticated gets 401 before holding a slot, ``netdocs.server.gate``), then
takes a query slot, waiting at most NETDOCS_SERVE_QUEUE_TIMEOUT_S: then the answer is 503
with ``Retry-After``, never a queue that hangs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from netdocs.errors import AccessDenied, ConfigError, DatabaseError
from netdocs.safetext import storable
from netdocs.server import handlers
from netdocs.server.auth import AuthError
from netdocs.server.bodies import AskIn, FeedbackIn, SearchIn
from netdocs.server.fastpath import CachedAnswers
from netdocs.server.gate import Gate
from netdocs.server.headers import ReplyHeaders
from netdocs.server.limits import BodyLimit, MetricsText, metrics_window
from netdocs.server.page import ask_page, page_headers
from netdocs.server.runtime import Busy, Runtime

T = TypeVar("T")
log = logging.getLogger(__name__)
#: What a client is told when its role is refused, or the policy / configuration is unusable.
ROLE_REFUSED = "role not permitted"
CONFIG_INVALID = "policy invalid or server misconfigured (details in the server log)"
#: Allocations between two passes over the youngest objects (CPython's default: 700).
GC_YOUNG_THRESHOLD = 10_000
#: FastAPI's built-in OpenTelemetry hooks (newer releases) cost a check per request even with
#: no OpenTelemetry provider configured; netdocs exposes its own /metrics instead.
_NO_OTEL: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


class FastJSON(JSONResponse):
    """A JSON reply encoded by orjson (several times faster than the json module), or by
    the json module for what orjson refuses (a lone surrogate)."""

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:
            return super().render(content)


def settle_garbage_collector() -> None:
    """Move everything loaded so far (frameworks, the model, the policy) out of the cyclic
    collector's reach (``gc.freeze``) and let young objects pile up longer before a pass:
    the full passes over a few million long-lived objects were stalls of the event loop
    that every request in flight waited out (the p95 under load)."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, second, third)


def create_app(rt: Runtime, *, owns_runtime: bool = False) -> FastAPI:
    """The application around ``rt``; the caller closes ``rt`` unless ``owns_runtime``
    (then the application's shutdown does)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await cached.open()
        settle_garbage_collector()
        try:
            yield
        finally:
            await cached.close()
            workers.shutdown(wait=False)
            gate.close()
            if owns_runtime:
                await run_in_threadpool(rt.close)

    app = FastAPI(
        title="netdocs",
        summary="Search and ask the network team's documentation",
        version="1",
        lifespan=lifespan,
        # FastAPI's /docs and /redoc pages load scripts from a CDN onto the ask page's origin
        # (where the tab keeps its token); the schema itself is served: /openapi.json
        docs_url=None,
        redoc_url=None,
        **_NO_OTEL,
    )
    app.add_middleware(BodyLimit, max_bytes=rt.settings.serve_max_body_bytes)
    app.add_middleware(ReplyHeaders)  # nosniff everywhere; no-store on the API's replies
    retry_after = str(rt.settings.serve_retry_after_s)
    slots = asyncio.Semaphore(rt.limit)
    queue_timeout = max(rt.settings.serve_queue_timeout_s, 0.0)

    # One worker thread per slot: a request holding a slot never waits for a thread (and
    # this skips anyio's limiter, ~0.1 ms of event-loop CPU per request here).
    workers = ThreadPoolExecutor(rt.limit, thread_name_prefix="netdocs-query")
    # Cached answers on the event loop (no worker thread); anything else takes a thread.
    cached = CachedAnswers(rt)
    gate = Gate(rt, queue_timeout)

    async def guarded(request: Request, work: Callable[[], T]) -> T:
        await gate.admit(*who(request))
        if not slots.locked():
            await slots.acquire()  # free: taken at once, no timer or waiter task
        elif queue_timeout == 0:
            raise Busy("too many requests in flight")
        else:
            try:
                await asyncio.wait_for(slots.acquire(), queue_timeout or None)
            except TimeoutError:
                raise Busy("too many requests in flight") from None
        try:
            call = functools.partial(contextvars.copy_context().run, work)
            return await asyncio.get_running_loop().run_in_executor(workers, call)
        finally:
            slots.release()

    s = rt.settings
    proxy_names = {
        h.lower() for h in (s.proxy_user_header, s.proxy_role_header, s.proxy_secret_header)
    }

    def who(request: Request) -> tuple[dict[str, str], str | None]:
        headers = dict(request.headers)  # the first value of a repeated header
        for name in proxy_names:  # a proxy that added its header beside the client's
            if len(values := request.headers.getlist(name)) > 1:
                headers[name] = "\n".join(values)  # no header value has one: auth refuses
        return headers, request.client.host if request.client else None

    @app.exception_handler(Busy)
    async def _busy(request: Request, e: Busy) -> Response:
        return JSONResponse(
            {"detail": f"server busy: {e}; retry later"},
            status_code=503,
            headers={"Retry-After": retry_after},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError) -> Response:
        # FastAPI's own handler echoes each bad input, and fails (500) on one it cannot
        # encode, e.g. a lone surrogate from a "\\ud800" escape: name the field, not the value.
        errors = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": storable(str(err.get("msg")))}
            for err in e.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, e: AuthError) -> Response:
        host = request.client.host if request.client else "?"  # never the token itself
        log.warning(
            "%s %s from %s refused (%d): %s",
            request.method,
            request.url.path,
            host,
            e.status,
            e.detail,
        )
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return JSONResponse({"detail": e.detail}, status_code=e.status, headers=headers)

    # The detail of these two (the policy's path, its roles and tags) is for the operator:
    # the server log has it, the client gets a generic reason.
    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, e: AccessDenied) -> Response:
        log.warning("%s %s refused (403): %s", request.method, request.url.path, e)
        return JSONResponse({"detail": ROLE_REFUSED}, status_code=403)

    @app.exception_handler(ConfigError)
    async def _bad(request: Request, e: ConfigError) -> Response:
        from netdocs.metrics.feedback import TooManyVotes, UnknownQuery

        if isinstance(e, UnknownQuery | TooManyVotes):  # the caller's own query id
            return JSONResponse(
                {"detail": str(e)}, status_code=404 if isinstance(e, UnknownQuery) else 429
            )
        log.error("%s %s failed (400): %s", request.method, request.url.path, e)
        return JSONResponse({"detail": CONFIG_INVALID}, status_code=400)

    @app.exception_handler(DatabaseError)
    async def _db(request: Request, e: DatabaseError) -> Response:
        return JSONResponse(
            {"detail": "database unavailable"}, status_code=503, headers={"Retry-After": "5"}
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(ask_page(), headers=page_headers())

    # The routes return their JSON themselves (response_model only documents it): FastAPI
    # would validate and re-encode a dict[str, Any] per request for nothing.
    @app.post("/v1/search", tags=["query"], response_model=dict[str, Any])
    async def search(body: SearchIn, request: Request) -> Response:
        """The top passages the caller's role may see (the ``netdocs search --json`` shape)."""
        h, host = who(request)
        hit = await cached.search(h, host, body.question, body.k, body.mode, body.role, body.by)
        if hit is None:
            hit = await guarded(
                request,
                lambda: handlers.search(
                    rt, h, host, body.question, body.k, body.mode, body.role, body.by
                ),
            )
        return FastJSON(hit)

    @app.post("/v1/ask", tags=["query"], response_model=dict[str, Any])
    async def ask(body: AskIn, request: Request) -> Response:
        """An answer with numbered citations (the ``netdocs ask --json`` shape)."""
        h, host = who(request)
        hit = await cached.ask(h, host, body.question, body.k, body.role, body.passages)
        if hit is None:
            hit = await guarded(
                request,
                lambda: handlers.ask(rt, h, host, body.question, body.k, body.role, body.passages),
            )
        return FastJSON(hit)

    @app.post("/v1/feedback", tags=["query"])
    async def feedback(body: FeedbackIn, request: Request) -> dict[str, Any]:
        """Helpful / not helpful on one of the caller's own queries."""
        h, host = who(request)
        return await guarded(
            request,
            lambda: handlers.feedback(rt, h, host, body.query_id, body.rating, body.comment),
        )

    exposition = MetricsText(rt.settings.serve_metrics_cache_s)
    health_text = MetricsText(1.0, max_windows=1, cost_hold=0.0)  # stale for 1 s at most

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
    async def metrics(since: str = "24h") -> Response:
        """Prometheus text exposition of the query metrics (window ``since``: 1h, 24h, 7d,
        30d or all)."""
        try:
            seconds = metrics_window(since)  # a fixed set: one cached computation each
        except ValueError as e:  # the caller's own parameter: say what is wrong with it
            return JSONResponse({"detail": str(e)}, status_code=400)
        text = await exposition.get(seconds, lambda: handlers.metrics_text(rt, seconds))
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Response:
        """Database, index generation, embedding model, provider breakers, cached answers."""
        # computed at most once a second, by one request at a time: a flood of health checks
        # (no token needed) must not take the query pool's connections
        text = await health_text.get(None, lambda: json.dumps(handlers.health(rt)))
        ok, details = json.loads(text)
        details["cached_answers"] = cached.stats()  # the event-loop path (fastpath)
        return JSONResponse({"status": "ok" if ok else "unhealthy", **details}, 200 if ok else 503)

    return app
