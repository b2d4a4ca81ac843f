"""Helpers for policy tests: judge one manifest with one policy through the real engine.

Used by the built-in policies' tests and available to organisations for theirs:

    from pathwarden.engine.testing import judge, pod

    def test_host_network_fails():
        finding = judge("pss-baseline-host-namespaces", pod(spec={"hostNetwork": True}))
        assert finding.status == "fail"

`BACKEND` selects the Rego backend the helpers compile with, so one suite can run against
the embedded evaluator and a remote OPA alike.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import load_policies
from .evaluate import evaluate
from .k8s import build_inventory, make_target
from .model import Finding, Status
from .policyset import BackendFactory, PolicySet
from .rego import embedded_backend

BACKEND: BackendFactory = embedded_backend
_sets: dict[tuple[tuple[str, ...], int], PolicySet] = {}


def policy_set(dirs: Iterable[Path] = (), *, builtin: bool = True) -> PolicySet:
    """Load (once per process and backend) the built-in policies plus `dirs`."""
    key = (tuple(str(d) for d in dirs) + (("builtin",) if builtin else ()), id(BACKEND))
    if key not in _sets:
        _sets[key] = load_policies(list(dirs), builtin=builtin, backend=BACKEND)
    return _sets[key]


def judge(
    policy_id: str,
    manifest: dict[str, Any],
    *,
    parameters: dict[str, Any] | None = None,
    inventory: list[dict[str, Any]] | None = None,
    dirs: Iterable[Path] = (),
    operation: str = "CREATE",
    old_object: dict[str, Any] | None = None,
) -> Finding:
    """The one finding `policy_id` produces for `manifest`."""
    selected = policy_set(dirs).select([policy_id])
    if not len(selected):
        raise KeyError(f"no policy {policy_id!r} is loaded")
    if parameters:
        selected = selected.with_parameters({policy_id: parameters})
    if inventory is not None:
        selected = selected.with_inventory(build_inventory(inventory))
    target = make_target(manifest, operation=operation, old_object=old_object)
    findings = evaluate([target], selected)
    if len(findings) != 1:
        raise AssertionError(f"{policy_id} does not apply to a {manifest.get('kind')} "
                             f"({len(findings)} findings)")
    return findings[0]


def pod(spec: dict[str, Any] | None = None, *, name: str = "app", namespace: str = "default",
        labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
        containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Pod manifest; `containers` defaults to one container `app` with image `app:1.0`."""
    spec = copy.deepcopy(spec or {})
    spec.setdefault("containers", containers or [{"name": "app", "image": "app:1.0"}])
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def workload(kind: str, pod_manifest: dict[str, Any], *, replicas: int | None = None,
             labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Wrap a Pod manifest as the template of a Deployment, StatefulSet, Job, CronJob, …"""
    meta = pod_manifest["metadata"]
    template = {"metadata": {k: v for k, v in meta.items() if k in ("labels", "annotations")},
                "spec": pod_manifest["spec"]}
    api = {"Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
    spec: dict[str, Any] = {"template": template}
    if kind == "CronJob":
        spec = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
    elif kind != "Job":
        spec["selector"] = {"matchLabels": (meta.get("labels") or {"app": meta["name"]})}
    if replicas is not None:
        spec["replicas"] = replicas
    metadata = {"name": meta["name"], "namespace": meta["namespace"], "labels": labels or {}}
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec}


def container(name: str = "app", sc: dict[str, Any] | None = None,
              **fields: Any) -> dict[str, Any]:
    """A container with image `app:1.0`; `sc` becomes its securityContext."""
    found = {"name": name, "image": "app:1.0", **fields}
    if sc is not None:
        found["securityContext"] = sc
    return found


def check(policy_id: str, manifest: dict[str, Any], expected: Status,
          path: str | None = None) -> Finding:
    """Judge and assert the status; a failure must say why, at `path` when given."""
    finding = judge(policy_id, manifest)
    assert finding.status == expected, (finding.status, finding.violations, finding.error)
    if expected == Status.FAIL:
        assert finding.violations
        if path is not None:
            assert path in [v.path for v in finding.violations], finding.violations
    return finding


def with_sc(sc: dict[str, Any] | None, where: str = "containers",
            **spec: Any) -> dict[str, Any]:
    """A Pod whose one container in `where` (containers, initContainers or
    ephemeralContainers) carries securityContext `sc`."""
    spec = dict(spec)
    if where == "containers":
        return pod(spec, containers=[container(sc=sc)])
    spec[where] = [container(name="extra", sc=sc)]
    return pod(spec)


def pod_sc(**sc: Any) -> dict[str, Any]:
    """A Pod with a pod-level securityContext."""
    return pod({"securityContext": sc})
