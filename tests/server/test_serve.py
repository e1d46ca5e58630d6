"""`netdocs serve` over real HTTP: tokens -> roles, 401/403, feedback rows, /metrics,
/healthz, back-pressure (503 + Retry-After)."""

from __future__ import annotations

import http.client
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import psycopg
import yaml
from prometheus_client.parser import text_string_to_metric_families

from .conftest import POLICY, Served, run_cli

QUESTIONS = [
    "wireguard vpn private key",
    "nftables firewall chains",
    "kea dhcp security",
    "bind9 dnssec security configuration",
    "chrony clock not synchronising",
    "bgp route reflector",
]


def _visible_to(role: str) -> Callable[[str], bool]:
    """The test's own oracle: first matching glob of tags.yaml gives a path's tags; a role
    sees a path when one of its tags is allowed."""
    data = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    allow = set(data["roles"][role]["allow"])

    def regex(glob: str) -> re.Pattern[str]:
        out = re.escape(glob).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        return re.compile(out.replace(r"\*", "[^/]*") + "$")

    rules = [(regex(r["glob"]), set(r["tags"])) for r in data["rules"]]

    def visible(path: str) -> bool:
        tags = next(t for rx, t in rules if rx.match(path))
        return "*" in allow or bool(tags & allow)

    return visible


def test_helpdesk_token_never_gets_a_restricted_chunk(served: Served) -> None:
    visible = _visible_to("helpdesk")
    seen_restricted = 0
    with (
        served.client(served.tokens["alice"]) as alice,
        served.client(served.tokens["root"]) as root,
    ):
        for q in QUESTIONS:
            r = alice.post("/v1/search", json={"question": q, "k": 10})
            assert r.status_code == 200, r.text
            assert all(visible(h["path"]) for h in r.json()["results"]), r.json()
            a = alice.post("/v1/ask", json={"question": q, "passages": True})
            assert a.status_code == 200, a.text
            paths = [p["path"] for p in a.json()["passages"]]
            paths += [c["path"] for c in a.json()["citations"]]
            assert all(visible(p) for p in paths), paths
            by_doc = {"question": q, "k": 10, "by": "document"}
            docs = alice.post("/v1/search", json=by_doc).json()["results"]
            assert docs and all(visible(d["path"]) and d["chunks"] >= 1 for d in docs), docs
            # the admin token does get restricted chunks for the same questions: not vacuous
            admin = root.post("/v1/search", json={"question": q, "k": 10}).json()["results"]
            seen_restricted += sum(not visible(h["path"]) for h in admin)
            admin = root.post("/v1/search", json=by_doc).json()["results"]
            seen_restricted += sum(not visible(d["path"]) for d in admin)
        last = r.json()["query_id"]
    assert seen_restricted > 0
    with psycopg.connect(served.db_url) as conn:
        row = conn.execute(
            "SELECT user_name, role FROM audit_log WHERE query_id = %s", (last,)
        ).fetchone()
    assert row == ("alice", "helpdesk")  # every access audited with the token's user


def test_the_body_cannot_choose_another_role(served: Served) -> None:
    with served.client(served.tokens["alice"]) as alice:
        for path in ("/v1/search", "/v1/ask"):
            r = alice.post(path, json={"question": "vpn keys", "role": "admin"})
            assert r.status_code == 403, r.text
        assert alice.post("/v1/search", json={"question": "vpn", "role": "helpdesk"}).is_success


def test_missing_unknown_and_revoked_tokens_get_401(served: Served) -> None:
    body = {"question": "chrony faq"}
    with served.client() as anon:
        assert anon.post("/v1/search", json=body).status_code == 401
        assert anon.post("/v1/ask", json=body).status_code == 401
    with served.client("ndt_not-a-real-token") as bogus:
        assert bogus.post("/v1/search", json=body).status_code == 401
    token = served.token("carol", "network_engineer")
    listing = run_cli(served.env, "token", "list", "--json").json()
    token_id = next(t["token_id"] for t in listing if t["user"] == "carol")
    assert token not in run_cli(served.env, "token", "list").stdout
    with served.client(token) as carol:
        assert carol.post("/v1/search", json=body).status_code == 200
        assert run_cli(served.env, "token", "revoke", token_id).code == 0
        time.sleep(float(served.env["NETDOCS_SERVE_TOKEN_CACHE_S"]))  # the cache's bound
        r = carol.post("/v1/search", json=body)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    with psycopg.connect(served.db_url) as conn:
        stored = conn.execute("SELECT token_hash FROM api_tokens").fetchall()
    assert all(token not in h for (h,) in stored)  # only hashes are stored


def test_feedback_is_stored_for_the_callers_own_query(served: Served) -> None:
    with (
        served.client(served.tokens["alice"]) as alice,
        served.client(served.tokens["root"]) as root,
    ):
        qid = alice.post("/v1/ask", json={"question": "bind9 troubleshooting"}).json()["query_id"]
        r = alice.post("/v1/feedback", json={"query_id": qid, "rating": "helpful"})
        assert r.status_code == 200, r.text
        assert (
            root.post("/v1/feedback", json={"query_id": qid, "rating": "not_helpful"}).status_code
            == 403
        )
        unknown = {"query_id": "no-such-query", "rating": "helpful"}
        assert alice.post("/v1/feedback", json=unknown).status_code == 404
    with psycopg.connect(served.db_url) as conn:
        rows = conn.execute(
            "SELECT rating, user_name FROM query_feedback WHERE query_id = %s", (qid,)
        ).fetchall()
    assert rows == [("helpful", "alice")]


def test_nul_is_answered_and_audited_and_a_lone_surrogate_is_a_422_not_a_500(
    served: Served,
) -> None:
    """JSON may carry \\u0000 and lone \\ud800 escapes; PostgreSQL text cannot hold NUL (it
    becomes a space, never a 'database unavailable' 503) and a lone surrogate is not a
    string (a 422 naming the field; FastAPI's own handler failed with a 500 echoing it)."""
    headers = {"Content-Type": "application/json"}
    with served.client(served.tokens["alice"]) as alice:
        for path in ("/v1/search", "/v1/ask"):
            r = alice.post(path, content='{"question": "chrony\\u0000 faq"}', headers=headers)
            assert r.status_code == 200, (path, r.text)
            bad = alice.post(path, content='{"question": "chrony \\ud800"}', headers=headers)
            assert bad.status_code == 422, (path, bad.text)
            assert bad.json()["detail"][0]["loc"] == ["body", "question"]
            for blank in (" ", "\\u200b\\u2066", "\\u0000"):  # nothing to search for
                empty = alice.post(path, content=f'{{"question": "{blank}"}}', headers=headers)
                assert empty.status_code == 422, (path, blank, empty.text)
                assert "no visible text" in empty.text
        qid = r.json()["query_id"]
        vote = '{"query_id": "' + qid + '", "rating": "helpful", "comment": "ok\\u0000 fine"}'
        assert alice.post("/v1/feedback", content=vote, headers=headers).status_code == 200
    with psycopg.connect(served.db_url) as conn:
        row = conn.execute("SELECT question FROM audit_log WHERE query_id = %s", (qid,)).fetchone()
        comment = conn.execute(
            "SELECT comment FROM query_feedback WHERE query_id = %s", (qid,)
        ).fetchone()
    assert row == ("chrony  faq",) and comment == ("ok  fine",)


def test_a_body_over_the_limit_is_refused_unread_with_413(served: Served) -> None:
    """Declared (Content-Length) and chunked bodies over NETDOCS_SERVE_MAX_BODY_BYTES (64 KiB
    by default) get 413; the server keeps answering."""
    big = '{"question": "' + "x" * 200_000 + '"}'
    headers = {"Content-Type": "application/json"}

    def chunked() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192].encode()

    with served.client(served.tokens["alice"]) as alice:
        r = alice.post("/v1/search", content=big, headers=headers)
        assert r.status_code == 413 and "over 65536 bytes" in r.json()["detail"], r.text
        r = alice.post("/v1/ask", content=chunked(), headers=headers)
        assert r.status_code == 413, r.text
        assert alice.post("/v1/search", json={"question": "chrony faq"}).status_code == 200


def test_metrics_parse_and_healthz(served: Served) -> None:
    with served.client(served.tokens["alice"]) as alice:
        assert alice.post("/v1/search", json={"question": "ovs faq qos"}).is_success
    text = httpx.get(served.url + "/metrics", timeout=30).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    queries = families["netdocs_queries"]
    helpdesk = [s for s in queries.samples if s.labels.get("role") == "helpdesk"]
    assert sum(s.value for s in helpdesk if s.name == "netdocs_queries_total") >= 1
    with psycopg.connect(served.db_url) as conn:
        (n,) = conn.execute("SELECT count(*) FROM query_metrics WHERE role = 'helpdesk'").fetchone()
    assert sum(s.value for s in helpdesk if s.name == "netdocs_queries_total") == n
    health = httpx.get(served.url + "/healthz", timeout=30)
    assert health.status_code == 200
    body = health.json()
    assert body["database"] == "ok" and body["index_generation"] > 0
    assert body["embedding_model"] and isinstance(body["breakers"], dict)
    for page in ("/docs", "/redoc"):  # they would load a CDN's scripts on this origin
        assert httpx.get(served.url + page, timeout=30).status_code == 404
    paths = httpx.get(served.url + "/openapi.json", timeout=30).json()["paths"]
    assert {"/v1/search", "/v1/ask", "/v1/feedback", "/metrics", "/healthz"} <= set(paths)


def test_the_real_server_answers_repeated_questions_on_the_event_loop(served: Served) -> None:
    """The first ask of a question is ranked (threaded); the repeats are served from the
    cache on the event loop, read once then replayed in one statement (/healthz counts)."""

    def stats() -> dict[str, int]:
        return dict(httpx.get(served.url + "/healthz", timeout=30).json()["cached_answers"])

    before = stats()
    assert before["enabled"] is True
    question = {"question": f"radvd prefix lifetimes {uuid.uuid4().hex[:6]}"}
    with served.client(served.tokens["alice"]) as alice:
        first = alice.post("/v1/search", json=question).json()
        repeats = [alice.post("/v1/search", json=question).json() for _ in range(4)]
    after = stats()
    assert first["cache_hit"] is False and all(r["cache_hit"] for r in repeats)
    assert all(r["results"] == first["results"] for r in repeats)
    assert after["served"] - before["served"] >= 2  # the token cache lives 1 s here
    assert after["replayed"] - before["replayed"] >= 1
    assert after["remembered"] >= 1


def test_over_the_limit_503_with_retry_after(served: Served) -> None:
    """The server allows one request at a time (NETDOCS_SERVE_MAX_CONCURRENT=1): hold one
    on a table lock, the next one is refused at once; after release both work again.

    The held request uses a token the server has not seen yet, so it takes the threaded path
    (the event loop serves only tokens in its cache) and holds the only slot. The second
    one, whichever path it takes, must not wait on the lock: the loop's cached lookup gives
    up after the slot wait (lock_timeout), then the slot wait ends in 503."""
    results: list[httpx.Response] = []
    fresh = served.token(f"held-{uuid.uuid4().hex[:6]}", "helpdesk")
    with psycopg.connect(served.db_url) as lock:
        lock.execute("LOCK TABLE chunks IN ACCESS EXCLUSIVE MODE")
        client = served.client(fresh)

        def held() -> None:
            results.append(client.post("/v1/search", json={"question": "held radvd question"}))

        t = threading.Thread(target=held)
        t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the request waits on our lock
            lock.execute("SELECT pg_stat_clear_snapshot()")  # else one view per transaction
            (waiting,) = lock.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting:
                break
            time.sleep(0.05)
        assert waiting, "the first request never reached the database"
        with served.client(served.tokens["alice"], timeout=10) as other:
            # at once: the short client timeout turns a hang into a failure
            busy = other.post("/v1/search", json={"question": "another question"})
        assert busy.status_code == 503, busy.text
        assert int(busy.headers["retry-after"]) >= 1
        # a caller who cannot be authenticated is refused before it would need the slot:
        # 401, not the 503 of a caller who could (no made-up token can crowd out real users)
        made_up = "ndt_" + secrets.token_urlsafe(32)
        for token in (made_up, "ndt_short", None):
            with served.client(token, timeout=10) as nobody:
                r = nobody.post("/v1/search", json={"question": "another question"})
            assert r.status_code == 401, (token, r.status_code, r.text)
        lock.rollback()  # release the lock
    t.join(timeout=60)
    assert results and results[0].status_code == 200, results
    client.close()
    with served.client(served.tokens["alice"]) as again:
        assert again.post("/v1/search", json={"question": "another question"}).is_success


def test_an_idle_keepalive_connection_outlives_the_clients_pool_expiry(served: Served) -> None:
    """A client pool keeps an idle connection for its keep-alive expiry (httpx: 5 s) and
    then sends the next request on it. A server that closes idle connections as soon as
    that (uvicorn's default is also 5 s) races it: under load the request meets a closed
    socket and fails with a reset (the bench's ReadErrors). Idle a second longer than
    httpx's expiry on one raw connection: the same socket must still be answered."""
    idle_s = httpx.Limits().keepalive_expiry or 5.0
    port = int(served.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        first.read()
        assert first.status == 200
        sock = conn.sock
        time.sleep(idle_s + 1.0)
        conn.request("GET", "/")  # http.client reconnects only when it saw a close
        again = conn.getresponse()  # a server that closed: RemoteDisconnected / reset
        again.read()
        assert again.status == 200
        assert conn.sock is sock, "the request did not travel on the idle connection"
    finally:
        conn.close()


def test_the_server_writes_its_buffered_cache_counts(served: Served) -> None:
    """Cache hits and misses are counted in memory and flushed about every second: they
    reach ``cache_counters`` (what `netdocs cache stats` reads) without a restart."""

    def counts() -> tuple[int, int]:
        with psycopg.connect(served.db_url) as conn:
            row = conn.execute(
                "SELECT hits + misses, (SELECT hits FROM cache_counters WHERE kind = 'query')"
                " FROM cache_counters WHERE kind = 'query_embedding'"
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    before = counts()
    body = {"question": f"lldpd neighbours counted {time.time_ns()}"}  # a new question
    with served.client(served.tokens["alice"]) as client:
        first = client.post("/v1/search", json=body).json()
        second = client.post("/v1/search", json=body).json()
    assert (first["cache_hit"], second["cache_hit"]) == (False, True)
    deadline = time.monotonic() + 30
    while True:
        vectors, query_hits = counts()
        if vectors > before[0] and query_hits > before[1] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert vectors > before[0] and query_hits > before[1]


def test_api_replies_are_not_cached_or_sniffed_on_either_path(served: Served) -> None:
    """An answer and its passages are one caller's: `no-store` on every /v1 reply (the
    threaded path, the event loop's cached path, errors) and `nosniff` on every reply."""
    question = {"question": f"bind9 zone transfer {uuid.uuid4().hex[:6]}", "passages": True}
    with served.client(served.tokens["alice"]) as alice:
        replies = [alice.post("/v1/ask", json=question) for _ in range(3)]  # miss, then hits
        replies.append(alice.post("/v1/ask", json={"question": " "}))  # 422
    with served.client() as nobody:
        replies.append(nobody.post("/v1/search", json={"question": "x"}))  # 401
        other = [nobody.get("/metrics"), nobody.get("/healthz"), nobody.get("/")]
    assert [r.status_code for r in replies] == [200, 200, 200, 422, 401]
    assert replies[2].json()["cache_hit"] is True
    for r in replies:
        assert r.headers["cache-control"] == "no-store", r.request.url
        assert r.headers["x-content-type-options"] == "nosniff"
    for r in other:
        assert r.headers["x-content-type-options"] == "nosniff", r.request.url
