"""Watch, for the loopback Kubernetes API stand-in (kube_api.py mixes `WatchServing` in).

Code that keeps an inventory by list+watch can only be trusted if the stand-in answers a
watch the way kube-apiserver does, so this follows the server, not a client's idea of it:

- every store change is an event at a new, strictly increasing resourceVersion, and a
  watch from resourceVersion R replays the events after R for that resource (and
  namespace, on a namespaced path) before it streams new ones; R absent or "0" starts
  with synthetic ADDED events for what is stored now, as a server does;
- the answer is 200, chunked, one `{"type", "object"}` JSON object a line; event objects
  carry kind and apiVersion (list items do not), or are `PartialObjectMetadata` when the
  Accept header asked for metadata alone;
- a resourceVersion older than the last `compact()` gets one ERROR event holding a 410
  Expired Status, inside a 200 stream, and the stream ends;
- with `allowWatchBookmarks=true` an idle stream gets a BOOKMARK every `bookmark_seconds`;
- `timeoutSeconds` (default 30, at most 60) ends the stream cleanly; `drop_watches()` cuts
  it without the final chunk, as a broken connection would.

Compaction only moves the point older watches are refused at; the events stay in memory,
so a stream already open never misses one (a server's watch cache behaves the same).
A resourceVersion newer than the store waits for events, rather than the "Too large
resource version" answer a real server gives after a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .kube_api import Request, Resource

METADATA_WATCH = "as=PartialObjectMetadata"
"""Matches the singular form a watch asks for and, leniently, the list form too."""

TRUE_WORDS = frozenset({"1", "t", "T", "true", "TRUE", "True"})
"""What the API server's query decoding (Go's strconv.ParseBool) reads as true."""

DEFAULT_WATCH_SECONDS = 30
MAX_WATCH_SECONDS = 60
_POLL_SECONDS = 0.05
"""How long an idle stream sleeps before it looks again for a client that hung up."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    revision: int
    type: str
    key: tuple[str, str, str]
    namespace: str | None
    object: dict[str, Any]


class WatchServing:
    """Mixed into KubeApiStandIn so the store, its lock and the event log stay one thing:
    a list and the events after its resourceVersion are read under the same lock, which
    is what lets a client list, then watch, and neither miss nor repeat an event."""

    requests: list[Request]
    _lock: threading.Lock
    _revision: int
    _objects: dict[tuple[str, str, str], list[dict[str, Any]]]
    _stopping: threading.Event

    def _init_watch(self) -> None:
        self.bookmark_seconds = 1.0
        self._changed = threading.Condition(self._lock)
        self._events: list[WatchEvent] = []
        self._compacted = 0
        self._drops = 0
        self._open: list[WatchStream] = []

    @property
    def watches(self) -> list[Request]:
        """Every watch request received, in order (a client's re-watches show here)."""
        with self._lock:
            return [r for r in self.requests if r.watch]

    def watched(self, plural: str) -> list[Request]:
        """The watch requests for `plural`, in order."""
        return [r for r in self.watches if r.path.rstrip("/").endswith(f"/{plural}")]

    def open_watches(self, plural: str | None = None) -> int:
        """Streams open now (of `plural` only, if given); a client that hung up drops out
        within a poll, not at its timeout."""
        with self._lock:
            return sum(1 for s in self._open if plural in (None, s.resource.plural))

    def wait_for_watches(self, count: int = 1, plural: str | None = None,
                         timeout: float = 5.0) -> bool:
        """Wait until exactly `count` streams are open, so a test changes the store only
        once the client is watching; False if that did not happen within `timeout`."""
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(1 for s in self._open
                            if plural in (None, s.resource.plural)) == count, timeout)

    @property
    def compacted(self) -> int:
        """The resourceVersion the last `compact()` happened at (0: never)."""
        return self._compacted

    def compact(self) -> int:
        """Forget history up to now, as etcd compaction does: watches from an older
        resourceVersion get 410 Expired, and so do continue tokens of older lists."""
        with self._changed:
            self._compacted = self._revision
            return self._compacted

    def drop_watches(self, timeout: float = 5.0) -> int:
        """Cut every open stream without its final chunk, as a broken connection would,
        and wait until they are closed (so a re-watch is not mistaken for an old one).
        Returns how many were cut."""
        with self._changed:
            dropped = list(self._open)
            self._drops += 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: not any(s in self._open for s in dropped), timeout)
        return len(dropped)

    def delete(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """Remove a stored object (`namespace` defaults to "default" for a namespaced
        kind, as in add) and return its last state; watchers get it, at the new
        resourceVersion, in a DELETED event. KeyError if it is not stored."""
        from .kube_api import RESOURCES  # here, not at the top: kube_api imports this module

        resource = next((r for r in RESOURCES.values() if r.kind == kind), None)
        if resource is None:
            raise ValueError(f"the stand-in does not serve kind {kind}")
        namespace = (namespace or "default") if resource.namespaced else None
        with self._lock:
            rows = self._objects.get((resource.group, resource.version, resource.plural), [])
            old = find(rows, name, namespace)
            if old is None:
                raise KeyError(f"{kind} {namespace}/{name} is not stored")
            rows.remove(old)  # never mutated in place: list snapshots may still hold it
            self._revision += 1
            gone = json.loads(json.dumps(old))
            gone["metadata"]["resourceVersion"] = str(self._revision)
            self._log("DELETED", resource, gone)
        return gone

    def _wake_watches(self) -> None:
        """Called by stop(): streams notice `_stopping` at once instead of at a poll."""
        with self._changed:
            self._changed.notify_all()

    def _log(self, type_: str, resource: Resource, stored: dict[str, Any]) -> None:
        """Record a change at the current revision; the caller holds the lock and has
        just bumped `_revision`."""
        self._events.append(WatchEvent(
            self._revision, type_, (resource.group, resource.version, resource.plural),
            stored["metadata"].get("namespace"), json.loads(json.dumps(stored))))
        self._changed.notify_all()

    def _watch(self, request: Request, resource: Resource, namespace: str | None,
               metadata_only: bool) -> tuple[int, dict[str, Any] | WatchStream]:
        since_text = request.query.get("resourceVersion") or ""
        try:
            seconds = int(request.query.get("timeoutSeconds") or 0)
            since = int(since_text) if since_text not in ("", "0") else None
        except ValueError:
            return 400, status(400, "BadRequest", f"invalid resource version or timeout: "
                               f"{since_text!r}, {request.query.get('timeoutSeconds')!r}")
        if seconds <= 0:  # the server's own default applies, as for an absent one
            seconds = DEFAULT_WATCH_SECONDS
        initial: list[dict[str, Any]] = []
        with self._lock:
            if since is None:
                since = self._revision
                initial = [o for o in self._objects.get(
                               (resource.group, resource.version, resource.plural), [])
                           if namespace is None or o["metadata"].get("namespace") == namespace]
        return 200, WatchStream(
            self, resource, namespace, since, initial, min(seconds, MAX_WATCH_SECONDS),
            request.query.get("allowWatchBookmarks") in TRUE_WORDS, metadata_only)


class WatchStream:
    """One watch being answered; it runs on the handler's thread until it ends."""

    def __init__(self, owner: WatchServing, resource: Resource, namespace: str | None,
                 since: int, initial: list[dict[str, Any]], seconds: float,
                 bookmarks: bool, metadata_only: bool) -> None:
        self.owner = owner
        self.resource = resource
        self.namespace = namespace
        self.since = since
        self.initial = initial
        self.seconds = seconds
        self.bookmarks = bookmarks
        self.metadata_only = metadata_only

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Send the headers at once (a client's call returns on them, before any event),
        then events until the stream ends one of its four ways."""
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
        except OSError:
            handler.close_connection = True
            return
        owner = self.owner
        with owner._changed:
            owner._open.append(self)
            drops = owner._drops
            owner._changed.notify_all()
        try:
            try:
                ending = self._stream(handler, drops)
            except OSError:  # the client hung up while an event was being written
                ending = "gone"
            _finish(handler, ending)
        finally:
            with owner._changed:
                owner._open.remove(self)
                owner._changed.notify_all()

    def _stream(self, handler: BaseHTTPRequestHandler, drops: int) -> str:
        owner = self.owner
        deadline = time.monotonic() + self.seconds
        with owner._lock:
            compacted = owner._compacted
        if self.since < compacted:
            _send(handler, [{"type": "ERROR", "object": status(
                410, "Expired", f"too old resource version: {self.since} ({compacted})")}])
            return "end"
        lines = [{"type": "ADDED", "object": self._shape(o)} for o in self.initial]
        position, last_sent = self.since, time.monotonic()
        while True:
            if lines:
                _send(handler, lines)
                last_sent = time.monotonic()
            with owner._changed:
                lines, position, ending = self._pull(position, drops, deadline, last_sent)
                if not lines and ending is None:
                    owner._changed.wait(_POLL_SECONDS)
            if ending:
                return ending
            if not lines and _client_gone(handler.connection):
                return "gone"

    def _pull(self, position: int, drops: int, deadline: float, last_sent: float
              ) -> tuple[list[dict[str, Any]], int, str | None]:
        """What to send next, the revision it brings the stream to, and why the stream
        ends, if it does; the caller holds the lock."""
        owner = self.owner
        if owner._drops != drops:
            return [], position, "dropped"
        if owner._stopping.is_set():
            return [], position, "stopped"
        key = (self.resource.group, self.resource.version, self.resource.plural)
        fresh = [e for e in owner._events if e.revision > position and e.key == key
                 and self.namespace in (None, e.namespace)]
        if fresh:
            return ([{"type": e.type, "object": self._shape(e.object)} for e in fresh],
                    fresh[-1].revision, None)
        now = time.monotonic()
        if now >= deadline:
            return [], position, "end"
        if self.bookmarks and now - last_sent >= owner.bookmark_seconds:
            kind, api_version = (("PartialObjectMetadata", "meta.k8s.io/v1")
                                 if self.metadata_only
                                 else (self.resource.kind, self.resource.api_version))
            return [{"type": "BOOKMARK", "object": {
                "kind": kind, "apiVersion": api_version,
                "metadata": {"resourceVersion": str(owner._revision)}}}], owner._revision, None
        return [], position, None

    def _shape(self, stored: dict[str, Any]) -> dict[str, Any]:
        if self.metadata_only:
            return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": stored["metadata"]}
        return stored


def find(rows: list[dict[str, Any]], name: str, namespace: str | None
         ) -> dict[str, Any] | None:
    """The stored object with that name and namespace: the identity add and delete use."""
    return next((o for o in rows if o["metadata"]["name"] == name
                 and o["metadata"].get("namespace") == namespace), None)


def wants_metadata(accept: str) -> bool:
    """A watch asks for `as=PartialObjectMetadata`; the list form is taken as the same."""
    return METADATA_WATCH in accept


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A `Status` object, the shape every API server error (and a watch ERROR) takes."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _send(handler: BaseHTTPRequestHandler, events: list[dict[str, Any]]) -> None:
    """One chunk per event, as the API server flushes each one, so a client's line reader
    sees it at once."""
    out = bytearray()
    for event in events:
        data = json.dumps(event).encode() + b"\n"
        out += b"%x\r\n%b\r\n" % (len(data), data)
    handler.wfile.write(bytes(out))


def _finish(handler: BaseHTTPRequestHandler, ending: str) -> None:
    """A timeout or an Expired error ends the body cleanly and keeps the connection; a
    stop ends it and closes; a drop closes the socket mid-body, which a client reads as
    a broken connection (urllib3's ProtocolError)."""
    if ending in ("end", "stopped"):
        try:
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            ending = "gone"
    if ending != "end":
        handler.close_connection = True
    if ending == "dropped":
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)


def _client_gone(conn: socket.socket) -> bool:
    """A client sends nothing while it watches, so anything readable is its hang-up (EOF,
    or a TLS close_notify); without this check an idle stream would count as open until
    its timeout."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        if isinstance(conn, ssl.SSLSocket):
            return True
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
