"""A workload's own waiver request, read from its annotations, where configuration allows.

    metadata:
      annotations:
        pathwarden.dev/waive: golden-probes, golden-replicas
        pathwarden.dev/waive-reason: batch worker, no HTTP endpoint to probe
        pathwarden.dev/waive-expires: "2026-12-31"

Such a waiver only ever applies to policies listed in
`governance.waivers.annotation_policies`: an object cannot excuse itself from anything the
platform team has not opened to self-service. It still needs a reason and an expiry within
`governance.waivers.max_days`; one without them waives nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..model import Target, TargetRef
from .config import GovernanceSettings
from .waivers import Waiver, WaiverError, object_name, waiver_from_spec

PREFIX = "pathwarden.dev/waive"


def annotation_waiver(annotations: Mapping[str, Any], ref: TargetRef,
                      settings: GovernanceSettings, now: datetime) -> Waiver | None:
    policies = annotations.get(PREFIX)
    if not isinstance(policies, str) or not policies.strip():
        return None
    name = object_name(ref)
    spec = {
        "policies": [p.strip() for p in policies.split(",") if p.strip()],
        "objects": [name],
        "reason": annotations.get(f"{PREFIX}-reason"),
        "requestedBy": annotations.get(f"{PREFIX}-requested-by") or f"annotation on {name}",
        "approvedBy": "configuration (governance.waivers.annotation_policies)",
        "expires": annotations.get(f"{PREFIX}-expires"),
    }
    if spec["expires"] is None:
        del spec["expires"]
    try:
        # Colons, not slashes: the id goes into URLs (/waivers/{id}); no Kubernetes kind,
        # namespace or name contains one.
        return waiver_from_spec(f"annotation:{name.replace('/', ':')}", spec, zone=settings.zone,
                                max_days=settings.waivers.max_days,
                                today=now.astimezone(settings.zone).date(),
                                source="annotation", location=name, state="approved")
    except WaiverError:
        return None


def annotations_by_target(targets: Iterable[Target], settings: GovernanceSettings
                          ) -> dict[str, dict[str, Any]] | None:
    """The annotations of every Kubernetes target, by target id; None when no policy is
    open to self-service, so nothing is read for nothing."""
    if not settings.waivers.annotation_policies:
        return None
    return {t.ref.id: _annotations(t) for t in targets if t.ref.kind == "k8s"}


def _annotations(target: Target) -> dict[str, Any]:
    obj = (target.document.get("review") or {}).get("object") or {}
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    found = meta.get("annotations") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}
