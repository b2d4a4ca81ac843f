"""Who and what the webhook judges: exemptions, per-policy match, effective enforcement.

Exemptions answer before any policy runs (kube-system must keep working even when a policy
is broken). Per-policy match and enforcement overrides come from configuration so a
platform team can roll a policy out as `warn` in some namespaces without editing it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..engine.governance import configured_enforcement
from ..engine.model import Enforcement, Policy
from ..engine.policyset import matches
from ..engine.settings import PolicyMatch, WebhookSettings
from .review import AdmissionRequest

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def exemption(request: AdmissionRequest, settings: WebhookSettings) -> str | None:
    """Why the request is exempt from every policy, or None."""
    namespace = request.effective_namespace
    if namespace and _any_glob(namespace, exempt_namespaces(settings)):
        return f"namespace {namespace} is exempt"
    if request.user and _any_glob(request.user, settings.exempt_users):
        return f"user {request.user} is exempt"
    for group in request.groups:
        if _any_glob(group, settings.exempt_groups):
            return f"group {group} is exempt"
    if request.user.startswith(SERVICE_ACCOUNT_PREFIX):
        account = request.user[len(SERVICE_ACCOUNT_PREFIX):].replace(":", "/", 1)
        if _any_glob(account, settings.exempt_service_accounts):
            return f"service account {account} is exempt"
    return None


def exempt_namespaces(settings: WebhookSettings) -> tuple[str, ...]:
    """The configured ones plus the webhook's own: it must never block its own rollout."""
    return tuple(sorted({*settings.exempt_namespaces, settings.namespace}))


@dataclass(frozen=True, slots=True)
class Scope:
    """Per-policy admission settings, resolved once per policy set (not per request)."""

    enforcement: Mapping[str, Enforcement]
    match: Mapping[str, tuple[PolicyMatch, ...]]

    def applies(self, policy: Policy, request: AdmissionRequest) -> bool:
        if request.operation not in policy.operations:
            return False
        return all(_matches(m, request) for m in self.match.get(policy.id, ()))


def resolve_scope(policies: Iterable[Policy], settings: WebhookSettings) -> Scope:
    enforcement, match = {}, {}
    for policy in policies:
        enforcement[policy.id] = effective_enforcement(policy, settings.enforcement)
        entries = tuple(m for key, m in settings.match.items() if matches(policy, [key]))
        if entries:
            match[policy.id] = entries
    return Scope(enforcement, match)


def effective_enforcement(policy: Policy, overrides: Mapping[str, str]) -> Enforcement:
    """The configured enforcement (campaigns come on top, per request: see decision)."""
    return configured_enforcement(policy, overrides)


def _matches(match: PolicyMatch, request: AdmissionRequest) -> bool:
    if match.kinds and request.kind not in match.kinds and "*" not in match.kinds:
        return False
    namespace = request.namespace
    if match.namespaces and not _any_glob(namespace, match.namespaces):
        return False
    if match.exclude_namespaces and _any_glob(namespace, match.exclude_namespaces):
        return False
    labels = request.labels
    return all(labels.get(k) == v for k, v in match.labels.items())


def _any_glob(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)
