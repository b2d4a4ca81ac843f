"""Which URL lists each Kubernetes kind, so the cluster source needs no discovery round-trip.

The API server's discovery documents (`/api`, `/apis/...`) would tell the same, at the cost
of a request per group and of trusting whatever a cluster advertises. A fixed table keeps a
scan to one list per kind and makes "this cluster does not serve that kind" a plain 404 on
that kind. One version per kind: the one every supported Kubernetes release serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class KindInfo:
    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def list_path(self, namespace: str | None = None) -> str:
        """The collection URL; with a namespace, only that namespace's objects."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None and self.namespaced:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"

    def __str__(self) -> str:
        return f"{self.kind} ({self.api_version} {self.plural})"


def _table() -> dict[str, KindInfo]:
    # group/version -> "Kind plural" pairs; a trailing "*" marks a cluster-scoped kind.
    rows = {
        "v1": "Pod pods Service services Namespace* namespaces ConfigMap configmaps "
              "Secret secrets ServiceAccount serviceaccounts PersistentVolumeClaim "
              "persistentvolumeclaims PersistentVolume* persistentvolumes "
              "ReplicationController replicationcontrollers LimitRange limitranges "
              "ResourceQuota resourcequotas Node* nodes",
        "apps/v1": "Deployment deployments StatefulSet statefulsets DaemonSet daemonsets "
                   "ReplicaSet replicasets",
        "batch/v1": "Job jobs CronJob cronjobs",
        "networking.k8s.io/v1": "Ingress ingresses IngressClass* ingressclasses "
                                "NetworkPolicy networkpolicies",
        "policy/v1": "PodDisruptionBudget poddisruptionbudgets",
        "autoscaling/v2": "HorizontalPodAutoscaler horizontalpodautoscalers",
        "rbac.authorization.k8s.io/v1": "Role roles RoleBinding rolebindings "
                                        "ClusterRole* clusterroles "
                                        "ClusterRoleBinding* clusterrolebindings",
        "storage.k8s.io/v1": "StorageClass* storageclasses",
        "scheduling.k8s.io/v1": "PriorityClass* priorityclasses",
        "gateway.networking.k8s.io/v1": "GatewayClass* gatewayclasses Gateway gateways "
                                        "HTTPRoute httproutes GRPCRoute grpcroutes",
    }
    table: dict[str, KindInfo] = {}
    for api_version, text in rows.items():
        group, _, version = api_version.rpartition("/")
        words = text.split()
        for kind, plural in zip(words[::2], words[1::2], strict=True):
            name = kind.rstrip("*")
            table[name] = KindInfo(name, group, version, plural, not kind.endswith("*"))
    return table


KINDS: dict[str, KindInfo] = _table()

DEFAULT_KINDS: tuple[str, ...] = (
    "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
    "Service", "Ingress", "NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler",
    "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
    "ConfigMap", "Secret", "PersistentVolumeClaim",
)
"""What a cluster scan lists unless configured otherwise: what the built-in policies judge
and what referential policies look up. Secrets are listed as metadata only."""


def kind_info(kind: str) -> KindInfo:
    """The table row for `kind`; a configuration naming an unknown kind is an error."""
    try:
        return KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise ConfigError(f"unknown Kubernetes kind {kind!r}; known kinds: {known}") from None
