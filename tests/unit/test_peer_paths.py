"""benchmarks/peer_llamaindex.py: the peer's node count does not depend on where the bench
copied the corpus (the reader's ``file_path`` metadata is sized into every chunk). Uses only
llama-index-core (a netdocs dependency): the splitter, no model, no database."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ..conftest import SAMPLE

pytest.importorskip("llama_index.core")


class SplitOnly:
    """The pipeline's splitter alone (no model, no database)."""

    def run(self, documents: Any) -> Any:
        from llama_index.core.node_parser import SentenceSplitter

        return SentenceSplitter(chunk_size=256, chunk_overlap=32).get_nodes_from_documents(
            documents
        )


def test_node_count_is_the_same_wherever_the_copy_lives(tmp_path: Path) -> None:
    from benchmarks.peer_llamaindex import nltk_data, run_once

    nltk_data(tmp_path / "state")
    counts = []
    for parent in ("a", "a-much-longer-folder-name-" * 4):
        docs = tmp_path / parent / "docs-peer"
        shutil.copytree(SAMPLE, docs)
        counts.append(run_once(SplitOnly(), docs)["nodes_written"])
    assert counts[0] == counts[1] > 43
