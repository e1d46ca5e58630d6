"""Property: no cached result ever crosses tag sets, over random roles, tag sets and
questions (the oracle: tag sets and chunk tags computed by the test from raw data)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdocs.db import connection
from netdocs.query.api import run_search
from netdocs.query.service import SearchService

from .cache_corpus import TAGS_YAML, role_tags, sample_index

pytestmark = pytest.mark.usefixtures("prefect_harness")

BASES = [
    "How do I generate WireGuard keys?",
    "configure a BGP peer in FRR",
    "chrony makestep",
    "nftables NAT rule",
    "DNSSEC key rollover",
    "Open vSwitch bridge faq",
]
VARIANTS = [str, str.upper, str.lower, lambda q: f"  {q} ?! ", lambda q: q.replace(" ", "  ")]
VOCAB = sorted(yaml.safe_load(TAGS_YAML.read_text())["tag_vocabulary"])


def norm(question: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", question.lower()).split())


def test_no_cross_tag_set_hit(tmp_path: Path, db_url: str) -> None:
    _, policy = sample_index(tmp_path)
    roles = role_tags(policy)
    with connection(db_url) as conn:
        chunk_tags = {c: set(t) for c, t in conn.execute("SELECT chunk_id, tags FROM chunks")}
    services: dict[object, SearchService] = {}
    history: dict[tuple[str, object], tuple[str, ...]] = {}
    stats = {"hits": 0, "misses": 0}

    def service(kind: str, who: object) -> tuple[SearchService, frozenset[str] | None]:
        if kind == "role":
            assert isinstance(who, str)
            allowed = roles[who]
            if who not in services:
                services[who] = SearchService.for_role(who, policy)
        else:
            assert isinstance(who, frozenset)
            allowed = who
            if who not in services:
                services[who] = SearchService(who)
        return services[who], allowed

    who = st.one_of(
        st.sampled_from(sorted(roles)).map(lambda r: ("role", r)),
        st.frozensets(st.sampled_from(VOCAB), max_size=4).map(lambda s: ("tags", s)),
    )
    question = st.tuples(st.sampled_from(BASES), st.sampled_from(VARIANTS)).map(
        lambda bv: bv[1](bv[0])
    )

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(calls=st.lists(st.tuples(who, question, st.sampled_from([3, 5])), max_size=5))
    def check(calls: list[tuple[tuple[str, object], str, int]]) -> None:
        for (kind, name), q, k in calls:
            svc, allowed = service(kind, name)
            result = run_search(svc, q, k=k)
            for h in result.hits:
                assert allowed is None or chunk_tags[h.chunk_id] & allowed, (name, h.path)
            key = (f"{norm(q)}|{k}", "*" if allowed is None else tuple(sorted(allowed)))
            ids = tuple(h.chunk_id for h in result.hits)
            if result.cache_hit:
                stats["hits"] += 1
                assert history.get(key) == ids, f"cross-key hit for {name} {q!r}"
            else:
                stats["misses"] += 1
                assert key not in history, f"repeat of {key} missed"
                history[key] = ids

    try:
        check()
    finally:
        for svc in services.values():
            svc.close()
    assert stats["hits"] > 10 and stats["misses"] > 10
