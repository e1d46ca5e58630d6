"""benchmarks/counted_cli.py: a run on hashing vectors does not import the model runtimes
(their import would be charged to the cold CLI figure), and a run that builds a local
embedder has its calls counted."""

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
from netdocs.embedding.local import LocalEmbedder as L0  # noqa: F401 - only for 'local'

counter = counted_cli.Counter()
counted_cli.install(counter)
get_embedder(Settings(embedding_provider="hashing"))
before = getattr(L0.embed, "__wrapped__", None) is not None
if sys.argv[1] == "local":
    get_embedder(Settings(embedding_provider="local", local_backend="onnxruntime"))
print(json.dumps({"wrapped_before": before,
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
    assert _run(PROBE, "hashing") == {"wrapped_before": False, "wrapped_after": False}
    assert _run(PROBE, "local") == {"wrapped_before": False, "wrapped_after": True}
