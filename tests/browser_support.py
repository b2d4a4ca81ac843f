"""The dashboard in a real headless browser: a uvicorn server on a loopback port and
Debian's chromium driven by Playwright, for the dashboard test modules."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright

from .webhook_support import free_port

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "dashboard"
"""Screenshots, for a person to look at (gitignored)."""


@contextlib.contextmanager
def served_in_browser(app: FastAPI) -> Iterator[tuple[str, Browser]]:
    """(base URL, browser) while `app` serves on 127.0.0.1."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30  # bounds a broken start; not a speed claim
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    SHOTS.mkdir(parents=True, exist_ok=True)
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
    try:
        yield f"http://127.0.0.1:{port}", browser
    finally:
        browser.close()
        playwright.stop()
        server.should_exit = True
        thread.join(timeout=30)
