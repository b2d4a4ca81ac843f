"""A loopback stand-in for a Kubernetes API server; there is no cluster on this machine.

It serves, on 127.0.0.1 and an ephemeral port from a background thread, over HTTP or HTTPS
(a throwaway CA, a server certificate for 127.0.0.1, optional client certificates), the
list and watch part of the Kubernetes API with the real shapes:

    GET /version, /api, /apis                  minimal discovery (the cluster source does
                                               not need it; it is here for realism)
    GET /api/v1/<resource>                     {"kind": "<Kind>List", "apiVersion", "metadata":
    GET /api/v1/namespaces/<ns>/<resource>      {"resourceVersion", "continue",
    GET /apis/<group>/<version>/<resource>      "remainingItemCount"}, "items": [...]}; items
    GET /apis/<g>/<v>/namespaces/<ns>/<res>     carry no kind/apiVersion, as from a server

Paging honours `limit` and answers opaque `continue` tokens; the pages after the first
are the snapshot the first was read at, with its resourceVersion, as on a server.
`Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1` gets a
`PartialObjectMetadataList` whose items are `{"kind": "PartialObjectMetadata",
"apiVersion": "meta.k8s.io/v1", "metadata"}`; an Accept it cannot serve gets 406. Errors
are `Status` objects with the API server's reasons (Unauthorized, Forbidden, NotFound,
Expired, NotAcceptable). Every stored object gets a uid, resourceVersion,
creationTimestamp and managedFields, as a server adds them.

The same paths with `watch=1|true` stream events (kube_watch.py: resourceVersion,
allowWatchBookmarks, timeoutSeconds, metadata-only Secrets, 410 after `compact()`).
`add()` of an object already stored (kind, namespace, name) replaces it, keeping its uid:
a MODIFIED event; `delete(kind, name, namespace)` removes one: a DELETED event. Every
change takes the next resourceVersion, and a list's resourceVersion is the one it was
read at, so a client can list, then watch from there, and miss or repeat nothing.

Knobs for tests: `token` (401 unless `Authorization: Bearer <token>` or a client
certificate signed by the stand-in's CA), `fail[resource] = code` (403, 404, 500, ...;
`fail["<namespace>/<resource>"]` for one namespace's list only),
`expire_continue[resource] = n` (the next n requests with a continue token get 410
Expired), `delay[resource] = seconds` (slow answers, for timeouts), and
`ignore_metadata_accept` (misbehave: send full objects, Secret data included, whatever the
Accept header asked for; watches too). `requests` logs every request (path, query, Accept,
auth); `listed(plural)` the lists, `watches` / `watched(plural)` the watches. Watch knobs:
`bookmark_seconds` (1.0), `compact()`, `drop_watches()` (cut every stream as a broken
connection would), `open_watches(plural=None)` and `wait_for_watches(count, plural)`.

Not served: get/create/update/patch/delete of single objects over HTTP, field and label
selectors, `sendInitialEvents` / `resourceVersionMatch`, protobuf, and any group not in
`RESOURCES` (those answer 404, like a cluster without the CRD).
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from .kube_tls import Tls
from .kube_watch import TRUE_WORDS, WatchServing, WatchStream, find, wants_metadata
from .kube_watch import status as _status

METADATA_ACCEPT = "as=PartialObjectMetadataList"

# (group, version) -> "Kind resource" pairs the stand-in serves; "*" marks cluster scope.
# Kept apart from engine/sources/kube_kinds.py on purpose: a wrong row there must not be
# agreed with here.
_SERVED = {
    ("", "v1"): "Pod pods Service services Namespace* namespaces ConfigMap configmaps "
                "Secret secrets ServiceAccount serviceaccounts PersistentVolumeClaim "
                "persistentvolumeclaims",
    ("apps", "v1"): "Deployment deployments StatefulSet statefulsets DaemonSet daemonsets "
                    "ReplicaSet replicasets",
    ("batch", "v1"): "Job jobs CronJob cronjobs",
    ("networking.k8s.io", "v1"): "Ingress ingresses NetworkPolicy networkpolicies",
    ("policy", "v1"): "PodDisruptionBudget poddisruptionbudgets",
    ("autoscaling", "v2"): "HorizontalPodAutoscaler horizontalpodautoscalers",
    ("rbac.authorization.k8s.io", "v1"): "Role roles RoleBinding rolebindings "
                                         "ClusterRole* clusterroles "
                                         "ClusterRoleBinding* clusterrolebindings",
}


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RESOURCES: dict[tuple[str, str, str], Resource] = {}
for (_group, _version), _text in _SERVED.items():
    _words = _text.split()
    for _kind, _plural in zip(_words[::2], _words[1::2], strict=True):
        RESOURCES[_group, _version, _plural] = Resource(
            _group, _version, _plural, _kind.rstrip("*"), not _kind.endswith("*"))


@dataclass(slots=True)
class Request:
    path: str
    query: dict[str, str]
    accept: str
    authorization: str | None
    client_cert: bool

    @property
    def watch(self) -> bool:
        return self.query.get("watch") in TRUE_WORDS

    @property
    def metadata_only(self) -> bool:
        """True when the client asked for metadata (the list form for a list, either form
        for a watch) and accepts nothing else."""
        kinds = [part.strip() for part in self.accept.split(",") if part.strip()]
        wanted = wants_metadata if self.watch else (lambda part: METADATA_ACCEPT in part)
        return bool(kinds) and all(wanted(part) for part in kinds)


class KubeApiStandIn(WatchServing):
    def __init__(self, token: str | None = "stand-in-token", *, tls: bool = False):
        self.token = token
        self.fail: dict[str, int] = {}
        self.expire_continue: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.ignore_metadata_accept = False
        self.requests: list[Request] = []
        self.tls = Tls.create() if tls else None
        self._objects: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._revision = 1000
        self._pages: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._init_watch()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.standin = self  # type: ignore[attr-defined]
        self._httpd.handle_error = lambda *_: None  # type: ignore[method-assign]
        if self.tls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.tls.server_cert, self.tls.server_key)
            ctx.load_verify_locations(cadata=self.tls.ca_pem.decode())
            ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificates authenticate, if sent
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> KubeApiStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port; slow answers still pending are cut short and
        open watch streams end."""
        if not self._stopped:
            self._stopped = True
            self._stopping.set()
            self._wake_watches()
            self._httpd.shutdown()
            self._httpd.server_close()
            if self.tls:
                shutil.rmtree(self.tls.dir, ignore_errors=True)

    def add(self, *objects: dict[str, Any]) -> None:
        """Store objects as a server would: with uid, resourceVersion and managedFields.
        One already stored under its kind, namespace and name is replaced and keeps its
        uid, as an apply would; watchers see ADDED or MODIFIED."""
        with self._lock:
            for obj in objects:
                resource = _resource_of(obj)
                self._revision += 1
                stored = json.loads(json.dumps(obj))
                meta = stored.setdefault("metadata", {})
                if not resource.namespaced:
                    meta.pop("namespace", None)
                elif not meta.get("namespace"):
                    meta["namespace"] = "default"
                rows = self._objects.setdefault(
                    (resource.group, resource.version, resource.plural), [])
                old = find(rows, meta["name"], meta.get("namespace"))
                if old is not None:  # never mutated: list snapshots may still hold it
                    rows.remove(old)
                    meta["uid"] = old["metadata"]["uid"]
                    meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", "2024-05-01T10:00:00Z")
                meta["resourceVersion"] = str(self._revision)
                meta["managedFields"] = [{
                    "manager": "kubectl-client-side-apply", "operation": "Update",
                    "apiVersion": stored["apiVersion"], "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {}}}}]
                rows.append(stored)
                rows.sort(key=lambda o: (o["metadata"].get("namespace", ""),
                                         o["metadata"]["name"]))
                self._log("ADDED" if old is None else "MODIFIED", resource, stored)

    def listed(self, plural: str) -> list[Request]:
        """The requests that listed `plural`, in order (watches are in `watched`)."""
        return [r for r in self.requests
                if r.path.rstrip("/").endswith(f"/{plural}") and not r.watch]

    def context(self, name: str, *, token: str | None = None, user: str | None = None,
                ca_pem: bytes | None = None) -> KubeContext:
        """A kubeconfig context that reaches this stand-in: its token by default, or a
        client certificate for `user` (TLS only), or another token."""
        client_cert = self.tls.issue(user) if (user and self.tls) else None
        return KubeContext(
            name, self.url,
            token=token if token is not None else (None if client_cert else self.token),
            ca_pem=ca_pem or (self.tls.ca_pem if self.tls else None),
            client_cert=client_cert)

    def answer(self, request: Request) -> tuple[int, dict[str, Any] | WatchStream]:
        with self._lock:
            self.requests.append(request)
        parts = [p for p in request.path.split("/") if p]
        if not self._authenticated(request):
            return 401, _status(401, "Unauthorized", "Unauthorized")
        if parts == ["version"]:
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-standin"}
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if parts == ["apis"]:
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}]}
                for g, v in _SERVED if g]}
        route = _route(parts)
        if route is None:
            return 404, _status(404, "NotFound", "the server could not find the requested "
                                "resource")
        resource, namespace = route
        if self._stopping.wait(self.delay.get(resource.plural, 0)):
            return 503, _status(503, "ServiceUnavailable", "stand-in stopping")
        code = self.fail.get(f"{namespace}/{resource.plural}") or self.fail.get(resource.plural)
        if code:
            return code, _failure(code, resource, namespace,
                                  "watch" if request.watch else "list")
        if request.watch:
            metadata = wants_metadata(request.accept) and not self.ignore_metadata_accept
            if not metadata and not _accepts_json(request.accept):
                return 406, _not_acceptable(request.accept)
            return self._watch(request, resource, namespace, metadata)
        return self._list(request, resource, namespace)

    def _authenticated(self, request: Request) -> bool:
        if request.client_cert:
            return True
        scheme, _, token = (request.authorization or "").partition(" ")
        # The API server reads the scheme case-insensitively; in-cluster clients send "bearer".
        return self.token is None or (scheme.lower() == "bearer" and token == self.token)

    def _list(self, request: Request, resource: Resource,
              namespace: str | None) -> tuple[int, dict[str, Any]]:
        metadata_only = METADATA_ACCEPT in request.accept and not self.ignore_metadata_accept
        if not metadata_only and not _accepts_json(request.accept):
            return 406, _not_acceptable(request.accept)
        token = request.query.get("continue")
        start, snapshot, listed_at = 0, "", 0
        if token:
            try:
                position = json.loads(base64.urlsafe_b64decode(token))
                start, snapshot = int(position["start"]), str(position["list"])
                listed_at = int(snapshot.partition("-")[0])
            except (ValueError, KeyError, TypeError):
                return 400, _status(400, "BadRequest", "continue key is not valid")
        with self._lock:
            knob = self.expire_continue.get(resource.plural, 0)
            if token and (knob > 0 or listed_at < self._compacted or snapshot not in self._pages):
                self.expire_continue[resource.plural] = max(0, knob - 1)
                return 410, _status(410, "Expired", "The provided continue parameter is too "
                                    "old to display a consistent list result. You can start "
                                    "a new list without the continue parameter.")
            if token:  # the pages after the first come from the first one's snapshot
                rows = self._pages.get(snapshot, [])
            else:
                rows = [o for o in self._objects.get(
                            (resource.group, resource.version, resource.plural), [])
                        if namespace is None or o["metadata"].get("namespace") == namespace]
                snapshot = f"{self._revision}-{len(self._pages)}"
            revision = snapshot.partition("-")[0]
            limit = int(request.query.get("limit") or 0) or len(rows) or 1
            if start + limit < len(rows):
                self._pages[snapshot] = rows
        page = rows[start:start + limit]
        meta: dict[str, Any] = {"resourceVersion": revision}
        if start + limit < len(rows):
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"list": snapshot, "start": start + limit}).encode()).decode()
            meta["remainingItemCount"] = len(rows) - start - limit
        if metadata_only:
            items = [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                      "metadata": o["metadata"]} for o in page]
            return 200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                         "metadata": meta, "items": items}
        items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page]
        return 200, {"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                     "metadata": meta, "items": items}


@dataclass(slots=True)
class KubeContext:
    """One context of a kubeconfig: a cluster entry, a user entry and the context tying them."""

    name: str
    server: str
    token: str | None = None
    ca_pem: bytes | None = None
    client_cert: tuple[bytes, bytes] | None = None
    namespace: str | None = None


def write_kubeconfig(path: Path, contexts: list[KubeContext],
                     current: str | None = None) -> Path:
    """A kubeconfig with one cluster and one user per context, as kubectl would write it."""
    clusters, users, entries = [], [], []
    for ctx in contexts:
        cluster: dict[str, Any] = {"server": ctx.server}
        if ctx.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(ctx.ca_pem).decode()
        user: dict[str, Any] = {}
        if ctx.token:
            user["token"] = ctx.token
        if ctx.client_cert:
            user["client-certificate-data"] = base64.b64encode(ctx.client_cert[0]).decode()
            user["client-key-data"] = base64.b64encode(ctx.client_cert[1]).decode()
        context: dict[str, Any] = {"cluster": f"{ctx.name}-cluster", "user": f"{ctx.name}-user"}
        if ctx.namespace:
            context["namespace"] = ctx.namespace
        clusters.append({"name": f"{ctx.name}-cluster", "cluster": cluster})
        users.append({"name": f"{ctx.name}-user", "user": user})
        entries.append({"name": ctx.name, "context": context})
    config = {"apiVersion": "v1", "kind": "Config", "preferences": {},
              "clusters": clusters, "users": users, "contexts": entries,
              "current-context": current or (contexts[0].name if contexts else "")}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def closed_port_url() -> str:
    """An http URL on loopback where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without this, Nagle and delayed ACKs add
        # ~40 ms to every answer on a kept-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        standin: KubeApiStandIn = self.server.standin  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        cert = (self.connection.getpeercert()
                if isinstance(self.connection, ssl.SSLSocket) else None)
        request = Request(path=url.path,
                          query={k: v[-1] for k, v in parse_qs(url.query).items()},
                          accept=self.headers.get("Accept") or "",
                          authorization=self.headers.get("Authorization"),
                          client_cert=bool(cert))
        status, body = standin.answer(request)
        if isinstance(body, WatchStream):
            body.serve(self)
            return
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (its timeout) before the answer
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _route(parts: list[str]) -> tuple[Resource, str | None] | None:
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) == 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if len(rest) != 1:
        return None
    resource = RESOURCES.get((group, version, rest[0]))
    if resource is None or (namespace is not None and not resource.namespaced):
        return None
    return resource, namespace


def _resource_of(obj: dict[str, Any]) -> Resource:
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    for resource in RESOURCES.values():
        if (resource.group, resource.version, resource.kind) == (group, version, obj["kind"]):
            return resource
    raise ValueError(f"the stand-in does not serve {obj['apiVersion']} {obj['kind']}")


def _accepts_json(accept: str) -> bool:
    types = [part.split(";")[0].strip() for part in accept.split(",")]
    return not accept or any(t in ("application/json", "application/*", "*/*") for t in types)


def _not_acceptable(accept: str) -> dict[str, Any]:
    return _status(406, "NotAcceptable", f"only the following media types are accepted: "
                   f"application/json, {accept!r} is not")


def _failure(code: int, resource: Resource, namespace: str | None,
             verb: str = "list") -> dict[str, Any]:
    if code == 403:
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        return _status(403, "Forbidden", (
            f'{resource.plural} is forbidden: User "system:serviceaccount:pathwarden:scanner" '
            f'cannot {verb} resource "{resource.plural}" in API group "{resource.group}" '
            f"{scope}"))
    if code == 404:
        return _status(404, "NotFound", "the server could not find the requested resource")
    return _status(code, "InternalError", f"stand-in told to fail {verb}ing {resource.plural}")


@pytest.fixture
def start_kube_api() -> Iterator[Callable[..., KubeApiStandIn]]:
    """`start_kube_api(token=..., tls=False)` starts another stand-in; all stop afterwards."""
    started: list[KubeApiStandIn] = []

    def start(token: str | None = "stand-in-token", *, tls: bool = False) -> KubeApiStandIn:
        started.append(KubeApiStandIn(token, tls=tls).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def kube_api(start_kube_api: Callable[..., KubeApiStandIn]) -> KubeApiStandIn:
    """A fresh stand-in Kubernetes API server (HTTP, bearer token) for one test."""
    return start_kube_api()


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Callable[..., Path]:
    """`kubeconfig(*contexts, current=None)` writes tmp_path/kubeconfig and returns its path
    (the first context is current unless `current` names another)."""

    def write(*contexts: KubeContext, current: str | None = None) -> Path:
        return write_kubeconfig(tmp_path / "kubeconfig", list(contexts), current)

    return write


@pytest.fixture
def unreachable() -> Callable[..., KubeContext]:
    """`unreachable(name, token="t")`: a context whose server is a closed loopback port."""

    def context(name: str, token: str | None = "t") -> KubeContext:
        return KubeContext(name, closed_port_url(), token=token)

    return context

