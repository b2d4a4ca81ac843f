"""`webhook.inventory`: which cluster the admission webhook keeps an inventory of, and how.

Referential policies (`inventory: true`) read `data.inventory`. In the audit the scanner
lists the cluster anyway; at admission the webhook has to keep its own copy, as
Gatekeeper's sync `Config` does. This section says which cluster (the pod's own service
account, or a kubeconfig context, as in `scan.clusters`), which kinds, which namespaces
and how often to relist. Without it the webhook holds referential policies back, because
against an empty inventory they would judge every object wrongly.

Kept out of settings.py so that file stays about the sections every command reads; the
parser reuses the shared checks of config_values so messages look the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config_values import expect_keys, strings, whole_number
from .errors import ConfigError
from .sources.kube_kinds import kind_info

DEFAULT_INVENTORY_KINDS: tuple[str, ...] = (
    "Namespace", "Service", "Ingress", "NetworkPolicy", "PodDisruptionBudget",
    "HorizontalPodAutoscaler", "Deployment", "StatefulSet", "DaemonSet",
)
"""What referential policies commonly look up (the built-in PDB rule, Gatekeeper's
unique-host/unique-selector/PDB templates, `namespaceSelector` matching), and what
Gatekeeper users commonly name in their sync Config. Not Pods or ReplicaSets (many,
churning, and rarely looked up), never ConfigMaps or Secrets by default."""

ALWAYS_SYNCED = "Namespace"
"""`namespaceSelector` matching reads the Namespace objects of the inventory; without them
such a constraint would silently match nothing, so they are synced whatever `kinds` says."""

SECTION = "webhook.inventory"
KEYS = {"name", "in_cluster", "kubeconfig", "context", "kinds", "namespaces",
        "resync_seconds", "timeout_seconds", "watch"}


@dataclass(frozen=True, slots=True)
class InventorySettings:
    """The cluster the webhook lists for `data.inventory`; None in WebhookSettings: off."""

    name: str | None = None
    """How logs, `/readyz` and errors name the cluster; default: the context's name, or
    `in-cluster`."""
    in_cluster: bool = False
    """The pod's own service account (the usual choice when the webhook runs in the
    cluster it admits for)."""
    kubeconfig: Path | None = None
    """None with `in_cluster: false`: `$KUBECONFIG` or `~/.kube/config`, as kubectl."""
    context: str | None = None
    """None: the kubeconfig's current context."""
    kinds: tuple[str, ...] = DEFAULT_INVENTORY_KINDS
    namespaces: tuple[str, ...] = ()
    """Empty: all namespaces."""
    watch: bool = True
    """List once, then follow each kind's changes with a watch (within about a second),
    as Gatekeeper's sync does; off: relist every `resync_seconds`."""
    resync_seconds: float = 600.0
    """How often the cluster is listed again from scratch: with `watch`, a safety net
    against a missed event; without it, also the longest a new object can go unseen by
    referential policies (default 60 then)."""
    timeout_seconds: float = 30.0
    """The time limit of each list request."""

    @property
    def label(self) -> str:
        return self.name or self.context or ("in-cluster" if self.in_cluster else "current")


def parse_inventory(raw: Any, base: Path, path: Path | None) -> InventorySettings | None:
    """The `webhook.inventory` mapping, or None when absent (sync off).

    An empty mapping is refused rather than read as "the current kubeconfig context": a
    webhook in a pod that silently looked for ~/.kube/config would never sync, and one on
    a laptop might sync the wrong cluster."""
    if raw is None:
        return None
    expect_keys(raw, SECTION, KEYS, path)
    in_cluster = raw.get("in_cluster", False)
    if not isinstance(in_cluster, bool):
        raise ConfigError(f"config {path}: {SECTION}.in_cluster must be true or false")
    kubeconfig, context, name = (_text(raw, key, path)
                                 for key in ("kubeconfig", "context", "name"))
    if in_cluster and (kubeconfig or context):
        raise ConfigError(f"config {path}: {SECTION}: in_cluster excludes kubeconfig and "
                          "context")
    if not (in_cluster or kubeconfig or context):
        raise ConfigError(f"config {path}: {SECTION} must name the cluster to sync: "
                          "`in_cluster: true` (the pod's service account), or a "
                          "`kubeconfig` and/or `context`")
    kinds = tuple(strings(raw, "kinds", path)) or DEFAULT_INVENTORY_KINDS
    for kind in kinds:
        try:
            kind_info(kind)
        except ConfigError as exc:
            raise ConfigError(f"config {path}: {SECTION}.kinds: {exc}") from None
    if ALWAYS_SYNCED not in kinds:
        kinds = (ALWAYS_SYNCED, *kinds)
    watch = raw.get("watch", True)
    if not isinstance(watch, bool):
        raise ConfigError(f"config {path}: {SECTION}.watch must be true or false")
    return InventorySettings(
        name=name,
        in_cluster=in_cluster,
        kubeconfig=(base / Path(kubeconfig).expanduser()) if kubeconfig else None,
        context=context,
        kinds=tuple(dict.fromkeys(kinds)),
        namespaces=tuple(strings(raw, "namespaces", path)),
        resync_seconds=float(whole_number(raw, "resync_seconds", 600 if watch else 60,
                                          SECTION, path, minimum=1)),
        watch=watch,
        timeout_seconds=float(whole_number(raw, "timeout_seconds", 30, SECTION, path,
                                           minimum=1)),
    )


def _text(raw: dict[str, Any], key: str, path: Path | None) -> str | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"config {path}: {SECTION}.{key} must be a non-empty string")
    return value
