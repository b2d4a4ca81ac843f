"""Policy metadata: one validator for Rego `# METADATA` and the Python `@rule` decorator.

Both languages describe a policy with the same fields, so both are checked here and a
typo (`severity: hihg`, an unknown key) is reported the same way wherever it was made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..model import TARGET_KINDS, Enforcement, Language, Location, Policy, Severity

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")

# key -> short description, used for the unknown-key message and the README table.
FIELDS = {
    "id": "stable policy id (lowercase letters, digits, . _ -)",
    "title": "one-line name",
    "description": "what the policy checks and why",
    "severity": "low | medium | high | critical",
    "targets": "target kinds: k8s, repo, pipeline",
    "kinds": "Kubernetes kinds (k8s targets), e.g. [Pod] or [Deployment, StatefulSet]",
    "enforcement": "default enforcement: deny | warn | audit",
    "remediation": "what to do to pass",
    "url": "link to the golden-path documentation",
    "tags": "labels used by --select and scorecards, e.g. pss:baseline",
    "parameters": "default parameters, readable as input.parameters",
    "required_parameters": "parameters that must be non-empty, else the policy is skipped",
    "inventory": "true when the policy reads data.inventory (referential)",
    "autogen": "false to stop a Pod policy from also judging workload pod templates",
    "operations": "admission operations judged: CREATE, UPDATE (default), DELETE, CONNECT",
}

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


class MetadataError(ValueError):
    """Invalid metadata; the loader attaches the file and line."""


def build_policy(meta: Mapping[str, Any], *, language: Language, location: Location) -> Policy:
    unknown = sorted(set(meta) - set(FIELDS))
    if unknown:
        raise MetadataError(f"unknown metadata key(s) {unknown}; known keys: {sorted(FIELDS)}")
    policy_id = _text(meta, "id", required=True)
    if not ID_PATTERN.match(policy_id):
        raise MetadataError(f"id {policy_id!r} must match {ID_PATTERN.pattern}")
    targets = _names(meta, "targets", default=("k8s",))
    bad_targets = [t for t in targets if t not in TARGET_KINDS]
    if bad_targets:
        raise MetadataError(f"targets {bad_targets} unknown; use {list(TARGET_KINDS)}")
    operations = tuple(o.upper() for o in _names(meta, "operations",
                                                  default=("CREATE", "UPDATE")))
    bad_operations = [o for o in operations if o not in OPERATIONS]
    if bad_operations:
        raise MetadataError(f"operations {bad_operations} unknown; use {list(OPERATIONS)}")
    parameters = meta.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise MetadataError("parameters must be a mapping of name to default value")
    return Policy(
        id=policy_id,
        title=_text(meta, "title") or policy_id,
        description=_text(meta, "description"),
        severity=_enum(meta, "severity", Severity, Severity.MEDIUM),
        targets=targets,
        kinds=_names(meta, "kinds", default=()),
        enforcement=_enum(meta, "enforcement", Enforcement, Enforcement.DENY),
        remediation=_text(meta, "remediation"),
        url=_text(meta, "url") or None,
        tags=_names(meta, "tags", default=()),
        language=language,
        location=location,
        parameters=dict(parameters),
        required_parameters=_names(meta, "required_parameters", default=()),
        inventory=_flag(meta, "inventory", False),
        autogen=_flag(meta, "autogen", True),
        operations=operations,
    )


def _text(meta: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = meta.get(key)
    if value is None:
        if required:
            raise MetadataError(f"{key!r} is required")
        return ""
    if not isinstance(value, str):
        raise MetadataError(f"{key!r} must be a string, not {type(value).__name__}")
    return value.strip()


def _names(meta: Mapping[str, Any], key: str, *, default: tuple[str, ...]) -> tuple[str, ...]:
    value = meta.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise MetadataError(f"{key!r} must be a list of strings")
    return tuple(value)


def _enum(meta: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = meta.get(key)
    if value is None:
        return default
    try:
        return kind(str(value).lower())
    except ValueError:
        raise MetadataError(
            f"{key!r} is {value!r}; use one of {[m.value for m in kind]}"
        ) from None


def _flag(meta: Mapping[str, Any], key: str, default: bool) -> bool:
    value = meta.get(key, default)
    if not isinstance(value, bool):
        raise MetadataError(f"{key!r} must be true or false")
    return value
