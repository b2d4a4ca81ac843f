"""Golden-path pod rules in Python: parameterised checks that run on every pod template."""

from __future__ import annotations

from pathwarden.engine.rules import rule

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _containers(spec):
    for kind in CONTAINER_LISTS:
        for i, container in enumerate(spec.get(kind) or ()):
            if isinstance(container, dict):
                yield kind, i, container


@rule(
    id="golden-allowed-registries",
    title="Images from allowed registries",
    description="Images come only from the registries the platform mirrors and scans.",
    severity="high",
    kinds=["Pod"],
    enforcement="deny",
    remediation="Push the image to an allowed registry (see parameters.registries) and "
    "reference it from there.",
    url="https://kubernetes.io/docs/concepts/containers/images/",
    tags=["golden-path:supply-chain", "golden-path:deploy", "best-practice"],
    parameters={"registries": []},
    required_parameters=["registries"],
)
def allowed_registries(doc):
    prefixes = tuple(doc["parameters"]["registries"])
    spec = doc["review"]["object"].get("spec") or {}
    for kind, i, c in _containers(spec):
        image = str(c.get("image", ""))
        if not image.startswith(prefixes):
            yield {"msg": f"container {c.get('name')!r} image {image!r} is not from an allowed "
                          f"registry ({', '.join(prefixes)})",
                   "path": f"spec.{kind}[{i}].image"}


@rule(
    id="golden-service-account-token",
    title="No default service account token",
    description="Pods that run as the namespace's default service account do not get its "
    "API token mounted; a workload that talks to the API gets its own service account.",
    severity="medium",
    kinds=["Pod"],
    enforcement="warn",
    remediation="Set spec.automountServiceAccountToken: false, or run the pod as a dedicated "
    "service account (spec.serviceAccountName) with the least RBAC it needs.",
    url="https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/",
    tags=["golden-path:secure-workloads", "best-practice"],
)
def service_account_token(doc):
    spec = doc["review"]["object"].get("spec") or {}
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if account == "default" and spec.get("automountServiceAccountToken") is not False:
        yield {"msg": "pod runs as the default service account with its token automounted",
               "path": "spec.automountServiceAccountToken"}
