"""Checking Backstage entities and turning the valid ones into the catalog model.

Validation follows Backstage's own entity rules (apiVersion, kind, name and namespace
syntax, the required `spec` fields of each kind, well-formed references), so a file that
Backstage would reject is reported here too instead of quietly producing a half service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Problem
from ..model import Location
from .model import Catalog, Domain, Entity, Group, Service, System
from .refs import DEFAULT_NAMESPACE, make_ref, name_error, namespace_error, parse_ref, ref_name
from .service_links import service_links, service_tier

API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
KINDS = ("Component", "System", "Group", "Domain", "Resource", "API", "User", "Location")
REQUIRED_SPEC: dict[str, tuple[str, ...]] = {
    "Component": ("type", "lifecycle", "owner"),
    "System": ("owner",),
    "Domain": ("owner",),
    "Resource": ("type", "owner"),
    "API": ("type", "lifecycle", "owner", "definition"),
    "Group": ("type",),
}
# spec field -> (default kind of its references, holds a list)
REF_FIELDS: dict[str, tuple[str, bool]] = {
    "owner": ("group", False),
    "system": ("system", False),
    "domain": ("domain", False),
    "parent": ("group", False),
    "children": ("group", True),
    "members": ("user", True),
    "memberOf": ("group", True),
}


@dataclass(frozen=True, slots=True)
class RawEntity:
    """An entity document that passed validation, with its identity worked out."""

    kind: str
    name: str
    namespace: str
    ref: str
    document: dict[str, Any]
    location: Location


def check_entity(doc: dict[str, Any], location: Location) -> RawEntity | str | None:
    """The valid entity, the reason it is invalid, or None for documents that are not
    catalog entities at all but belong in catalog files (software templates)."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if kind == "Template" or str(api_version).startswith("scaffolder.backstage.io/"):
        return None
    if api_version not in API_VERSIONS:
        return f"apiVersion {api_version!r} is not one of {', '.join(API_VERSIONS)}"
    if not isinstance(kind, str) or not kind:
        return "kind is required"
    if kind not in KINDS:
        return f"kind {kind!r} is not one pathwarden reads ({', '.join(KINDS)}); skipped"
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        return f"{kind}: metadata is required"
    name = metadata.get("name")
    if reason := name_error(name):
        return f"{kind}: {reason}"
    namespace = metadata.get("namespace", DEFAULT_NAMESPACE)
    if reason := namespace_error(namespace):
        return f"{kind} {name}: {reason}"
    if reason := _metadata_error(metadata) or _spec_error(kind, doc.get("spec"), namespace):
        return f"{kind} {name}: {reason}"
    return RawEntity(kind, name, namespace, make_ref(kind, namespace, name), doc, location)


def _metadata_error(metadata: dict[str, Any]) -> str | None:
    for key in ("annotations", "labels"):
        value = metadata.get(key, {})
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return f"metadata.{key} must map strings to strings"
    tags = metadata.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        return "metadata.tags must be a list of strings"
    return None


def _spec_error(kind: str, spec: Any, namespace: str) -> str | None:
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        return "spec must be a mapping"
    for key in REQUIRED_SPEC.get(kind, ()):
        value = spec.get(key)
        if value is None or value == "":
            return f"spec.{key} is required"
        if key != "definition" and not isinstance(value, str):
            return f"spec.{key} must be a string"
    for key, (default_kind, is_list) in REF_FIELDS.items():
        if key not in spec:
            continue
        values = spec[key]
        if is_list and not isinstance(values, list):
            return f"spec.{key} must be a list of entity references"
        for value in values if is_list else [values]:
            try:
                parse_ref(value, default_kind, namespace)
            except ValueError as exc:
                return f"spec.{key}: {exc}"
    return None


def build_catalog(raws: list[RawEntity], problems: list[Problem]) -> Catalog:
    """The catalog model from validated entities (already free of duplicates)."""
    catalog = Catalog(problems=problems)
    by_kind: dict[str, list[RawEntity]] = {}
    for raw in raws:
        catalog.entities[raw.ref] = Entity(raw.kind, raw.name, raw.namespace, raw.ref,
                                           raw.location, raw.document)
        by_kind.setdefault(raw.kind, []).append(raw)
    for raw in by_kind.get("Domain", []):
        spec = _spec(raw)
        owner = _ref(spec.get("owner"), "group", raw)
        catalog.domains[raw.ref] = Domain(raw.name, raw.namespace, raw.ref, _title(raw),
                                          owner, raw.location)
    for raw in by_kind.get("System", []):
        spec = _spec(raw)
        catalog.systems[raw.ref] = System(
            raw.name, raw.namespace, raw.ref, _title(raw), _ref(spec["owner"], "group", raw) or "",
            _ref(spec.get("domain"), "domain", raw), raw.location)
    _build_groups(catalog, by_kind.get("Group", []), by_kind.get("User", []))
    for raw in by_kind.get("Component", []):
        catalog.services[raw.ref] = _service(raw, catalog)
    return catalog


def _service(raw: RawEntity, catalog: Catalog) -> Service:
    spec, metadata = _spec(raw), raw.document["metadata"]
    owner = _ref(spec["owner"], "group", raw) or ""
    system = _ref(spec.get("system"), "system", raw)
    system_entity = catalog.systems.get(system) if system else None
    return Service(
        name=raw.name, namespace=raw.namespace, ref=raw.ref, title=_title(raw),
        owner=owner, owner_name=ref_name(owner), type=spec["type"],
        lifecycle=spec["lifecycle"], system=system,
        domain=system_entity.domain if system_entity else None,
        tier=service_tier(metadata, spec, raw.location, catalog.problems),
        tags=tuple(metadata.get("tags", [])),
        links=service_links(metadata.get("annotations", {}), raw.location, catalog.problems),
        location=raw.location, description=metadata.get("description"),
    )


def _build_groups(catalog: Catalog, groups: list[RawEntity], users: list[RawEntity]) -> None:
    """Parent/children and membership are declared from either side in Backstage; both
    sides are merged so a lookup from either end gives the same answer."""
    parent: dict[str, str] = {}
    children: dict[str, list[str]] = {g.ref: [] for g in groups}
    members: dict[str, list[str]] = {g.ref: [] for g in groups}
    for raw in groups:
        spec = _spec(raw)
        if up := _ref(spec.get("parent"), "group", raw):
            parent.setdefault(raw.ref, up)
            _add(children.setdefault(up, []), raw.ref)
        for child in _refs(spec.get("children"), "group", raw):
            parent.setdefault(child, raw.ref)
            _add(children[raw.ref], child)
        for member in _refs(spec.get("members"), "user", raw):
            _add(members[raw.ref], member)
    for raw in users:
        for group in _refs(_spec(raw).get("memberOf"), "group", raw):
            _add(members.setdefault(group, []), raw.ref)
    for raw in groups:
        spec = _spec(raw)
        profile = spec.get("profile") if isinstance(spec.get("profile"), dict) else {}
        catalog.groups[raw.ref] = Group(
            raw.name, raw.namespace, raw.ref, _title(raw), profile.get("displayName"),
            spec["type"], parent.get(raw.ref), tuple(children[raw.ref]),
            tuple(members[raw.ref]), profile.get("email"), raw.location)


def _spec(raw: RawEntity) -> dict[str, Any]:
    return raw.document.get("spec") or {}


def _title(raw: RawEntity) -> str | None:
    title = raw.document["metadata"].get("title")
    return str(title) if title is not None else None


def _ref(value: Any, default_kind: str, raw: RawEntity) -> str | None:
    return parse_ref(value, default_kind, raw.namespace) if value else None


def _refs(values: Any, default_kind: str, raw: RawEntity) -> list[str]:
    return [parse_ref(v, default_kind, raw.namespace) for v in values or []]


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)
