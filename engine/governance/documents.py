"""The shape every governance file shares: `metadata.name` (the id) and a `spec` mapping
with known fields only, so a typo is named instead of silently ignored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def named_spec(doc: Mapping[str, Any], what: str,
               error: type[ValueError]) -> tuple[str, dict[str, Any]]:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise error(f"metadata.name (the {what} id) is required")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise error(f"{what} {name}: spec must be a mapping")
    return name, spec


def known_fields(spec: Mapping[str, Any], known: Iterable[str], where: str,
                 error: type[ValueError]) -> None:
    allowed = set(known)
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise error(f"{where}: unknown field(s) {unknown}; known: {sorted(allowed)}")
