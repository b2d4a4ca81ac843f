"""Ownership: every workload, repository and pipeline maps to a catalog service.

The scanner puts `service` into each target's document after mapping it through the
Backstage catalog (null when nothing matched). Without a catalog (plain `pathwarden eval`)
the key is absent and these policies have nothing to judge, so they pass.
"""

from __future__ import annotations

from pathwarden.engine.rules import rule

OWNED_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job", "Pod", "Service",
               "Ingress"]


def _unowned(doc) -> bool:
    return "service" in doc and doc["service"] is None


@rule(
    id="catalog-workload-owned",
    title="Workloads belong to a catalog service",
    description="Every workload, Service and Ingress maps to a Component of the Backstage "
    "catalog (by backstage.io/kubernetes-id or the component's label selector), so it has "
    "an owner who gets its findings.",
    severity="medium",
    kinds=OWNED_KINDS,
    enforcement="warn",
    autogen=False,
    remediation="Label the object (and its pod template) with backstage.io/kubernetes-id: "
    "<component name>, or add the backstage.io/kubernetes-id / "
    "backstage.io/kubernetes-label-selector annotation to the component's catalog-info.yaml.",
    tags=["golden-path:ownership", "best-practice"],
)
def workload_owned(doc):
    if _unowned(doc):
        obj = doc["review"]["object"]
        yield {"msg": f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')} maps to no "
               "catalog service", "path": "metadata.labels"}


@rule(
    id="catalog-repository-owned",
    title="Repositories and pipelines belong to a catalog service",
    description="Every scanned repository (and its pipelines) is linked from a Component of "
    "the Backstage catalog, so its findings reach an owner.",
    severity="medium",
    targets=["repo", "pipeline"],
    enforcement="warn",
    remediation="Add a catalog-info.yaml to the repository, or the github.com/project-slug / "
    "backstage.io/source-location annotation to the component that owns it.",
    tags=["golden-path:ownership", "best-practice"],
)
def repository_owned(doc):
    if _unowned(doc):
        what = doc.get("repository") or doc.get("pipeline") or {}
        yield f"{what.get('name') or what.get('path')} maps to no catalog service"
