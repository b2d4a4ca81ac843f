"""The policy set the webhook serves, its hot reload, and the inventory it judges with.

A new set is compiled beside the serving one and swapped in with one assignment, so a
request sees either the old set or the new one, never half of each. A set that fails to
load is logged and counted, and the old one keeps serving.

Referential policies (`inventory: true`) are served only while an inventory of the
cluster is held: against an empty one they would judge every object wrongly (every
replicated workload "has no PodDisruptionBudget", no namespace matches a
`namespaceSelector`). The inventory comes from the sync thread (webhook/inventory.py);
each new one, and each reloaded policy set, is combined with the other and swapped in the
same way, so a reload never drops the inventory and a resync never drops a reload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.errors import ConfigError, PolicyLoadError
from ..engine.policyset import PolicySet
from ..engine.settings import WebhookSettings
from .scope import Scope, resolve_scope

log = logging.getLogger("pathwarden.webhook")

Inventory = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoadedPolicies:
    policy_set: PolicySet
    """What admission evaluates: with the inventory, or without the referential policies."""
    scope: Scope
    generation: int
    held_back: tuple[str, ...] = ()
    """Referential policies loaded but not served, for want of an inventory."""
    settings: WebhookSettings = field(default_factory=WebhookSettings)
    """The `webhook:` settings this set is served with (exemptions, deadline, failure
    mode; the scope above is resolved from them). Held here so that a request reading
    `current` once sees one configuration, never half of a reloaded one."""


Loader = Callable[[], PolicySet]


class PolicyHolder:
    """Holds the serving set; `reload()` builds a new one and swaps it in if it loads, and
    `set_inventory()` swaps in the same policies judged against a new inventory."""

    def __init__(self, loader: Loader, settings: WebhookSettings,
                 on_reload: Callable[[bool], None] = lambda ok: None):
        self._loader = loader
        self._settings = settings
        self._on_reload = on_reload
        self._lock = threading.Lock()  # one swap at a time; readers never wait
        self.last_error: str | None = None
        self._inventory: Inventory | None = None
        self._loaded = loader()
        """Every policy the loader gave, referential ones included."""
        self.current = self._build(self._loaded, 1)

    def _build(self, policy_set: PolicySet, generation: int) -> LoadedPolicies:
        held_back: tuple[str, ...] = ()
        if self._inventory is None:
            held_back = tuple(p.id for p in policy_set.policies if p.inventory)
            serving = policy_set.only(frozenset(p.id for p in policy_set.policies
                                                if not p.inventory))
        else:
            # Rego: a new bundle with data.inventory compiled in; Python rules read it
            # from the set. Policies that do not read the inventory are unaffected.
            serving = policy_set.with_inventory(self._inventory)
        return LoadedPolicies(serving, resolve_scope(serving.policies, self._settings),
                              generation, held_back, self._settings)

    @property
    def inventory(self) -> Inventory | None:
        return self._inventory

    def reload(self) -> bool:
        with self._lock:
            try:
                policy_set = self._loader()
                loaded = self._build(policy_set, self.current.generation + 1)
            except (PolicyLoadError, ConfigError) as exc:
                self.last_error = str(exc)
                log.error("policy reload rejected; still serving generation %d:\n%s",
                          self.current.generation, exc)
                self._on_reload(False)
                return False
            except Exception as exc:  # a loader bug must not take the webhook down
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("policy reload failed; still serving generation %d",
                              self.current.generation)
                self._on_reload(False)
                return False
            self._loaded, self.current = policy_set, loaded
            self.last_error = None
            log.info("policy set generation %d loaded: %d policies",
                     self.current.generation, len(policy_set))
            self._on_reload(True)
            return True

    def set_settings(self, settings: WebhookSettings) -> None:
        """Serve the same policies with reloaded `webhook:` settings (configuration hot
        reload): only the scope is resolved again, nothing is recompiled, and the
        generation stays (it counts policy reloads)."""
        with self._lock:
            self._settings = settings
            current = self.current
            self.current = LoadedPolicies(
                current.policy_set, resolve_scope(current.policy_set.policies, settings),
                current.generation, current.held_back, settings)

    def set_inventory(self, inventory: Inventory) -> bool:
        """Serve the loaded policies against `inventory`; False when nothing changed.

        An unchanged inventory is not swapped in: for referential Rego policies a swap
        compiles a new bundle, which a relist that found nothing new should not cost. The
        generation stays: it counts policy reloads, not resyncs. Raises when the set
        cannot be built with it (the caller keeps the last good one)."""
        with self._lock:
            if inventory == self._inventory:
                return False
            previous = self._inventory
            self._inventory = inventory
            try:
                self.current = self._build(self._loaded, self.current.generation)
            except BaseException:
                self._inventory = previous
                raise
            return True


def fingerprint(paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of every file below the paths: cheap to poll, and any edit,
    add, delete or rename (including a ConfigMap's symlink swap) changes it."""
    entries = []
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if "__pycache__" in path.parts:
                continue  # written by importing the policies themselves
            try:
                stat = path.stat()
            except OSError:
                continue
            if path.is_file():
                entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class Watcher(threading.Thread):
    """Polls files and calls back on change; `poke()` (SIGHUP) forces a callback now.

    Polling, not inotify: Kubernetes updates mounted ConfigMaps and Secrets by swapping a
    symlink, which inotify watches on the files miss, and a poll every few seconds costs
    nothing next to admission traffic."""

    def __init__(self, paths: list[Path], interval: float, callback: Callable[[], bool],
                 name: str, *, retry_on_failure: bool = False):
        super().__init__(name=name, daemon=True)
        self._paths = paths
        self._interval = interval
        self._callback = callback
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._forced = False
        self._retry = retry_on_failure
        self._seen = fingerprint(paths)

    def set_paths(self, paths: list[Path]) -> None:
        """Watch other paths from now on (a reloaded configuration names other
        directories); the caller reloads for the change itself."""
        self._paths = paths
        self._seen = fingerprint(paths)

    def poke(self) -> None:
        self._forced = True
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stopping.is_set():
                return
            current = fingerprint(self._paths)
            if current != self._seen or self._forced:
                self._seen, self._forced = current, False
                try:
                    ok = self._callback()
                except Exception:  # keep watching whatever one callback did
                    log.exception("%s: reload callback failed", self.name)
                    ok = False
                if not ok and self._retry:
                    self._seen = ()  # e.g. a certificate caught half-rotated: try again
