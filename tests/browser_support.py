"""The dashboard in a real headless browser: a uvicorn server on a loopback port and
Debian's chromium driven by Playwright, for the dashboard test modules."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from .webhook_support import free_port

SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "dashboard"
"""Screenshots, for a person to look at (gitignored)."""


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """The base URL while `app` serves on 127.0.0.1 from a uvicorn thread."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30  # bounds a broken start; not a speed claim
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def served_in_browser(app: FastAPI) -> Iterator[tuple[str, Browser]]:
    """(base URL, browser) while `app` serves on 127.0.0.1."""
    with serving(app) as base:
        SHOTS.mkdir(parents=True, exist_ok=True)
        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True)
        try:
            yield base, browser
        finally:
            browser.close()
            playwright.stop()


@contextlib.contextmanager
def local_page(browser: Browser, *, allowed_errors: str | None = None
               ) -> Iterator[tuple[BrowserContext, Page]]:
    """A fresh browser profile (no cookies) and page; afterwards every request must have
    stayed on 127.0.0.1 and the console must hold no error (but those matching
    `allowed_errors`, a regex)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        yield context, page
    finally:
        context.close()
    assert requests, "the test loaded no page"
    assert [u for u in requests if urlparse(u).hostname != "127.0.0.1"] == []
    assert [p for p in problems
            if allowed_errors is None or not re.search(allowed_errors, p)] == []
