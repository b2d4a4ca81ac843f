"""Kubernetes objects as targets: the Gatekeeper-shaped review, pod templates, inventory.

A rule about Pods is written once against `input.review.object` of a Pod. Workloads carry
their pods as templates; `pod_view` lifts the template out as a Pod so the same rule
judges it, and `TEMPLATE_PATHS` says where the template sits so findings point at the
owning object's real field (`spec.template.spec.containers[0].image`).
"""

from __future__ import annotations

from typing import Any

from .model import Location, Target, TargetRef

# kind -> JSON path prefix of its pod template (Kyverno's autogen covers the same kinds).
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

_PREFIXES = {kind: ".".join(path) + "." for kind, path in TEMPLATE_PATHS.items()}


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def target_id(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or "_cluster"
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    return f"k8s:{namespace}/{api_version}/{kind}/{meta.get('name', '')}"


def make_target(
    obj: dict[str, Any],
    *,
    location: Location | None = None,
    operation: str = "CREATE",
    old_object: dict[str, Any] | None = None,
    user_info: dict[str, Any] | None = None,
) -> Target:
    """Wrap one object as a k8s target whose document is Gatekeeper's `input` (less parameters)."""
    meta = obj.get("metadata") or {}
    group, version = split_api_version(str(obj.get("apiVersion", "")))
    kind = str(obj.get("kind", ""))
    namespace = meta.get("namespace")
    review = {
        "kind": {"group": group, "version": version, "kind": kind},
        "name": meta.get("name", ""),
        "namespace": namespace or "",
        "operation": operation,
        "object": obj,
        "oldObject": old_object,
        "userInfo": user_info or {},
        "dryRun": False,
    }
    ref = TargetRef(
        id=target_id(obj),
        kind="k8s",
        name=str(meta.get("name") or meta.get("generateName") or ""),
        object_kind=kind,
        namespace=namespace,
        location=location,
    )
    return Target(ref=ref, document={"review": review})


def pod_template(obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The pod template of a workload and its path prefix, or (None, "")."""
    kind = obj.get("kind")
    path = TEMPLATE_PATHS.get(kind) if isinstance(kind, str) else None
    if path is None:
        return None, ""
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return None, ""
    return node, _PREFIXES[kind]


def pod_view(review: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """A Pod-shaped review for the template inside a workload review, and its path prefix."""
    obj = review.get("object") or {}
    template, prefix = pod_template(obj)
    if template is None:
        return None
    meta = dict(template.get("metadata") or {})
    owner_meta = obj.get("metadata") or {}
    meta.setdefault("name", owner_meta.get("name", ""))
    if owner_meta.get("namespace"):
        meta.setdefault("namespace", owner_meta["namespace"])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}
    old_object = review.get("oldObject")
    old_template = pod_template(old_object)[0] if isinstance(old_object, dict) else None
    pod_review = {
        **review,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "object": pod,
        "oldObject": ({"apiVersion": "v1", "kind": "Pod", **old_template}
                      if old_template else None),
    }
    return pod_review, prefix


def build_inventory(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Gatekeeper's `data.inventory`: cluster[gv][kind][name], namespace[ns][gv][kind][name]."""
    inventory: dict[str, Any] = {"cluster": {}, "namespace": {}}
    for obj in objects:
        meta = obj.get("metadata") or {}
        name, gv, kind = meta.get("name"), obj.get("apiVersion"), obj.get("kind")
        if not (name and gv and kind):
            continue
        if obj.get("kind") == "Secret":
            obj = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
        namespace = meta.get("namespace")
        if namespace:
            root = inventory["namespace"].setdefault(namespace, {})
        else:
            root = inventory["cluster"]
        root.setdefault(gv, {}).setdefault(kind, {})[name] = obj
    return inventory
