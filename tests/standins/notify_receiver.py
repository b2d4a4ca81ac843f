"""A loopback stand-in for the receiver of campaign notifications (a Slack incoming webhook
or any JSON webhook); nothing on this machine may call out to a real one.

It serves on 127.0.0.1 and an ephemeral port from a background thread and records every
request (method, path, headers, body). Slack answers `200 ok`; so does this. Knobs:
`fail_first = n` answers the next n requests with 500, `status = code` answers every
request with that code (404: a deleted webhook), `retry_after` adds that header to the
errors, and `delay` (seconds) slows each answer, to widen races between two senders.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class NotifyReceiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.fail_first = 0
        self.status = 200
        self.retry_after: str | None = None
        self.delay = 0.0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.receiver = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> NotifyReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def bodies(self, event: str | None = None) -> list[Any]:
        with self._lock:
            found = [r.body for r in self.requests]
        return [b for b in found if event is None or b.get("event") == event]

    def answer(self, received: Received) -> int:
        with self._lock:
            self.requests.append(received)
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500
            return self.status


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_POST(self) -> None:
        receiver: NotifyReceiver = self.server.receiver  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if receiver.delay:
            time.sleep(receiver.delay)
        status = receiver.answer(Received("POST", self.path, dict(self.headers.items()), body))
        text = b"ok" if status < 300 else (b"no_service" if status == 404 else b"oops")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        if status >= 400 and receiver.retry_after:
            self.send_header("Retry-After", receiver.retry_after)
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:
        pass
