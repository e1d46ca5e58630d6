"""The recorded-answer provider stub replays recorded bodies and counts misses."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from netdocs.evaluation.llmstub import Recording, request_key, serve


def _post(url: str, body: object) -> tuple[int, object]:
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_replays_recorded_answers_and_counts_misses(tmp_path: Path) -> None:
    asked = {"model": "m", "messages": [{"role": "user", "content": "rank these"}]}
    answer = {"content": [{"type": "text", "text": '{"scores": {"c1": 3}}'}]}
    path = tmp_path / "rec.json"
    path.write_text(
        json.dumps(
            {
                "provider": "anthropic",
                "exchanges": [{"request_sha256": request_key(asked), "body": answer}],
            }
        )
    )
    rec = Recording.load(path)
    with serve(rec) as env:
        url = env["ANTHROPIC_BASE_URL"] + "/v1/messages"
        assert env["NETDOCS_LLM_PROVIDER"] == "anthropic"
        assert _post(url, {"messages": asked["messages"], "model": "m"}) == (200, answer)
        status, body = _post(url, {**asked, "model": "other"})
    assert status == 500 and "no recorded answer" in json.dumps(body)
    assert (rec.hits, rec.misses) == (1, 1)


def test_bad_recording_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "rec.json"
    path.write_text('{"provider": "acme"}')
    with pytest.raises(ValueError, match="rec.json: field 'provider'"):
        Recording.load(path)
