"""Reading a Pod spec defensively: the accessors pod-level policies share.

Policy files are loaded by path and cannot import each other, so what several policies
need (the built-in Pod Security Standards, the golden-path rules, an organisation's own)
lives here. Nothing here raises on odd input: a missing, null or wrongly typed field
reads as unset, as it does in the Kubernetes API's Go types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Upstream's visitContainers order: init containers, containers, ephemeral containers.
CONTAINER_LISTS = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)


def as_dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def as_list(value: Any) -> list[Any] | tuple[()]:
    return value if isinstance(value, list) else ()


def pod_object(doc: dict[str, Any]) -> dict[str, Any]:
    review = as_dict(doc.get("review")) or {}
    return as_dict(review.get("object")) or {}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return as_dict(pod_object(doc).get("spec")) or {}


def pod_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    return as_dict(pod_object(doc).get("metadata")) or {}


def pod_security_context(spec: dict[str, Any]) -> dict[str, Any] | None:
    return as_dict(spec.get("securityContext"))


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, label, container) for every container: `spec.containers[0]`, `container "app"`."""
    for key, kind in CONTAINER_LISTS:
        for i, container in enumerate(as_list(spec.get(key))):
            if isinstance(container, dict):
                yield f"spec.{key}[{i}]", f'{kind} "{container.get("name") or ""}"', container


def container_security_contexts(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict]]:
    """(path, label, securityContext) for every container that has a securityContext."""
    for path, label, container in containers(spec):
        sc = as_dict(container.get("securityContext"))
        if sc is not None:
            yield f"{path}.securityContext", label, sc


def is_windows(spec: dict[str, Any]) -> bool:
    """spec.os.name == "windows": upstream's v1.25+ exemption for three restricted checks."""
    os = as_dict(spec.get("os"))
    return os is not None and os.get("name") == "windows"


def in_user_namespace(spec: dict[str, Any]) -> bool:
    """spec.hostUsers == false: upstream's relaxPolicyForUserNamespacePod (v1.35+)."""
    return spec.get("hostUsers") is False


def is_zero(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def allowed(value: Any, values: frozenset[str]) -> bool:
    """Exact string membership; a non-string (malformed) value is never allowed."""
    return isinstance(value, str) and value in values


def profile_type(profile: Any) -> Any:
    """The type of a seccompProfile/appArmorProfile that is set (non-null)."""
    profile = as_dict(profile)
    return profile.get("type") if profile is not None else None


def non_default_proc_mounts(spec: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Violations for containers whose securityContext.procMount is set and not Default."""
    for path, label, sc in container_security_contexts(spec):
        value = sc.get("procMount")
        if value is not None and value != "Default":
            yield {"msg": f"{label} sets securityContext.procMount {value!r}",
                   "path": f"{path}.procMount"}
