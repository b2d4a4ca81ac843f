"""Watching one kind of a cluster: the events after a list, as the API server streams them.

A list gives the objects and the resourceVersion they were read at; a watch from that
resourceVersion streams every change after it (ADDED, MODIFIED, DELETED), BOOKMARKs that
only move the resourceVersion on, and ends when its `timeoutSeconds` is up, after which
the caller watches again from the last resourceVersion it saw. If the server no longer
has that resourceVersion (etcd compacted it), the watch answers one ERROR event with a
410 Status: the caller must list again. That is the informer's protocol; the official
client's `watch.Watch` implements it for the typed APIs, this does it on the cluster
source's raw paths (engine/sources/kube_kinds.py) through the same `ApiClient`.

Secrets are watched as `PartialObjectMetadata` and every event object goes through the
same cleaning as a listed one, so a server that sends values anyway is still stripped
before anything else sees the object.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from .cluster import (
    ClusterFailed,
    KindFailed,
    check_status,
    clean,
    secret_metadata,
    transport_reason,
)
from .kube_kinds import KindInfo

METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
"""A watch's objects come one by one, so metadata-only is the singular media type."""


class Expired(Exception):
    """The resourceVersion watched from is gone (410): list again."""


class Broken(Exception):
    """The stream broke after it had started (a connection cut, a proxy's idle timeout):
    watching again from the last resourceVersion usually just works."""


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    """ADDED, MODIFIED, DELETED or BOOKMARK."""
    version: str
    """The resourceVersion after this event: where the next watch starts."""
    object: dict[str, Any] | None = None
    """The object, cleaned like a listed one; None for a BOOKMARK."""


class WatchStream:
    """One watch request; iterate it for events, `close()` it from another thread to end
    it early (a relist, or the webhook stopping)."""

    def __init__(self, api: ApiClient, info: KindInfo, namespace: str | None,
                 version: str, timeout_seconds: int, connect_timeout: float) -> None:
        self.info = info
        accept = METADATA_WATCH if info.kind == "Secret" else "application/json"
        query: list[tuple[str, Any]] = [
            ("watch", "1"), ("resourceVersion", version), ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout_seconds)]
        request = api.param_serialize(
            "GET", info.list_path(namespace), query_params=query,
            header_params={"Accept": accept}, auth_settings=["BearerToken"])
        # The read timeout outlasts the server's own end of the watch (timeoutSeconds),
        # so a silent, dead connection is noticed without cutting a live one short.
        timeout = (connect_timeout, timeout_seconds + connect_timeout)
        try:
            response = api.call_api(*request, _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as exc:
            raise ClusterFailed(transport_reason(exc, connect_timeout)) from None
        status = int(response.status)
        if status == 410:
            raise Expired
        check_status(status, response.read, "watch ")
        self._response = response.response  # urllib3's, unread: the body is a stream
        self._closed = False

    def __iter__(self) -> Iterator[Event]:
        try:
            for line in iter_resp_lines(self._response):
                if line:
                    yield self._event(line)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            # A stream cut by close() ends quietly; one the network cut is the caller's
            # to retry from the last resourceVersion.
            if not self._closed:
                raise Broken(f"the watch broke: {type(exc).__name__}: {exc}") from None
        finally:
            if self._closed:
                self._response.close()
            else:  # a stream the server ended cleanly leaves a reusable connection
                self._response.release_conn()

    def close(self) -> None:
        """Ends the stream now: the socket is shut down, which wakes a thread blocked
        reading it (closing alone does not, on Linux)."""
        self._closed = True
        connection = getattr(self._response, "connection", None)
        sock = getattr(connection, "sock", None)
        with contextlib.suppress(OSError):
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):  # a half-read response may complain
            self._response.close()

    def _event(self, line: str) -> Event:
        try:
            event = json.loads(line)
            kind, obj = event["type"], event["object"]
        except (ValueError, KeyError, TypeError):
            raise KindFailed(200, f"watch of {self.info}: not a watch event: "
                             f"{line[:200]}") from None
        if not isinstance(obj, dict):
            raise KindFailed(200, f"watch of {self.info}: an event without an object")
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Expired
            raise KindFailed(int(obj.get("code") or 500),
                             f"watch of {self.info}: {obj.get('message') or 'error event'}")
        if kind == "BOOKMARK":
            return Event(kind, version)
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            raise KindFailed(200, f"watch of {self.info}: unknown event type {kind!r}")
        if self.info.kind == "Secret":  # before anything else sees it
            obj = secret_metadata(obj)
        return Event(kind, version, clean(obj, self.info))
