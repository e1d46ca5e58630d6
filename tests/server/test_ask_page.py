"""The ask page in a real headless Chromium: type a question, see a cited answer, click
"helpful", and find the feedback row in the database."""

from __future__ import annotations

import re
import shutil

import psycopg
import pytest

from .conftest import Served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: `apt-get install -y chromium`")
def test_ask_page_cited_answer_and_helpful_vote(served: Served) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    question = "chrony clock is not synchronising"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            response = page.goto(served.url + "/")
            assert response is not None
            csp = response.headers["content-security-policy"]
            assert "script-src 'sha256-" in csp and "frame-ancestors 'none'" in csp
            page.fill("#token", served.tokens["alice"])
            page.click("#save-token")
            page.fill("#question", question)
            page.click("#ask")
            page.wait_for_selector("#sources li", timeout=60_000)
            answer = page.inner_text("#answer")
            sources = page.locator("#sources li .source-path").all_inner_texts()
            latency = page.inner_text("#latency")
            page.click("#passages-box summary")
            passages = page.locator("#passages pre").count()
            page.click("#helpful")
            # a locator wait, not wait_for_function: the page's CSP refuses eval, as it should
            sync_api.expect(page.locator("#feedback-state")).to_have_text(
                re.compile("^thanks"), timeout=30_000
            )
        finally:
            browser.close()
    assert answer.strip() and "ms" in latency and passages >= len(sources) > 0
    # the page's own script and style run under its policy; nothing was refused
    assert not [m for m in console if "Content Security Policy" in m], console
    with psycopg.connect(served.db_url) as conn:
        rows = conn.execute(
            "SELECT f.rating, f.user_name, a.paths FROM query_feedback f"
            " JOIN audit_log a ON a.query_id::text = f.query_id WHERE a.question = %s",
            (question,),
        ).fetchall()
    assert len(rows) == 1 and rows[0][:2] == ("helpful", "alice")
    assert set(sources) <= set(rows[0][2])  # the cited paths are the ones the query read
