"""The decision log: every answer recorded, never in the way of answering.

Requests put a plain record on a bounded queue and return; one thread writes batches to
the store. When the queue is full or the store is down, records are dropped, counted and
logged (once per burst, not once per record) and admission carries on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from .decision import Decision
from .review import AdmissionRequest

log = logging.getLogger("pathwarden.webhook")

Record = dict[str, Any]
Sink = Callable[[Sequence[Record]], None]
"""Writes a batch durably or raises; the store's `add_decisions` behind an adapter."""

BATCH = 200
RETRY_SECONDS = 2.0


def record(request: AdmissionRequest, decision: Decision, latency_seconds: float) -> Record:
    """What is kept of a request: identity and outcome, never the object itself."""
    return {
        "uid": request.uid,
        "time": datetime.now(UTC),
        "operation": request.operation,
        "kind": request.kind,
        "api_group": request.api_group,
        "namespace": request.namespace or None,
        "name": request.name or None,
        "user": request.user,
        "allowed": decision.allowed,
        "dry_run": request.dry_run,
        "denied": list(decision.denied),
        "warned": list(decision.warned),
        "audited": list(decision.audited),
        "waived": list(decision.waived),
        "service": decision.service,
        "reason": decision.message or decision.exempt,
        "latency_ms": round(latency_seconds * 1000, 3),
        "error": decision.error,
    }


class DecisionLog:
    def __init__(self, sink_factory: Callable[[], Sink], size: int,
                 on_drop: Callable[[str, int], None] = lambda reason, n: None,
                 on_written: Callable[[int], None] = lambda n: None):
        self._sink_factory = sink_factory
        self._queue: queue.Queue[Record | None] = queue.Queue(maxsize=size)
        self._on_drop = on_drop
        self._on_written = on_written
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._full_since: float | None = None
        self.dropped = 0
        self.written = 0

    def start(self) -> DecisionLog:
        self._thread.start()
        return self

    def put(self, entry: Record) -> None:
        try:
            self._queue.put_nowait(entry)
            self._full_since = None
        except queue.Full:
            self._drop("queue_full", 1)
            if self._full_since is None:
                self._full_since = time.monotonic()
                log.warning("decision log queue is full (%d); dropping entries until the "
                            "store catches up", self._queue.maxsize)

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued (within the timeout) and stop the writer."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _drop(self, reason: str, count: int) -> None:
        self.dropped += count
        self._on_drop(reason, count)

    def _run(self) -> None:
        sink: Sink | None = None
        failing = False
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                if sink is None:
                    sink = self._sink_factory()
                sink(batch)
            except Exception as exc:  # store down: drop this batch, keep answering
                sink = None
                self._drop("store_unavailable", len(batch))
                if not failing:
                    log.error("decision log: cannot write to the store (%s); dropping "
                              "entries and retrying every %.0fs", exc, RETRY_SECONDS)
                failing = True
                time.sleep(RETRY_SECONDS)
            else:
                if failing:
                    log.info("decision log: store reachable again")
                failing = False
                self.written += len(batch)
                self._on_written(len(batch))
            if stop:
                return
