"""Varied workloads for the benchmarks: Pods and Deployments, 1-4 containers, about half
of them compliant with the built-in pack, the rest failing in different ways."""

from __future__ import annotations

import random
from typing import Any

REGISTRY = "registry.acme.example/"


def container(rng: random.Random, i: int) -> dict[str, Any]:
    good = rng.random() < 0.5
    c: dict[str, Any] = {
        "name": f"c{i}",
        "image": (REGISTRY if good else "docker.io/") + f"team/app{i}:"
        + ("1.2.3" if good else "latest"),
        "ports": [{"containerPort": 8080 + i}],
        "env": [{"name": f"VAR_{k}", "value": str(k)} for k in range(rng.randint(0, 6))],
    }
    if good or rng.random() < 0.5:
        c["resources"] = {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"memory": "256Mi"}}
        c["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080 + i}}
        c["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080 + i}}
    if good:
        c["securityContext"] = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}}
    elif rng.random() < 0.3:
        c["securityContext"] = {"privileged": True, "capabilities": {"add": ["NET_ADMIN"]}}
    return c


def workload(rng: random.Random, n: int) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": f"svc{n}", "app": f"svc{n}"}
    if rng.random() < 0.7:
        labels["backstage.io/kubernetes-id"] = f"svc{n}"
    spec: dict[str, Any] = {"containers": [container(rng, i) for i in range(rng.randint(1, 4))]}
    if rng.random() < 0.2:
        spec["hostNetwork"] = True
    if rng.random() < 0.5:
        spec["automountServiceAccountToken"] = False
    namespace = rng.choice(["shop-prod", "payments", "data", "platform-dev"])
    meta = {"name": f"svc{n}", "namespace": namespace, "labels": labels}
    if rng.random() < 0.5:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": rng.randint(1, 4), "selector": {"matchLabels": {"app": f"svc{n}"}},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}
