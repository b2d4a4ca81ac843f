"""`webhook.inventory.watch: true`: list once, then follow the cluster's changes.

Each configured kind (per namespace, when `namespaces` is set) gets a thread that lists it,
then watches from the list's resourceVersion, applying ADDED / MODIFIED / DELETED to its
own objects and following BOOKMARKs. A watch that ends (the server's `timeoutSeconds`)
is opened again from the last resourceVersion; one whose resourceVersion is gone (410)
or that broke lists its kind again; and every `resync_seconds` each kind is listed from
scratch anyway, as a safety net against an event nobody saw.

Changes are gathered for `APPLY_SECONDS` and then swapped in as one inventory, because a
swap recompiles the bundle of referential Rego policies (seconds on large inventories)
and a rollout changes dozens of objects at once. What is trusted follows the relisting
sync (inventory.py): while any kind has not been listed, or its last list or watch
failed, the last good inventory keeps serving and the reason is in `/readyz`, the log
and the metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kubernetes.client import ApiClient

from ..engine.errors import truncate
from ..engine.k8s import build_inventory
from ..engine.sources.cluster import (
    ClusterFailed,
    KindFailed,
    Lister,
    in_scope,
    open_client,
    scopes,
)
from ..engine.sources.cluster_watch import Broken, Expired, WatchStream
from ..engine.sources.kube_kinds import KindInfo
from .inventory import RETRY_SECONDS, InventorySync

log = logging.getLogger("pathwarden.webhook")

APPLY_SECONDS = 0.5
"""How long changes are gathered before one swap."""
REWATCHES = 3
"""A broken stream is watched again from where it was this many times in a row (after
0.1, 0.2, 0.4 s) before it counts as a failure and the kind is listed again."""
WATCH_SECONDS = 300
"""The longest one watch request asks to stay open (`timeoutSeconds`); shorter when the
next relist is due sooner."""


class ScopeWatch:
    """One kind in one namespace (or all): its objects, kept by list and watch."""

    def __init__(self, owner: InventoryWatch, lister: Lister, info: KindInfo,
                 namespace: str | None) -> None:
        self.owner, self.lister, self.info, self.namespace = owner, lister, info, namespace
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.listed = False
        self.error: str | None = None
        self.version = ""
        """The resourceVersion the next watch starts from; empty: list first."""
        self._relist = threading.Event()
        self._wake = threading.Event()
        """Ends a pause early: a relist asked for, or the webhook stopping."""
        self._stream: WatchStream | None = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"inventory-watch-{info.plural}")

    @property
    def label(self) -> str:
        return f"{self.info}" + (f" in namespace {self.namespace}" if self.namespace else "")

    def start(self) -> None:
        self._thread.start()

    def relist(self) -> None:
        """List again now (poke, SIGHUP): the open watch or the pause after a failure is
        cut short to get there."""
        self._relist.set()
        self.interrupt()

    def interrupt(self) -> None:
        self._wake.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def _run(self) -> None:
        stopping = self.owner.stopping
        listed_at = 0.0
        broken = 0
        while not stopping.is_set():
            try:
                due = listed_at + self.owner.settings.resync_seconds
                if not self.version or self._relist.is_set() or time.monotonic() >= due:
                    self._relist.clear()
                    self.version = self._list()
                    listed_at = time.monotonic()
                    continue
                self._watch(due)
                broken = 0
            except Broken as exc:
                broken += 1
                if broken > REWATCHES:
                    self._failed(str(exc))
                    self.version, broken = "", 0
                    self._pause(RETRY_SECONDS)
                else:  # from the last resourceVersion seen: nothing is missed
                    self._pause(0.05 * 2 ** broken)
            except Expired:
                self.version = ""  # the resourceVersion is gone: list again at once
            except (KindFailed, ClusterFailed) as exc:
                self._failed(str(exc))
                self.version = ""
                self._pause(RETRY_SECONDS)
            except Exception as exc:  # a bug here must not end the thread
                log.exception("inventory watch of %s failed", self.label)
                self._failed(f"{type(exc).__name__}: {exc}")
                self.version = ""
                self._pause(RETRY_SECONDS)

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _list(self) -> str:
        found, version = self.lister.versioned(self.info, self.namespace)
        objects = {_key(o): o for o in found}
        with self.owner.lock:
            changed = objects != self.objects or not self.listed or self.error is not None
            self.objects, self.listed, self.error = objects, True, None
        if changed:
            self.owner.changed()
        return version

    def _watch(self, due: float) -> None:
        """One watch request from `self.version`, which follows every event (a stream that
        breaks half way resumes from the last one it delivered)."""
        seconds = max(1, min(WATCH_SECONDS, int(due - time.monotonic()) + 1))
        stream = WatchStream(self.lister.api, self.info, self.namespace, self.version,
                             seconds, self.owner.settings.timeout_seconds)
        self._stream = stream
        try:
            if self.owner.stopping.is_set() or self._relist.is_set():
                return
            for event in stream:
                self.version = event.version or self.version
                if event.object is None or not in_scope(self.lister.spec, self.info,
                                                         event.object):
                    continue
                with self.owner.lock:
                    if event.type == "DELETED":
                        self.objects.pop(_key(event.object), None)
                    else:
                        self.objects[_key(event.object)] = event.object
                self.owner.changed()
        finally:
            self._stream = None
            stream.close()

    def _failed(self, error: str) -> None:
        with self.owner.lock:
            first = self.error != error
            self.error = error
        if first:
            log.warning("inventory watch of %s in cluster %s: %s", self.label,
                        self.owner.settings.label, error)
        self.owner.changed()


class InventoryWatch(InventorySync):
    """InventorySync's interface (status, start, poke, stop) over list + watch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.stopping = self._stop
        self._changed = threading.Event()
        self._scopes: list[ScopeWatch] = []
        self._api: ApiClient | None = None

    def changed(self) -> None:
        self._changed.set()

    def poke(self) -> None:
        for scope in self._scopes:
            scope.relist()

    def stop(self) -> None:
        """Ends every watch; the client's connections are closed, since a configuration
        reload replaces a stopped sync with a new one in the same process."""
        super().stop()
        self._changed.set()
        for scope in self._scopes:
            scope.interrupt()
        if self._api is not None:
            self._api.close()

    def _run(self) -> None:
        while not self._stop.is_set() and not self._scopes:
            try:
                self._open()
            except Exception as exc:  # the kubeconfig or client cannot be used: retry
                self._record(False, truncate(f"cluster {self.settings.label}: {exc}", 1000),
                             0, 0.0)
                self._stop.wait(RETRY_SECONDS)
        while not self._stop.is_set():
            self._changed.wait()
            self._stop.wait(APPLY_SECONDS)  # gather the rest of a burst of changes
            self._changed.clear()
            if not self._stop.is_set():
                self._apply_current()

    def _open(self) -> None:
        watched = scopes(self.spec)
        # One connection per open watch, and a few for the lists beside them.
        self._api, label = open_client(self.spec, connections=len(watched) + 4)
        lister = Lister(self._api, self.spec, f"cluster:{label}")
        self._scopes = [ScopeWatch(self, lister, info, namespace)
                        for info, namespace in watched]
        for scope in self._scopes:
            scope.start()

    def _apply_current(self) -> None:
        started = time.perf_counter()
        with self.lock:
            errors = [f"{s.label}: {s.error}" for s in self._scopes if s.error]
            waiting = [s for s in self._scopes if not s.listed]
            objects = [o for s in self._scopes for o in s.objects.values()]
        if errors:
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            self._record(False, truncate(f"cluster {self.settings.label}: not used: "
                                         f"{'; '.join(errors[:3])}{more}", 1000), 0,
                         time.perf_counter() - started)
            return
        if waiting:
            return  # the first lists are still running; their end sets `changed` again
        try:
            self._apply(build_inventory(objects))
        except Exception as exc:
            log.exception("inventory of cluster %s could not be applied", self.settings.label)
            self._record(False, f"{type(exc).__name__}: {exc}", 0,
                         time.perf_counter() - started)
            return
        self._record(True, None, len(objects), time.perf_counter() - started)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")
