"""Run the provider stub as a server that replays recorded rerank / rewrite replies.

For eval's ``+llm`` stage (no real key needed)::

    python -m tests.stubs.replay eval/recorded-llm.json --port 8765 &
    NETDOCS_RERANK=llm NETDOCS_LLM_PROVIDER=anthropic ANTHROPIC_API_KEY=stub \\
    ANTHROPIC_BASE_URL=http://127.0.0.1:8765 netdocs search "..." --json
    # (OpenAI: OPENAI_API_KEY=stub OPENAI_BASE_URL=http://127.0.0.1:8765/v1)

In Python (eval calls ``SearchService.search`` directly), the stages run through
``RetrievalPlan.build(settings).search(service, text, k, mode, vector=...)``
(netdocs.query.rerank.pipeline). The recording's format is documented in
:func:`tests.stubs.retrieval.replay_reply`. The first line printed is the Anthropic base
URL; the server runs until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
from pathlib import Path

from tests.stubs.provider_server import ProviderStub
from tests.stubs.retrieval import replay_reply


def main(argv: list[str] | None = None) -> int:
    """Serve ``recording`` on 127.0.0.1 until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.stubs.replay")
    parser.add_argument("recording", type=Path, help="JSON of recorded replies")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    args = parser.parse_args(argv)
    stub = ProviderStub(reply=replay_reply(args.recording), port=args.port)
    with stub:
        print(stub.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
