"""The ValidatingWebhookConfiguration that sends the API server's requests to pathwarden.

It is derived from the loaded policies rather than written by hand: the API server only
calls the webhook for the kinds and operations some policy judges, so a cluster pays the
admission round trip (and the failure mode's risk) for nothing else. Pod policies also
need the workload kinds whose pod templates they judge (`engine.k8s.TEMPLATE_PATHS`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..engine.k8s import TEMPLATE_PATHS
from ..engine.model import Policy
from ..engine.policyset import PolicySet
from ..engine.settings import Settings

WEBHOOK_NAME = "validate.pathwarden.dev"
WEBHOOK_PATH = "/validate"
SERVICE_PORT = 443
CERTIFICATE_NAME = "pathwarden-webhook"
"""The cert-manager Certificate whose CA is injected when no CA file is given."""
INJECT_CA_ANNOTATION = "cert-manager.io/inject-ca-from"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace and not editable by tenants, so exempting by
this label cannot be bypassed by relabelling a namespace."""
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str


def _table() -> dict[str, Resource]:
    rows = {
        ("", "v1"): "Pod pods Service services Namespace namespaces ConfigMap configmaps "
                    "Secret secrets ServiceAccount serviceaccounts PersistentVolumeClaim "
                    "persistentvolumeclaims PersistentVolume persistentvolumes "
                    "ReplicationController replicationcontrollers LimitRange limitranges "
                    "ResourceQuota resourcequotas Node nodes Endpoints endpoints",
        ("apps", "v1"): "Deployment deployments StatefulSet statefulsets DaemonSet daemonsets "
                        "ReplicaSet replicasets",
        ("batch", "v1"): "Job jobs CronJob cronjobs",
        ("networking.k8s.io", "v1"): "Ingress ingresses IngressClass ingressclasses "
                                     "NetworkPolicy networkpolicies",
        ("policy", "v1"): "PodDisruptionBudget poddisruptionbudgets",
        ("rbac.authorization.k8s.io", "v1"): "Role roles RoleBinding rolebindings "
                                             "ClusterRole clusterroles ClusterRoleBinding "
                                             "clusterrolebindings",
        ("autoscaling", "v2"): "HorizontalPodAutoscaler horizontalpodautoscalers",
        ("storage.k8s.io", "v1"): "StorageClass storageclasses",
        ("scheduling.k8s.io", "v1"): "PriorityClass priorityclasses",
        ("gateway.networking.k8s.io", "v1"): "Gateway gateways HTTPRoute httproutes "
                                             "GRPCRoute grpcroutes",
        ("apiextensions.k8s.io", "v1"): "CustomResourceDefinition customresourcedefinitions",
    }
    table: dict[str, Resource] = {}
    for (group, version), text in rows.items():
        words = text.split()
        for kind, plural in zip(words[::2], words[1::2], strict=True):
            table[kind] = Resource(group, version, plural)
    return table


KIND_RESOURCES: dict[str, Resource] = _table()
"""Kind -> the API group, version and resource a rule names. One version per kind is
enough: with `matchPolicy: Equivalent` the API server converts requests made through
other versions of the same resource."""
CONNECT_SUBRESOURCES: dict[str, tuple[str, ...]] = {
    "Pod": ("attach", "exec", "portforward", "proxy"),
    "Service": ("proxy",),
    "Node": ("proxy",),
}
"""CONNECT only ever happens on these subresources, never on the object itself."""


@dataclass(slots=True)
class AdmissionNeeds:
    """Which kinds and operations the policies judge, and what could not be wired."""

    kinds: dict[str, set[str]] = field(default_factory=dict)
    all_kinds: set[str] = field(default_factory=set)
    """Operations of policies with no kinds (they judge every kind)."""
    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, operations: Iterable[str]) -> None:
        self.kinds.setdefault(kind, set()).update(operations)


def admission_needs(policies: Iterable[Policy]) -> AdmissionNeeds:
    needs = AdmissionNeeds()
    for policy in policies:
        if "k8s" not in policy.targets:
            continue
        operations = set(policy.operations)
        if not policy.kinds or "*" in policy.kinds:
            needs.all_kinds |= operations
            continue
        kinds = list(policy.kinds)
        if policy.applies_to_pods():
            kinds += [k for k in TEMPLATE_PATHS if k not in kinds]
        for kind in kinds:
            if kind not in KIND_RESOURCES:
                needs.problems.append(f"policy {policy.id}: kind {kind} is not in the "
                                      "webhook's kind table; the webhook will not be called "
                                      "for it")
                continue
            ops = operations if kind in policy.kinds else operations - {"CONNECT"}
            if "CONNECT" in ops and kind not in CONNECT_SUBRESOURCES:
                needs.problems.append(f"policy {policy.id}: kind {kind} has no CONNECT "
                                      "subresource; CONNECT is ignored for it")
            needs.add(kind, ops)
    return needs


def webhook_rules(needs: AdmissionNeeds) -> list[dict[str, Any]]:
    """Rules grouped by group, version and operations, in a stable order for diffs.

    Objects only (`pods`, not `pods/*`): a status subresource update carries the whole
    object, and judging it would let a failing policy block the kubelet's status reports.
    """
    groups: dict[tuple[str, str, tuple[str, ...]], set[str]] = {}
    if needs.all_kinds - {"CONNECT"}:
        groups[("*", "*", _ordered(needs.all_kinds - {"CONNECT"}))] = {"*"}
    for kind, ops in needs.kinds.items():
        res = KIND_RESOURCES[kind]
        if "CONNECT" in ops | needs.all_kinds:
            subs = CONNECT_SUBRESOURCES.get(kind, ())
            if subs:
                key = (res.group, res.version, ("CONNECT",))
                groups.setdefault(key, set()).update(f"{res.plural}/{s}" for s in subs)
        plain = ops - {"CONNECT"}
        if plain and not plain <= needs.all_kinds:
            key = (res.group, res.version, _ordered(plain | (needs.all_kinds - {"CONNECT"})))
            groups.setdefault(key, set()).add(res.plural)
    return [
        {"apiGroups": [group], "apiVersions": [version], "operations": list(ops),
         "resources": sorted(resources), "scope": "*"}
        for (group, version, ops), resources in sorted(groups.items(), key=_rule_order)
    ]


def validating_webhook_configuration(
    settings: Settings, policy_set: PolicySet, ca_pem: bytes | None, url: str | None
) -> dict[str, Any]:
    """The configuration object; without a CA it asks cert-manager to inject one."""
    hook = settings.webhook
    client: dict[str, Any]
    if url is not None:
        _check_url(url)
        client = {"url": url}
    else:
        client = {"service": {"name": hook.service, "namespace": hook.namespace,
                              "path": WEBHOOK_PATH, "port": SERVICE_PORT}}
    metadata: dict[str, Any] = {
        "name": hook.service,
        "labels": {"app.kubernetes.io/name": "pathwarden",
                   "app.kubernetes.io/component": "webhook"},
    }
    if ca_pem:
        client["caBundle"] = base64.b64encode(ca_pem).decode("ascii")
    else:
        metadata["annotations"] = {INJECT_CA_ANNOTATION: f"{hook.namespace}/{CERTIFICATE_NAME}"}
    exempt = sorted({*hook.exempt_namespaces, hook.namespace})
    webhook = {
        "name": WEBHOOK_NAME,
        "admissionReviewVersions": ["v1"],
        "clientConfig": client,
        "rules": webhook_rules(admission_needs(policy_set.policies)),
        "failurePolicy": "Fail" if hook.failure_mode == "closed" else "Ignore",
        "matchPolicy": "Equivalent",
        "namespaceSelector": {"matchExpressions": [
            {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": exempt}]},
        "sideEffects": "None",
        "timeoutSeconds": hook.timeout_seconds,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": [webhook],
    }


def _check_url(url: str) -> None:
    """The API server's own rules for clientConfig.url, caught before kubectl apply."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"webhook URL {url!r} must be https://host[:port]/path")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"webhook URL {url!r} may not have a query, fragment or user info")


def _ordered(operations: Iterable[str]) -> tuple[str, ...]:
    ops = set(operations)
    return tuple(o for o in OPERATIONS if o in ops)


def _rule_order(item: tuple[tuple[str, str, tuple[str, ...]], set[str]]) -> tuple[Any, ...]:
    (group, version, ops), _ = item
    # The wildcard rule first, then the core group, then the others alphabetically.
    return (group != "*", group != "", group, version, ops)
