"""Screenshots of the Prefect UI for the README (headless Debian chromium through playwright).

    python docs/screenshot_prefect_ui.py UI_URL FLOW_RUN_ID
writes docs/prefect-ui.png (the flow run page) and docs/prefect-ui-artifact.png (its
`ingest-summary` artifact). UI_URL: what `netdocs server status` prints.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
DOCS = Path(__file__).resolve().parent


def main() -> None:
    ui, run_id = sys.argv[1].rstrip("/"), sys.argv[2]
    body = {"artifacts": {"flow_run_id": {"any_": [run_id]}, "key": {"any_": ["ingest-summary"]}}}
    (artifact,) = httpx.post(f"{ui}/api/artifacts/filter", json=body, timeout=30).json()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for url, name in (
            (f"{ui}/runs/flow-run/{run_id}", "prefect-ui.png"),
            (f"{ui}/artifacts/artifact/{artifact['id']}", "prefect-ui-artifact.png"),
        ):
            page.goto(url, wait_until="networkidle", timeout=120_000)
            time.sleep(5)  # the run graph is drawn after the data arrives
            page.screenshot(path=str(DOCS / name))
        browser.close()


if __name__ == "__main__":
    main()
