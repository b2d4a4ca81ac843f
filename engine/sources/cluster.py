"""One Kubernetes cluster (a kubeconfig context, or the pod's own service account) -> targets.

Every configured kind is listed through the official client's HTTP stack, so whatever a
kubeconfig can express (tokens, client certificates, exec plugins, proxies, CA bundles)
works as it does for kubectl. Each scan gets its own `Configuration` and `ApiClient`:
several clusters are scanned in one process and the client's global default would leak
one cluster's credentials into another's requests.

Failure scope follows what can still be trusted. A cluster that cannot be reached, whose
TLS or credentials are refused, that does not answer in time, or that forbids every kind
is one `error` for the source and nothing from it is kept: a half-read cluster would make
referential policies ("is there a PDB for this Deployment?") judge against an inventory
with holes. A kind that alone is forbidden (RBAC; with `namespaces`, per namespace) or not
served (no such CRD) is a problem and the other kinds are still listed.

Secrets are listed as `PartialObjectMetadataList`, so their values never leave the API
server. A server that ignores the request still has `data`/`stringData` (and kubectl's
last-applied annotation, which holds a copy of them) dropped as the page is parsed, before
anything else sees the objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException

from ..errors import ConfigError, Problem, truncate
from ..k8s import make_target
from ..model import Location
from .base import Collected
from .kube_kinds import DEFAULT_KINDS, KindInfo, kind_info

METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
"""No fallback media type: a server that cannot send metadata alone answers 406 (a problem
for Secrets) rather than sending the values."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
USER_AGENT = "pathwarden-cluster-source"

# Connection failures are retried (a pooled connection the server closed); a slow answer is
# not, or one timeout would cost several times `timeout_seconds` per kind.
_RETRIES = urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0, other=0)


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """One cluster to scan, as the configuration describes it."""

    name: str | None = None
    """Source name suffix (`cluster:<name>`); defaults to the context's name."""
    kubeconfig: Path | None = None
    """None: `$KUBECONFIG` or `~/.kube/config`, as kubectl."""
    context: str | None = None
    """None: the kubeconfig's current context."""
    in_cluster: bool = False
    """Use the pod's service account instead of a kubeconfig."""
    kinds: tuple[str, ...] = DEFAULT_KINDS
    namespaces: tuple[str, ...] = ()
    """Empty: all. Otherwise namespaced kinds are listed per namespace, Namespace objects
    are limited to these, and cluster-scoped kinds are listed whole."""
    page_size: int = 500
    timeout_seconds: float = 30

    def __post_init__(self) -> None:
        for kind in self.kinds:
            kind_info(kind)
        if self.page_size < 1:
            raise ConfigError(f"cluster {self.label}: page_size must be at least 1")
        if self.timeout_seconds <= 0:
            raise ConfigError(f"cluster {self.label}: timeout_seconds must be positive")
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ConfigError(f"cluster {self.label}: in_cluster excludes kubeconfig and "
                              "context")

    @property
    def label(self) -> str:
        """How messages name the cluster before its kubeconfig has been read."""
        return self.name or self.context or ("in-cluster" if self.in_cluster else "current")


def contexts_of(kubeconfig: Path) -> list[str]:
    """The context names of a kubeconfig, in file order, so configuration can say "all"."""
    try:
        contexts, _ = kube_config.list_kube_config_contexts(config_file=str(kubeconfig))
    except Exception as exc:  # the loader raises whatever its YAML, file and key code raise
        raise ConfigError(f"kubeconfig {kubeconfig}: {_plain(exc)}") from exc
    return [str(c["name"]) for c in contexts]


def collect_cluster(spec: ClusterSpec) -> Collected:
    """List every configured kind of one cluster; never raises for a cluster's failure."""
    try:
        api, label = open_client(spec)
    except Exception as exc:  # a kubeconfig that cannot be used fails this source only
        where = f"kubeconfig {spec.kubeconfig}" if spec.kubeconfig else "configuration"
        if spec.in_cluster:
            where = "in-cluster configuration"
        return Collected(f"cluster:{spec.label}",
                         error=f"cluster {spec.label}: {where}: {_plain(exc)}")
    source = f"cluster:{label}"
    try:
        objects, problems = Lister(api, spec, source).all()
    except ClusterFailed as exc:
        return Collected(source, error=f"cluster {label} ({api.configuration.host}): {exc}")
    finally:
        api.close()
    return Collected(source, targets=[make_target(obj, location=None) for obj in objects],
                     inventory=objects, problems=problems)


def open_client(spec: ClusterSpec, *, connections: int | None = None
                ) -> tuple[ApiClient, str]:
    """A client of its own for this cluster, and the cluster's label. `connections`: the
    pool size, for callers that hold several requests open at once (watches)."""
    configuration = Configuration()
    configuration.retries = _RETRIES
    if connections:
        configuration.connection_pool_maxsize = connections
    if spec.in_cluster:
        kube_config.load_incluster_config(client_configuration=configuration)
        api, label = ApiClient(configuration), spec.name or "in-cluster"
    else:
        path = str(spec.kubeconfig) if spec.kubeconfig else None
        label = spec.name or spec.context or _current_context(path)
        # persist_config=False: a scan never rewrites the operator's kubeconfig.
        api = kube_config.new_client_from_config(
            config_file=path, context=spec.context, persist_config=False,
            client_configuration=configuration)
    api.user_agent = USER_AGENT
    return api, label


def _current_context(path: str | None) -> str:
    _, current = kube_config.list_kube_config_contexts(config_file=path)
    return str(current["name"])


class ClusterFailed(Exception):
    """Nothing from this cluster can be trusted; the message names the reason."""


class KindFailed(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code


class _Expired(Exception):
    """A continue token outlived the server's compaction window (410)."""


class Lister:
    def __init__(self, api: ApiClient, spec: ClusterSpec, source: str):
        self.api, self.spec, self.source = api, spec, source

    def all(self) -> tuple[list[dict[str, Any]], list[Problem]]:
        """Every (kind, namespace) list; one that fails is a problem, the others go on."""
        objects: list[dict[str, Any]] = []
        problems: list[Problem] = []
        forbidden: list[str] = []
        lists = scopes(self.spec)
        for info, namespace in lists:
            try:
                objects += self.scope(info, namespace)
            except KindFailed as exc:
                where = f" in namespace {namespace}" if namespace else ""
                problems.append(Problem("list", f"{info}{where}: {exc}",
                                        Location(self.source)))
                if exc.code == 403:
                    forbidden.append(str(exc))
        if lists and len(forbidden) == len(lists):
            raise ClusterFailed(f"forbidden to list any kind: {forbidden[0]}")
        return objects, problems

    def scope(self, info: KindInfo, namespace: str | None) -> list[dict[str, Any]]:
        return self.versioned(info, namespace)[0]

    def versioned(self, info: KindInfo, namespace: str | None
                  ) -> tuple[list[dict[str, Any]], str]:
        """One list, all pages, and the resourceVersion it was read at (where a watch
        starts); an expired continue token restarts it once from scratch."""
        for _ in range(2):
            try:
                return self._read(info, namespace)
            except _Expired:
                continue
        raise KindFailed(410, "the list expired while paging, twice (410 Gone): the "
                         "continue token outlived the API server's compaction window; a "
                         "larger page_size needs fewer pages")

    def _read(self, info: KindInfo, namespace: str | None
              ) -> tuple[list[dict[str, Any]], str]:
        path = info.list_path(namespace)
        token: str | None = None
        items: list[dict[str, Any]] = []
        version = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", self.spec.page_size)]
            if token:
                query.append(("continue", token))
            page = self.get(info, path, query)
            meta = page.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            items += [clean(item, info) for item in page.get("items") or []
                      if isinstance(item, dict)]
            token = meta.get("continue")
            if not token:
                return [o for o in items if in_scope(self.spec, info, o)], version

    def get(self, info: KindInfo, path: str, query: list[tuple[str, Any]]) -> dict[str, Any]:
        accept = METADATA_ONLY if info.kind == "Secret" else "application/json"
        request = self.api.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": accept},
            auth_settings=["BearerToken"])
        try:
            response = self.api.call_api(*request, _request_timeout=self.spec.timeout_seconds)
            raw = response.read()
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as exc:
            raise ClusterFailed(transport_reason(exc, self.spec.timeout_seconds)) from None
        status = int(response.status)
        if status == 410 and any(key == "continue" for key, _ in query):
            raise _Expired
        check_status(status, lambda: raw)
        return _parse(raw, info)


def scopes(spec: ClusterSpec) -> list[tuple[KindInfo, str | None]]:
    """One (kind, namespace) per request: a namespaced kind once per configured namespace,
    anything else once for the whole cluster."""
    namespaces = spec.namespaces
    return [(info, namespace) for info in map(kind_info, spec.kinds)
            for namespace in (namespaces if info.namespaced and namespaces else (None,))]


def in_scope(spec: ClusterSpec, info: KindInfo, obj: dict[str, Any]) -> bool:
    """With `namespaces`, only those Namespace objects are kept (listing Namespaces is
    cluster-wide)."""
    return not (info.kind == "Namespace" and spec.namespaces
                and obj["metadata"].get("name") not in spec.namespaces)


def check_status(status: int, body: Callable[[], bytes], what: str = "") -> None:
    """Raises for an answer that is not a success: 401 fails the whole cluster, anything
    else the kind. `body` is read only then; `what` prefixes the reason (`watch `)."""
    if status == 401:
        raise ClusterFailed(f"unauthorized (401): the credentials were refused: "
                            f"{status_message(body())}")
    if not 200 <= status < 300:
        raise KindFailed(status, f"{what}{describe(status)} ({status}): "
                         f"{status_message(body())}")


def _parse(raw: bytes, info: KindInfo) -> dict[str, Any]:
    try:
        page = json.loads(raw)
    except ValueError:
        raise KindFailed(200, "the answer is not JSON") from None
    if not isinstance(page, dict):
        raise KindFailed(200, "the answer is not a list object")
    if info.kind == "Secret":  # before anything else sees the page
        page["items"] = [secret_metadata(item) for item in page.get("items") or []
                         if isinstance(item, dict)]
    return page


def secret_metadata(item: dict[str, Any]) -> dict[str, Any]:
    meta = dict(item.get("metadata") or {})
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return {"metadata": meta}


def clean(item: dict[str, Any], info: KindInfo) -> dict[str, Any]:
    """The object as a manifest would have it: kind and apiVersion set, no managedFields."""
    meta = {k: v for k, v in (item.get("metadata") or {}).items() if k != "managedFields"}
    rest = {k: v for k, v in item.items() if k not in ("apiVersion", "kind", "metadata")}
    return {"apiVersion": info.api_version, "kind": info.kind, "metadata": meta, **rest}


def transport_reason(exc: Exception, timeout: float) -> str:
    cause: Any = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return f"cannot resolve the server's host name: {_os_cause(cause)}"
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return f"cannot connect: {_os_cause(cause)}"
    if isinstance(cause, urllib3.exceptions.SSLError) or (
            isinstance(cause, ApiException) and "SSLError" in str(cause.reason)):
        text = str(cause.reason if isinstance(cause, ApiException) else cause)
        return f"TLS error: {truncate(text.removeprefix('SSLError').strip())}"
    if isinstance(cause, urllib3.exceptions.TimeoutError | TimeoutError):
        return f"no answer within {timeout:g}s (timeout)"
    if isinstance(cause, urllib3.exceptions.ProtocolError):
        return f"the connection broke: {truncate(str(cause))}"
    return truncate(f"{type(cause).__name__}: {cause}")


def _os_cause(exc: BaseException) -> str:
    """The operating system's words ("Connection refused") rather than urllib3's wrapper."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return truncate(str(exc))


def status_message(raw: bytes) -> str:
    try:
        status = json.loads(raw)
    except ValueError:
        return truncate(raw.decode("utf-8", "replace")) or "no message"
    if isinstance(status, dict) and status.get("message"):
        return truncate(str(status["message"]))
    return "no message"


def describe(status: int) -> str:
    return {403: "forbidden", 404: "not served by this cluster", 406: "not acceptable",
            410: "gone", 429: "too many requests"}.get(
                status, "server error" if status >= 500 else "refused")


def _plain(exc: BaseException) -> str:
    return truncate(str(exc) or type(exc).__name__)
