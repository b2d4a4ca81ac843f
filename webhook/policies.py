"""The policy set the webhook serves, and its hot reload.

A new set is compiled beside the serving one and swapped in with one assignment, so a
request sees either the old set or the new one, never half of each. A set that fails to
load is logged and counted, and the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..engine.errors import ConfigError, PolicyLoadError
from ..engine.policyset import PolicySet
from ..engine.settings import WebhookSettings
from .scope import Scope, resolve_scope

log = logging.getLogger("pathwarden.webhook")


@dataclass(frozen=True, slots=True)
class LoadedPolicies:
    policy_set: PolicySet
    scope: Scope
    generation: int


Loader = Callable[[], PolicySet]


class PolicyHolder:
    """Holds the serving set; `reload()` builds a new one and swaps it in if it loads."""

    def __init__(self, loader: Loader, settings: WebhookSettings,
                 on_reload: Callable[[bool], None] = lambda ok: None):
        self._loader = loader
        self._settings = settings
        self._on_reload = on_reload
        self._lock = threading.Lock()  # one reload at a time; readers never wait
        self.last_error: str | None = None
        self.current = self._build(loader(), 1)

    def _build(self, policy_set: PolicySet, generation: int) -> LoadedPolicies:
        return LoadedPolicies(policy_set, resolve_scope(policy_set.policies, self._settings),
                              generation)

    def reload(self) -> bool:
        with self._lock:
            try:
                policy_set = self._loader()
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
            self.current = self._build(policy_set, self.current.generation + 1)
            self.last_error = None
            log.info("policy set generation %d loaded: %d policies",
                     self.current.generation, len(policy_set))
            self._on_reload(True)
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
        self._stop = threading.Event()
        self._forced = False
        self._retry = retry_on_failure
        self._seen = fingerprint(paths)

    def poke(self) -> None:
        self._forced = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
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
