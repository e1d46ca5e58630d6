"""Two OpenAI-compatible endpoints never share embedding-cache entries: the model id names
the endpoint (real openai SDK against two stub servers, cache in real PostgreSQL)."""

from __future__ import annotations

import hashlib

from netdocs.db import connection
from netdocs.embedding.cache import cached_embed
from netdocs.embedding.openai_embedder import OpenAIEmbedder, endpoint_suffix
from netdocs.store.schema import migrate
from tests.stubs import ProviderStub

TEXTS = ["BGP session flaps on the core router", "radvd advertises the /64 prefix"]
HASHES = [hashlib.sha256(t.encode()).hexdigest() for t in TEXTS]


def _embedder(stub: ProviderStub) -> OpenAIEmbedder:
    return OpenAIEmbedder("text-embedding-3-small", api_key="sk-x", base_url=stub.openai_base_url)


def test_two_endpoints_have_their_own_cache_entries(db_url: str) -> None:
    migrate(db_url)
    with ProviderStub() as first, ProviderStub() as second, connection(db_url) as conn:
        a, b = _embedder(first), _embedder(second)
        assert a.model_id == f"openai/text-embedding-3-small@1536+127.0.0.1:{first.port}"
        assert b.model_id == f"openai/text-embedding-3-small@1536+127.0.0.1:{second.port}"
        _, stats_a = cached_embed(conn, a, TEXTS, HASHES)
        _, stats_b = cached_embed(conn, b, TEXTS, HASHES)
        conn.commit()
        rows = conn.execute(
            "SELECT model_id, count(*) FROM embedding_cache GROUP BY model_id ORDER BY 1"
        ).fetchall()
        assert second.count("embeddings") == 1  # asked, not served from the first's entries
    assert (stats_a.embedded, stats_b.embedded, stats_b.hits) == (2, 2, 0)
    assert rows == sorted([(a.model_id, 2), (b.model_id, 2)])


def test_openai_itself_keeps_the_plain_id() -> None:
    plain = "openai/text-embedding-3-small@1536"
    assert OpenAIEmbedder("text-embedding-3-small", api_key="k").model_id == plain
    official = OpenAIEmbedder(
        "text-embedding-3-small", api_key="k", base_url="https://api.openai.com/v1"
    )
    assert official.model_id == plain


def test_endpoint_suffix() -> None:
    assert endpoint_suffix("https://llm.example.net/v1/") == "+llm.example.net"
    assert endpoint_suffix("http://10.0.0.9:8000/v1") == "+10.0.0.9:8000"
    assert endpoint_suffix("https://u:secret@Az.example.com/openai/dep/x") == (
        "+az.example.com/openai/dep/x"  # credentials never become part of the id
    )
