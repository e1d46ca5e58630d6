"""benchmarks/counted_cli.py: a run on hashing vectors, or one that only learns the local
model's id, does not import the model runtimes (their import would be charged to the cold
CLI figure), and a run that builds the local model has its calls counted."""

from __future__ import annotations

import json
import subprocess
import sys

from ..conftest import REPO

PROBE = """
import json, sys
from benchmarks import counted_cli
from netdocs.config import Settings
from netdocs.embedding.factory import get_embedder
from netdocs.embedding.local import LocalEmbedder as L0

counter = counted_cli.Counter()
counted_cli.install(counter)
get_embedder(Settings(embedding_provider="hashing"))
before = getattr(L0.embed, "__wrapped__", None) is not None
local = get_embedder(Settings(embedding_provider="local", local_backend="onnxruntime"))
announced = getattr(L0.embed, "__wrapped__", None) is not None  # id and width only
if sys.argv[1] == "local":
    local.real()  # what its first embed() does: builds the embedder (model loaded later)
print(json.dumps({"wrapped_before": before, "announced": announced,
                  "wrapped_after": getattr(L0.embed, "__wrapped__", None) is not None}))
"""

HASHING_ONLY = """
import json, sys
from benchmarks import counted_cli
from netdocs.config import Settings
from netdocs.embedding.factory import get_embedder

counted_cli.install(counted_cli.Counter())
get_embedder(Settings(embedding_provider="hashing"))
print(json.dumps(sorted(m for m in ("netdocs.embedding.local", "onnxruntime", "openvino", "onnx")
                        if m in sys.modules)))
"""


def _run(code: str, *args: str) -> object:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_hashing_run_imports_no_model_runtime() -> None:
    assert _run(HASHING_ONLY) == []


def test_a_local_embedder_build_installs_the_counting_wrappers() -> None:
    unused = {"wrapped_before": False, "announced": False, "wrapped_after": False}
    assert _run(PROBE, "hashing") == unused
    assert _run(PROBE, "local") == {**unused, "wrapped_after": True}
