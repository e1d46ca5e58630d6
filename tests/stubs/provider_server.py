"""A fault-injecting local HTTP server speaking the OpenAI and Anthropic APIs.

Routes: ``POST /v1/embeddings`` and ``/v1/chat/completions`` (OpenAI), ``POST /v1/messages``
(Anthropic). Every request is recorded; scripted behaviours (see :mod:`tests.stubs.faults`)
are consumed one per request, per route or globally::

    with ProviderStub() as stub:
        stub.script("429", "500", "ok")            # global queue
        stub.script("slow:2", route="embeddings")  # that route only (checked first)
        client = openai.OpenAI(api_key="k", base_url=stub.openai_base_url, max_retries=0)
        ...
        assert stub.count("embeddings") == 3
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.stubs import payloads
from tests.stubs.faults import Behaviour, Fault, FaultScript

ROUTES = {
    "/v1/embeddings": "embeddings",
    "/v1/chat/completions": "chat",
    "/v1/messages": "messages",
}
_SECRET_HEADERS = {"authorization", "x-api-key", "api-key"}
REDACTED = "[redacted]"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stub saw it (secret headers redacted, names lower-case)."""

    method: str
    path: str
    route: str | None
    headers: dict[str, str]
    body: Any  # parsed JSON, or None when absent / not JSON
    at: float  # time.monotonic() on arrival
    behaviour: str = "ok"  # the scripted behaviour applied ("ok", "429", "reset", ...)


ReplyFn = Callable[[RecordedRequest], str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: ProviderStub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet; tests read :attr:`ProviderStub.requests` instead."""

    def do_POST(self) -> None:
        """Record, check headers, apply the next scripted behaviour, answer."""
        stub = self.server.stub
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        route = ROUTES.get(path)
        family = "anthropic" if route == "messages" else "openai"
        headers = {
            k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else v)
            for k, v in self.headers.items()
        }
        problem = self._header_problem(route)
        fault = stub.faults.next(route) if route and problem is None else Fault()
        label = "rejected" if problem else fault.label
        req = RecordedRequest("POST", path, route, headers, body, time.monotonic(), label)
        stub._record(req)
        if route is None:
            self._send_json(404, payloads.error_body("openai", 404, f"no route {path}"))
        elif problem is not None:
            self._send_json(problem[0], payloads.error_body(family, *problem))
        else:
            self._apply(stub, fault, req, family)

    def _header_problem(self, route: str | None) -> tuple[int, str] | None:
        if route == "messages":
            if not self.headers.get("x-api-key"):
                return 401, "x-api-key header is required"
            if not self.headers.get("anthropic-version"):
                return 400, "anthropic-version header is required"
        elif route and not (self.headers.get("authorization") or "").startswith("Bearer "):
            return 401, "You didn't provide an API key."
        return None

    def _apply(self, stub: ProviderStub, fault: Fault, req: RecordedRequest, family: str) -> None:
        if fault.kind == "reset":
            self._reset()
            return
        if fault.kind == "garbage":
            self._send(200, b'{"object": "list", "data": [{"obj', "application/json")
            return
        if fault.kind == "status":
            extra: dict[str, str] = {}
            if fault.retry_after is not None:
                ra = fault.retry_after
                extra["retry-after"] = ra if isinstance(ra, str) else f"{ra:g}"
            if fault.retry_after_ms is not None:
                extra["retry-after-ms"] = f"{fault.retry_after_ms:g}"
            body = payloads.error_body(family, fault.status, fault.message)
            self._send_json(fault.status, body, extra)
            return
        if fault.kind == "slow" and stub._stopping.wait(fault.delay):
            return  # server shutting down
        try:
            answer = self._answer(stub, fault, req)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            self._send_json(400, payloads.error_body(family, 400, f"invalid request: {e!r}"))
            return
        self._send_json(200, answer)

    def _answer(self, stub: ProviderStub, fault: Fault, req: RecordedRequest) -> dict[str, Any]:
        body = req.body
        if not isinstance(body, dict) or not body.get("model"):
            raise ValueError("a JSON object with 'model' is required")
        if req.route == "embeddings":
            inp = body["input"]
            if inp in ("", []) or (isinstance(inp, list) and "" in inp):
                raise ValueError("'$.input' is invalid: empty input")
            texts = [inp] if isinstance(inp, str) else [str(t) for t in inp]
            refused = [
                i for i, t in enumerate(texts) if stub.refuse_input and stub.refuse_input in t
            ]
            if refused:
                raise ValueError(f"'$.input[{refused[0]}]' was rejected by the content filter")
            return payloads.embeddings(body, stub.embedding_dim, fault.kind)
        if not body.get("messages"):
            raise ValueError("'messages' is required")
        reply = stub.reply(req)
        if req.route == "chat":
            return payloads.chat_completion(body, reply)
        if "max_tokens" not in body:
            raise ValueError("max_tokens: Field required")
        return payloads.anthropic_message(body, reply)

    def _reset(self) -> None:
        """Abort the connection: SO_LINGER 0 makes close() send a TCP RST."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _send_json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json", extra)

    def _send(
        self, status: int, data: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.send_header("x-request-id", f"req_stub{time.monotonic_ns()}")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) and closed its end
            self.close_connection = True


class ProviderStub:
    """The stub server: start/stop (or ``with``), script faults, read recorded requests."""

    def __init__(
        self, *, embedding_dim: int = 1536, reply: ReplyFn | str = "stub answer", port: int = 0
    ) -> None:
        self.requested_port = port  # 0: any free port
        self.embedding_dim = embedding_dim  # for models without a native size in payloads
        #: An embeddings request with an input containing this text is refused with 400,
        #: as a provider's length limit or content filter refuses the whole request.
        self.refuse_input: str | None = None
        self.faults = FaultScript()
        self._reply: ReplyFn = (lambda _req: reply) if isinstance(reply, str) else reply
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> ProviderStub:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self.requested_port), _Handler)
        server.stub = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"provider-stub-{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Wake sleeping handlers, stop serving, release the port."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> ProviderStub:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # addresses
    @property
    def port(self) -> int:
        """The bound port (the server must be started)."""
        if self._server is None:
            raise RuntimeError("ProviderStub is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` — the Anthropic SDK's ``base_url``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` — the OpenAI SDK's ``base_url``."""
        return f"{self.base_url}/v1"

    anthropic_base_url = base_url

    # scripting
    def script(self, *behaviours: Behaviour, route: str | None = None) -> None:
        """Queue behaviours ("429", "500", "slow:2", "reset", ...) for ``route`` or all."""
        if route is not None and route not in ROUTES.values():
            raise ValueError(f"unknown route {route!r}; one of {sorted(ROUTES.values())}")
        self.faults.add(behaviours, route)

    def set_reply(self, reply: ReplyFn | str) -> None:
        """Set the chat / messages answer text: a string or a function of the request."""
        self._reply = (lambda _req: reply) if isinstance(reply, str) else reply

    def reply(self, req: RecordedRequest) -> str:
        """The answer text for a chat or messages request."""
        return self._reply(req)

    def reset(self) -> None:
        """Forget recorded requests and pending behaviours."""
        self.faults.clear()
        with self._lock:
            self._requests.clear()

    # records
    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, route: str) -> list[RecordedRequest]:
        """Requests to one route ("embeddings", "chat" or "messages")."""
        return [r for r in self.requests if r.route == route]

    def count(self, route: str | None = None) -> int:
        """How many requests arrived (to ``route``, or in all)."""
        return len(self.requests if route is None else self.requests_for(route))

    def gaps(self, route: str | None = None) -> list[float]:
        """Seconds between consecutive request arrivals (to check back-off)."""
        times = [r.at for r in (self.requests if route is None else self.requests_for(route))]
        return [b - a for a, b in zip(times, times[1:], strict=False)]
