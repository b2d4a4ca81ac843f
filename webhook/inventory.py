"""Keeping `data.inventory` for referential policies at admission: list, relist, swap.

Gatekeeper keeps its cache with watches. By default a background thread lists the configured
kinds through the cluster source (engine/sources/cluster.py: the official client, paged,
Secrets as metadata only) when the webhook starts, and again every `resync_seconds`. A
full relist is simpler and self-healing (a missed event cannot leave a stale object
behind), at the price of an eventual-consistency window of up to `resync_seconds`, and
`watch: true` (inventory_watch.py) follows changes within about a second instead.

What is trusted follows the cluster source: a list that failed, or that has a problem
with any one kind (forbidden, not served), is not used. An inventory with a hole would
judge wrongly in a way nobody sees (a Deployment "has no PDB" because PDBs were
forbidden), so the last good inventory keeps serving, and before the first good one the
referential policies stay held back (PolicyHolder). Either way the reason is in the log,
in `/readyz` and in the metrics; admission itself never fails over it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..engine.errors import truncate
from ..engine.inventory_config import InventorySettings
from ..engine.k8s import build_inventory
from ..engine.sources.base import Collected
from ..engine.sources.cluster import ClusterSpec, collect_cluster
from .metrics import WebhookMetrics

log = logging.getLogger("pathwarden.webhook")

RETRY_SECONDS = 10.0
"""After a failed list, try again this soon (or at `resync_seconds`, if that is shorter):
a webhook that starts while the API server is briefly unreachable should not wait a whole
resync period to serve its referential policies."""

Collect = Callable[[ClusterSpec], Collected]
Apply = Callable[[dict[str, Any]], object]


@dataclass(frozen=True, slots=True)
class InventoryStatus:
    """What `/readyz` reports about the sync."""

    cluster: str
    synced_at: datetime | None = None
    """The end of the last successful list; None: referential policies are held back."""
    objects: int = 0
    """Objects in the inventory being served (from the last successful list)."""
    last_error: str | None = None
    """Why the last list was not used; None after a success."""
    attempts: int = 0
    """Lists tried so far, successful or not (lets a caller wait for the next one); with
    `watch`, inventories built from the watched kinds, used or not."""

    def as_json(self, resync_seconds: float, watch: bool = False) -> dict[str, Any]:
        return {"cluster": self.cluster,
                "synced_at": self.synced_at.isoformat() if self.synced_at else None,
                "objects": self.objects, "last_error": self.last_error,
                "attempts": self.attempts, "resync_seconds": resync_seconds,
                "mode": "watch" if watch else "relist"}


def cluster_spec(settings: InventorySettings) -> ClusterSpec:
    """The cluster source's description of the synced cluster (validated here: a wrong
    combination is a ConfigError at start, not a failing sync)."""
    return ClusterSpec(name=settings.name, kubeconfig=settings.kubeconfig,
                       context=settings.context, in_cluster=settings.in_cluster,
                       kinds=settings.kinds, namespaces=settings.namespaces,
                       timeout_seconds=settings.timeout_seconds)


class InventorySync:
    """Lists the cluster now and every `resync_seconds`, handing good inventories to
    `apply` (PolicyHolder.set_inventory). `poke()` relists at once (SIGHUP, tests)."""

    def __init__(self, settings: InventorySettings, apply: Apply,
                 metrics: WebhookMetrics | None = None, *,
                 collect: Collect | None = None) -> None:
        self.settings = settings
        self.spec = cluster_spec(settings)
        self._apply = apply
        self._metrics = metrics
        self._collect = collect or collect_cluster
        self._status = InventoryStatus(settings.label)
        self._lock = threading.Lock()  # one list at a time (thread, poke, sync_now)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> InventoryStatus:
        return self._status

    def sync(self) -> bool:
        """One list and, if it is complete, one swap; never raises."""
        with self._lock:
            started = time.perf_counter()
            try:
                ok, error, objects = self._list_and_apply()
            except Exception as exc:  # a bug here must not end the sync thread
                log.exception("inventory sync from cluster %s failed", self.settings.label)
                ok, error, objects = False, f"{type(exc).__name__}: {exc}", 0
            self._record(ok, truncate(error, 1000) if error else None, objects,
                         time.perf_counter() - started)
            return ok

    def _list_and_apply(self) -> tuple[bool, str | None, int]:
        collected = self._collect(self.spec)
        if collected.error:
            return False, collected.error, 0
        if collected.problems:
            listed = "; ".join(p.message for p in collected.problems[:3])
            more = len(collected.problems) - 3
            tail = f" (and {more} more)" if more > 0 else ""
            return False, (f"cluster {self.settings.label}: incomplete list, not used: "
                           f"{listed}{tail}"), 0
        objects = collected.inventory
        self._apply(build_inventory(objects))
        return True, None, len(objects)

    def _record(self, ok: bool, error: str | None, objects: int, seconds: float) -> None:
        before = self._status
        if ok:
            self._status = InventoryStatus(before.cluster, datetime.now(UTC), objects, None,
                                           before.attempts + 1)
            if before.last_error is not None:
                log.info("inventory sync from cluster %s recovered: %d objects",
                         before.cluster, objects)
            elif before.synced_at is None:
                log.info("inventory of cluster %s synced: %d objects; referential "
                         "policies are now evaluated at admission", before.cluster, objects)
        else:
            self._status = InventoryStatus(before.cluster, before.synced_at, before.objects,
                                           error, before.attempts + 1)
            keeping = (f"keeping the inventory of {before.synced_at.isoformat()} "
                       f"({before.objects} objects)" if before.synced_at else
                       "referential policies stay held back")
            # Once per distinct reason: an outage should not flood the log every retry.
            level = logging.WARNING if error != before.last_error else logging.DEBUG
            log.log(level, "inventory sync from cluster %s failed; %s: %s", before.cluster,
                    keeping, error)
        metrics = self._metrics
        if metrics is not None:
            metrics.inventory_syncs.labels("success" if ok else "failure").inc()
            metrics.inventory_sync_seconds.set(seconds)
            if ok:
                metrics.inventory_objects.set(objects)
                metrics.inventory_synced_at.set(time.time())

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="inventory-sync",
                                            daemon=True)
            self._thread.start()

    def poke(self) -> None:
        """Relist now (after the list in progress, if any)."""
        self._wake.set()

    def stop(self) -> None:
        """Ends the loop; a list in progress is not waited for (it ends by its timeout,
        and the thread is a daemon)."""
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        resync = self.settings.resync_seconds
        while not self._stop.is_set():
            ok = self.sync()
            self._wake.wait(resync if ok else min(resync, RETRY_SECONDS))
            self._wake.clear()
