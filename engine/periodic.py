"""A job run every N seconds on a daemon thread, for the views servers keep fresh (waivers
approved on another replica, edited governance files) without a scheduler of their own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("pathwarden")


class Periodic:
    """Calls `job` every `seconds` (not at start) until `stop()`; `seconds <= 0` never
    starts. A job that raises is logged with `failure` and tried again next period, so
    the last good view keeps serving."""

    def __init__(self, job: Callable[[], object], seconds: float, *, name: str,
                 failure: str) -> None:
        self._job, self._seconds, self._failure = job, seconds, failure
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._name = name

    def start(self) -> Periodic:
        if self._thread is None and self._seconds > 0:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._job()
            except Exception:
                log.exception("%s", self._failure)
