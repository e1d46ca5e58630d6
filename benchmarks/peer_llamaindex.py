"""The peer: LlamaIndex's IngestionPipeline on PGVectorStore, with netdocs' local model.

One step per process (as a user would run a script from cron):

    python benchmarks/peer_llamaindex.py DOCS STATE DB_URL [--again]

reads DOCS with ``SimpleDirectoryReader`` (``*.md``, recursive, file name as id, the
``file_path`` metadata relative to DOCS so that chunk sizes do not depend on where the bench
put the copy), loads the
pipeline's docstore and ``IngestionCache`` from STATE (``pipeline.load``), runs
``SentenceSplitter(256, 32)`` → the embed model into ``PGVectorStore`` (HNSW, cosine) with
``DocstoreStrategy.UPSERTS_AND_DELETE``, persists STATE, and prints one JSON object.
``--again`` runs the pipeline a second time in the same process (the warm no-change run).

The embed model is :class:`NetdocsEmbedding`: LlamaIndex's ``BaseEmbedding`` around the
very embedder netdocs builds for ingestion (same model file, same runtime as selected by
``NETDOCS_LOCAL_BACKEND``), with its calls counted.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llama_index.core.bridge.pydantic import PrivateAttr  # noqa: E402
from llama_index.core.embeddings import BaseEmbedding  # noqa: E402

from benchmarks.counted_cli import Counter, peak_rss_mb  # noqa: E402

TABLE = "peer"  # PGVectorStore prefixes it: data_peer
#: Texts per call into the model. LlamaIndex's default is 10; netdocs' runtimes sort each
#: call's texts by length and batch them (OpenVINO: 32 per request on 2 streams), so a
#: bigger call is the fair setting for the peer.
PEER_EMBED_BATCH = 128


class NetdocsEmbedding(BaseEmbedding):
    """LlamaIndex embedding model backed by netdocs' local embedder (counted)."""

    _embedder: Any = PrivateAttr()
    _counter: Counter = PrivateAttr()

    def __init__(self, embedder: Any, counter: Counter, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.model_id, **kwargs)
        self._embedder = embedder
        self._counter = counter
        self._embed = counter.wrap(lambda _obj, texts: embedder.embed(list(texts)))

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in self._embed(None, texts)]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def _sqlalchemy_urls(url: str) -> tuple[str, str]:
    """(psycopg2 URL, asyncpg URL) for a libpq URL of the embedded server (unix socket)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    user, db, host = info.get("user", "postgres"), info.get("dbname", "postgres"), info["host"]
    port = info.get("port", "5432")
    return (
        f"postgresql+psycopg2://{user}@/{db}?host={host}&port={port}",
        f"postgresql+asyncpg://{user}@/{db}?host={host}&port={port}",
    )


def build_pipeline(url: str, counter: Counter) -> Any:
    """The pipeline under test."""
    from llama_index.core.ingestion import DocstoreStrategy, IngestionCache, IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.storage.docstore import SimpleDocumentStore
    from llama_index.vector_stores.postgres import PGVectorStore

    from netdocs.config import get_settings
    from netdocs.embedding.factory import get_embedder

    embedder = get_embedder(get_settings(), "bulk")
    sync_url, async_url = _sqlalchemy_urls(url)
    store = PGVectorStore.from_params(
        connection_string=sync_url,
        async_connection_string=async_url,
        table_name=TABLE,
        embed_dim=embedder.dim,
        hnsw_kwargs={
            "hnsw_m": 16,
            "hnsw_ef_construction": 64,
            "hnsw_ef_search": 40,
            "hnsw_dist_method": "vector_cosine_ops",
        },
    )
    model = NetdocsEmbedding(embedder, counter, embed_batch_size=PEER_EMBED_BATCH)
    return IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32), model],
        docstore=SimpleDocumentStore(),
        vector_store=store,
        cache=IngestionCache(),
        docstore_strategy=DocstoreStrategy.UPSERTS_AND_DELETE,
    )


def run_once(pipeline: Any, docs: Path) -> dict[str, Any]:
    """Read the folder and run the pipeline; seconds of each part."""
    from llama_index.core import SimpleDirectoryReader
    from llama_index.core.readers.file.base import default_file_metadata_func

    def metadata(path: str) -> dict[str, Any]:
        # The reader keeps ``file_path`` in the text every chunk is sized with; an absolute
        # path under the bench's random temporary folder made the node count differ from
        # run to run (routing/: 1,329 vs 1,442 nodes). Relative to DOCS, as netdocs' ids.
        found: dict[str, Any] = default_file_metadata_func(path)
        found["file_path"] = Path(path).relative_to(docs).as_posix()
        return found

    t0 = time.perf_counter()
    documents = SimpleDirectoryReader(
        str(docs),
        recursive=True,
        required_exts=[".md"],
        filename_as_id=True,
        file_metadata=metadata,
    ).load_data()
    t1 = time.perf_counter()
    nodes = pipeline.run(documents=documents)
    t2 = time.perf_counter()
    return {
        "documents": len(documents),
        "nodes_written": len(nodes),
        "read_s": round(t1 - t0, 2),
        "pipeline_s": round(t2 - t1, 2),
    }


def nltk_data(state: Path) -> None:
    """Point NLTK at a private copy of LlamaIndex's bundled NLTK data: NLTK refuses to open
    its files where the venv installer hard-linked them (``st_nlink`` > 1)."""
    if "NLTK_DATA" in os.environ:
        return
    import llama_index.core

    bundled = Path(llama_index.core.__file__).parent / "_static" / "nltk_cache"
    copy = state.parent / "nltk_data"
    if not copy.exists():
        shutil.copytree(bundled, copy, copy_function=shutil.copy)
    os.environ["NLTK_DATA"] = str(copy)


def main() -> int:
    started = time.perf_counter()
    docs, state, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    nltk_data(state)
    counter = Counter()
    pipeline = build_pipeline(url, counter)
    t = time.perf_counter()
    if (state / "docstore.json").exists():
        pipeline.load(str(state))
    out: dict[str, Any] = {"load_state_s": round(time.perf_counter() - t, 2)}
    out.update(run_once(pipeline, docs))
    t = time.perf_counter()
    pipeline.persist(str(state))
    out["persist_state_s"] = round(time.perf_counter() - t, 2)
    out["step_s"] = round(time.perf_counter() - started, 2)  # imports excluded
    out.update(counter.to_json())
    out["model_s"] = round(out["model_s"], 2)
    if "--again" in sys.argv:
        t = time.perf_counter()
        again = run_once(pipeline, docs)
        again["run_s"] = round(time.perf_counter() - t, 2)
        again["embed_calls"] = counter.calls - out["embed_calls"]
        out["again"] = again
    import psycopg

    with psycopg.connect(url) as conn:
        table = f"data_{TABLE}"
        row = conn.execute(f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")
        out["nodes_stored"], out["table_bytes"] = row.fetchone() or (0, 0)
    out["peak_rss_mb"] = peak_rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
