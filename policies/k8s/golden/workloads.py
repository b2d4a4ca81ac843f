"""Golden-path workload rules: labels, replicas and disruption budgets of the owning object."""

from __future__ import annotations

import fnmatch

from pathwarden.engine.rules import rule

WORKLOADS = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]
REPLICATED = ["Deployment", "StatefulSet"]


@rule(
    id="golden-required-labels",
    title="Required labels",
    description="Workloads carry app.kubernetes.io/name and a label that ties them to their "
    "owner in the service catalog, so findings, costs and alerts reach a team.",
    severity="medium",
    kinds=WORKLOADS,
    enforcement="deny",
    remediation="Add metadata.labels app.kubernetes.io/name and backstage.io/kubernetes-id "
    "(the component name in catalog-info.yaml).",
    url="https://backstage.io/docs/features/kubernetes/configuration#surfacing-your-kubernetes-components-as-part-of-an-entity",
    tags=["golden-path:deploy", "golden-path:ownership", "best-practice"],
    parameters={
        "labels": ["app.kubernetes.io/name"],
        "owner_labels": ["backstage.io/kubernetes-id"],
    },
)
def required_labels(doc):
    params = doc["parameters"]
    labels = (doc["review"]["object"].get("metadata") or {}).get("labels") or {}
    for name in params.get("labels") or ():
        if not labels.get(name):
            yield {"msg": f"label {name!r} is missing", "path": f"metadata.labels.{name}"}
    owners = params.get("owner_labels") or ()
    if owners and not any(labels.get(name) for name in owners):
        yield {"msg": f"no owner label: set one of {', '.join(owners)}",
               "path": "metadata.labels"}


def _is_production(obj, params) -> bool:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    for key, values in (params.get("labels") or {}).items():
        if labels.get(key) in values:
            return True
    namespace = meta.get("namespace") or ""
    return any(fnmatch.fnmatchcase(namespace, p) for p in params.get("namespaces") or ())


PRODUCTION = {
    "labels": {"environment": ["production", "prod"], "env": ["production", "prod"]},
    "namespaces": ["prod", "production", "*-prod", "*-production", "prod-*"],
}


@rule(
    id="golden-replicas",
    title="At least two replicas in production",
    description="A production Deployment or StatefulSet runs at least two replicas so a node "
    "drain or a crash does not take the service down. Production is recognised by a "
    "label or the namespace name (parameters.production).",
    severity="high",
    kinds=REPLICATED,
    enforcement="deny",
    remediation="Set spec.replicas to 2 or more (or let an HPA with minReplicas >= 2 own it).",
    url="https://kubernetes.io/docs/concepts/workloads/controllers/deployment/",
    tags=["golden-path:production-readiness", "best-practice"],
    parameters={"min_replicas": 2, "production": PRODUCTION},
)
def replicas(doc):
    obj = doc["review"]["object"]
    params = doc["parameters"]
    if not _is_production(obj, params.get("production") or {}):
        return
    count = (obj.get("spec") or {}).get("replicas", 1)
    minimum = params.get("min_replicas", 2)
    if not isinstance(count, int) or count < minimum:
        yield {"msg": f"production {obj.get('kind')} runs {count} replica(s); "
                      f"at least {minimum} are required",
               "path": "spec.replicas"}


def _selects(selector, labels) -> bool:
    """Label-selector semantics for matchLabels and matchExpressions."""
    if not isinstance(selector, dict) or not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if (op == "In" and labels.get(key) not in values) or (
            op == "NotIn" and present and labels[key] in values) or (
            op == "Exists" and not present) or (op == "DoesNotExist" and present):
            return False
    return True


@rule(
    id="golden-pod-disruption-budget",
    title="PodDisruptionBudget for replicated workloads",
    description="A workload with two or more replicas has a PodDisruptionBudget selecting its "
    "pods, so voluntary disruptions (node drains, upgrades) keep it available. Referential: "
    "reads the PodDisruptionBudgets of the namespace from the inventory.",
    severity="medium",
    kinds=REPLICATED,
    enforcement="warn",
    remediation="Add a policy/v1 PodDisruptionBudget in the same namespace whose selector "
    "matches the pod template labels (e.g. maxUnavailable: 1).",
    url="https://kubernetes.io/docs/tasks/run-application/configure-pdb/",
    tags=["golden-path:production-readiness", "best-practice"],
    inventory=True,
)
def pod_disruption_budget(doc, data):
    obj = doc["review"]["object"]
    spec = obj.get("spec") or {}
    if not isinstance(spec.get("replicas", 1), int) or spec.get("replicas", 1) < 2:
        return
    namespace = (obj.get("metadata") or {}).get("namespace") or "default"
    pod_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    budgets = (((data.get("inventory") or {}).get("namespace") or {}).get(namespace) or {}).get(
        "policy/v1", {}).get("PodDisruptionBudget", {})
    if not any(_selects((b.get("spec") or {}).get("selector"), pod_labels)
               for b in budgets.values()):
        yield {"msg": f"{obj.get('kind')} with {spec['replicas']} replicas has no "
                      f"PodDisruptionBudget selecting its pods in namespace {namespace}",
               "path": "spec.replicas"}
