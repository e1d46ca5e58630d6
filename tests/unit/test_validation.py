"""The data-quality gate (Great Expectations) on batches of chunks; no database needed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from netdocs.errors import ValidationFailed
from netdocs.types import Chunk
from netdocs.validation import BatchReport, ChunkValidator

DIM = 384
MAX_TOKENS = 200
VOCAB = {"routing", "switching", "security", "datacenter"}

GOOD_TEXTS = [
    "Every core router runs OSPF in area 0. Loopbacks are advertised as /32 stub networks\n"
    "and the reference bandwidth is set to 100 Gbit/s on all devices.",
    "To add a VLAN on the access switches:\n\tvlan 120\n\tname printers\n"
    "then allow it on the uplink trunk with `switchport trunk allowed vlan add 120`.",
    "BGP sessions to the transit providers use MD5 authentication and a maximum-prefix\n"
    "limit of 950000; alarms fire at 90 percent.",
    "The out-of-band network uses a separate firewall pair. SSH is only reachable from\n"
    "the jump hosts in 10.0.250.0/24.",
]


def _unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make_chunk(
    doc_id: str,
    ordinal: int,
    text: str,
    *,
    tokens: int | None = None,
    chunk_id: str | None = None,
    heading: tuple[str, ...] | None = None,
) -> Chunk:
    heading = heading or ("Runbook", f"Section {ordinal + 1}")
    embed_text = " > ".join(heading) + "\n\n" + text
    return Chunk(
        chunk_id=chunk_id
        if chunk_id is not None
        else hashlib.sha256(f"{doc_id}\0{ordinal}\0{text}".encode()).hexdigest()[:32],
        doc_id=doc_id,
        ordinal=ordinal,
        heading_path=heading,
        text=text,
        embed_text=embed_text,
        text_hash=hashlib.sha256(embed_text.encode()).hexdigest(),
        token_count=tokens if tokens is not None else max(1, len(text.split())),
    )


def good_doc(doc_id: str, n: int = 3) -> list[Chunk]:
    return [make_chunk(doc_id, i, GOOD_TEXTS[i % len(GOOD_TEXTS)]) for i in range(n)]


@pytest.fixture(scope="module")
def validator() -> Iterator[ChunkValidator]:
    v = ChunkValidator(dim=DIM, max_tokens=MAX_TOKENS, normalized=True, tag_vocabulary=VOCAB)
    v.prepare()  # GX import + suite, once for the module
    yield v


GOOD_DOCS = ["core/ospf.md", "access/vlans.md", "edge/bgp-transit.md", "a/..b/notes..md"]

# doc_id -> (expected human check name, substring expected in one sample value)
BAD_DOCS: dict[str, tuple[str, str]] = {
    "bad/empty.md": ("text not empty", "' \\n\\t '"),
    "bad/too-long.md": ("token count in range", "512"),
    "bad/zero-tokens.md": ("token count in range", "0"),
    "bad/nul.md": ("no control characters", "\\x00"),
    "bad/escape.md": ("no control characters", "\\x1b"),
    "bad/heading-nul.md": ("no control characters in headings", "\\x00"),
    "bad/heading-ansi.md": ("no control characters in headings", "\\x1b[31m"),
    "../etc/passwd": ("valid document path", "../etc/passwd"),
    "/abs.md": ("valid document path", "/abs.md"),
    "dir\\win.md": ("valid document path", "win.md"),
    "bad/dup-a.md": ("unique chunk ids", "shared-id"),
    "bad/dup-b.md": ("unique chunk ids", "shared-id"),
    "bad/empty-id.md": ("chunk id not empty", "''"),
    "bad/nan.md": ("finite embedding", "1"),
    "bad/inf.md": ("finite embedding", "2"),
    "bad/not-unit.md": ("unit-norm embedding", "1.5"),
    "bad/unknown-tag.md": ("tags in vocabulary", "top-secret"),
}


def mixed_batch() -> tuple[list[Chunk], np.ndarray, dict[str, list[str]]]:
    """Good documents interleaved with documents that each break one expectation."""
    rng = np.random.default_rng(7)
    chunks: list[Chunk] = []
    for doc in GOOD_DOCS:
        chunks += good_doc(doc)
    ok = GOOD_TEXTS[0]
    chunks += [
        *good_doc("bad/empty.md", 1),
        make_chunk("bad/empty.md", 1, " \n\t ", tokens=1),
        make_chunk("bad/too-long.md", 0, ok, tokens=512),
        make_chunk("bad/zero-tokens.md", 0, ok, tokens=0),
        make_chunk("bad/nul.md", 0, "interface Gi0/1\x00 description uplink"),
        make_chunk("bad/escape.md", 0, "show ip route \x1b[0m output was pasted with colours"),
        make_chunk("bad/heading-nul.md", 0, ok, heading=("Runbook", "Bad\x00heading")),
        make_chunk("bad/heading-ansi.md", 0, ok, heading=("Red \x1b[31m", "alert")),
        make_chunk("../etc/passwd", 0, ok),
        make_chunk("/abs.md", 0, ok),
        make_chunk("dir\\win.md", 0, ok),
        make_chunk("bad/dup-a.md", 0, ok, chunk_id="shared-id"),
        make_chunk("bad/dup-b.md", 0, GOOD_TEXTS[1], chunk_id="shared-id"),
        make_chunk("bad/empty-id.md", 0, ok, chunk_id=""),
        *good_doc("bad/nan.md", 2),
        make_chunk("bad/inf.md", 0, ok),
        make_chunk("bad/not-unit.md", 0, ok),
        make_chunk("bad/unknown-tag.md", 0, ok),
    ]
    vectors = _unit(rng, len(chunks))
    index = {(c.doc_id, c.ordinal): i for i, c in enumerate(chunks)}
    vectors[index[("bad/nan.md", 1)], 5] = np.nan
    vectors[index[("bad/inf.md", 0)], [0, 9]] = [np.inf, -np.inf]
    vectors[index[("bad/not-unit.md", 0)]] *= 1.5
    tags = {doc: ["routing"] for doc in GOOD_DOCS}
    tags["core/ospf.md"] = ["routing", "datacenter"]
    tags["bad/unknown-tag.md"] = ["routing", "top-secret"]
    return chunks, vectors, tags


def test_each_bad_document_is_reported_with_its_expectation(validator: ChunkValidator) -> None:
    chunks, vectors, tags = mixed_batch()
    report = validator.validate(chunks, vectors, tags)

    assert set(report.failures) == set(BAD_DOCS)
    for doc_id, (name, sample) in BAD_DOCS.items():
        fails = report.failures[doc_id]
        assert len(fails) == 1, (doc_id, fails)
        failure = fails[0]
        assert failure.expectation.startswith("expect_column_values_to_"), failure
        assert f"({name})" in failure.expectation, (doc_id, failure)
        assert failure.message, failure
        assert any(sample in s for s in failure.sample_values), (doc_id, failure.sample_values)
        assert 1 <= len(failure.sample_values) <= 3
        assert all(len(s) <= 80 for s in failure.sample_values)
    assert report.checked_chunks == len(chunks)
    assert report.checked_docs == len(GOOD_DOCS) + len(BAD_DOCS)
    assert report.expectations_evaluated == 11
    assert not report.ok


def test_failure_details_name_the_problem(validator: ChunkValidator) -> None:
    chunks, vectors, tags = mixed_batch()
    report = validator.validate(chunks, vectors, tags)
    empty = report.failures["bad/empty.md"][0]
    assert empty.column == "text"
    assert "empty" in empty.message and "1 of 2" in empty.message
    assert "1..200" in report.failures["bad/too-long.md"][0].message
    assert report.failures["../etc/passwd"][0].column == "doc_id"
    assert report.failures["bad/nan.md"][0].column == "emb_nonfinite"
    assert "vocabulary" in report.failures["bad/unknown-tag.md"][0].message
    assert report.failures["bad/unknown-tag.md"][0].sample_values == ["'top-secret'"]


def test_clean_batch_passes(validator: ChunkValidator) -> None:
    chunks = [c for doc in GOOD_DOCS for c in good_doc(doc, 4)]
    vectors = _unit(np.random.default_rng(1), len(chunks))
    report = validator.validate(chunks, vectors, {d: ["security"] for d in GOOD_DOCS})
    assert report.ok and report.failures == {}
    assert report.checked_docs == len(GOOD_DOCS)
    assert "0 of 4 documents failed" in report.to_markdown()


def test_wrong_dimension_fails_every_document(validator: ChunkValidator) -> None:
    chunks = [c for doc in GOOD_DOCS for c in good_doc(doc, 2)]
    vectors = _unit(np.random.default_rng(2), len(chunks), dim=DIM - 1)
    report = validator.validate(chunks, vectors, {})
    assert set(report.failures) == set(GOOD_DOCS)
    for fails in report.failures.values():
        assert [f.column for f in fails] == ["emb_dim"]
        assert "(embedding dimension)" in fails[0].expectation
        assert fails[0].sample_values == ["383"]
        assert "384" in fails[0].message


def test_duplicate_ids_inside_one_document(validator: ChunkValidator) -> None:
    chunks = good_doc("core/ospf.md", 2) + [
        make_chunk("core/twice.md", 0, GOOD_TEXTS[0], chunk_id="same"),
        make_chunk("core/twice.md", 1, GOOD_TEXTS[1], chunk_id="same"),
    ]
    report = validator.validate(chunks, _unit(np.random.default_rng(3), 4), {})
    assert list(report.failures) == ["core/twice.md"]
    assert "2 of 2" in report.failures["core/twice.md"][0].message
    assert report.failures["core/twice.md"][0].sample_values == ["'same'"]


def test_control_char_sample_is_centred_on_the_problem(validator: ChunkValidator) -> None:
    text = "router ospf 1\n" * 40 + "bad\x07bell" + " trailing words" * 10
    chunks = [make_chunk("core/long.md", 0, text, tokens=150)]
    report = validator.validate(chunks, _unit(np.random.default_rng(4), 1), {})
    (failure,) = report.failures["core/long.md"]
    assert "\\x07" in failure.sample_values[0]
    assert len(failure.sample_values[0]) <= 80


def test_to_markdown_and_errors(validator: ChunkValidator) -> None:
    chunks, vectors, tags = mixed_batch()
    report = validator.validate(chunks, vectors, tags)
    md = report.to_markdown()
    total = len(GOOD_DOCS) + len(BAD_DOCS)
    assert f"{len(BAD_DOCS)} of {total} documents failed" in md
    assert f"{len(chunks)} chunks" in md and "11 expectations" in md
    assert "| Document | Expectation | Problem | Samples |" in md
    assert "../etc/passwd" in md and "core/ospf.md" not in md
    errors = report.errors()
    assert len(errors) == len(BAD_DOCS)
    assert all(isinstance(e, ValidationFailed) for e in errors)
    assert {e.doc_id for e in errors} == set(BAD_DOCS)


def test_optional_checks_are_skipped() -> None:
    v = ChunkValidator(dim=4, max_tokens=50, normalized=False, tag_vocabulary=None)
    chunks = good_doc("core/ospf.md", 2)
    vectors = np.array([[3.0, 0, 0, 0], [0.5, 0.5, 0, 0]], dtype=np.float32)
    report = v.validate(chunks, vectors, {"core/ospf.md": ["anything-goes"]})
    assert report.ok
    assert report.expectations_evaluated == 9


def test_empty_batch_does_not_touch_gx() -> None:
    v = ChunkValidator(dim=DIM, max_tokens=MAX_TOKENS, normalized=True, tag_vocabulary=VOCAB)
    report = v.validate([], np.zeros((0, DIM), dtype=np.float32), {})
    assert report == BatchReport({}, 0, 0, 0, report.duration_s)
    assert v._suite is None
    assert "0 of 0 documents" in report.to_markdown()


def test_vectors_must_match_chunks(validator: ChunkValidator) -> None:
    chunks = good_doc("core/ospf.md", 2)
    with pytest.raises(ValueError, match="shape"):
        validator.validate(chunks, _unit(np.random.default_rng(5), 3), {})
    with pytest.raises(ValueError, match="shape"):
        validator.validate(chunks, np.zeros(DIM, dtype=np.float32), {})


def test_no_progress_bars_or_log_noise(capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()  # whatever earlier tests left in the process's streams
    v = ChunkValidator(dim=DIM, max_tokens=MAX_TOKENS, normalized=True, tag_vocabulary=VOCAB)
    chunks, vectors, tags = mixed_batch()
    v.validate(chunks, vectors, tags)
    v.validate(chunks[:5], vectors[:5], tags)
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in err and "%|" not in err
    assert err == "" and out == ""


def test_importing_the_module_does_not_import_gx() -> None:
    code = (
        "import sys, netdocs.validation\n"
        "assert 'great_expectations' not in sys.modules\n"
        "assert 'pandas' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_gx_context_creation_logs_nothing_below_warning() -> None:
    """GX sets INFO on some of its loggers (a temporary docs folder per context): a handler on
    the root logger must see none of it (it once reached a closed console handler)."""
    import logging

    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name.startswith("great_expectations"):
                seen.append(record)

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        v = ChunkValidator(dim=DIM, max_tokens=MAX_TOKENS, normalized=True, tag_vocabulary=VOCAB)
        chunks, vectors, tags = mixed_batch()
        v.validate(chunks, vectors, tags)
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    assert [r.getMessage() for r in seen if r.levelno < logging.WARNING] == []
