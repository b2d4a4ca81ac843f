"""Waivers: a reviewed, expiring exception for some policies on some targets.

A waiver names policies (ids or tags, globs) and what it covers: services, namespaces,
objects (`Kind/namespace/name`), repositories or pipelines, with globs. Several kinds of
cover narrow each other (a service AND a namespace); several values of one kind widen it.
Only an approved waiver whose expiry is still ahead applies, checked against the clock at
each use, so an expired waiver stops applying the moment it expires.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from ..model import Policy, TargetRef
from ..policyset import matches
from .dates import DateError, end_of, read_day_or_instant, shown, start_of
from .documents import known_fields, named_spec

API_VERSION = "pathwarden.dev/v1"
COVERS = ("services", "namespaces", "objects", "repositories", "pipelines")
STATES = ("requested", "approved", "rejected", "revoked")


class WaiverError(ValueError):
    """A waiver that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class Waiver:
    id: str
    policies: tuple[str, ...]
    reason: str
    requested_by: str
    expires: str
    """As written (`2026-12-31`), for people."""
    expires_at: datetime
    """The first instant it no longer applies (aware UTC)."""
    approved_by: str | None = None
    services: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    repositories: tuple[str, ...] = ()
    pipelines: tuple[str, ...] = ()
    state: str = "approved"
    source: str = "file"
    """`file` (reviewed in git), `api` (requested and approved through the API) or
    `annotation` (the workload's own, where configuration allows it)."""
    location: str | None = None
    requested_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.state == "approved" and now < self.expires_at

    def last_day(self, zone: tzinfo) -> date:
        """The last day it applies, in `zone` (`expires_at` is the first instant after)."""
        return (self.expires_at - timedelta(microseconds=1)).astimezone(zone).date()

    def days_left(self, now: datetime, zone: tzinfo) -> int:
        """Days from today to its last day: 0 on the last day, negative once expired."""
        return (self.last_day(zone) - now.astimezone(zone).date()).days

    def names_service(self, service: str) -> bool:
        """Whether its `services` cover name `service` (a ref or a bare name)."""
        return bool(self.services) and _service_matches(self.services, service, None)

    def covers_policy(self, policy: Policy) -> bool:
        return matches(policy, self.policies)

    def covers(self, ref: TargetRef, service_name: str | None = None) -> bool:
        """Every kind of cover the waiver names must match the target."""
        return self.covers_scope(ref, service_name) and self.covers_name(ref)

    def covers_scope(self, ref: TargetRef, service_name: str | None = None) -> bool:
        """The service and namespace covers: the same for many targets."""
        if self.services and not _service_matches(self.services, ref.service, service_name):
            return False
        return not self.namespaces or (ref.kind == "k8s" and _any(ref.namespace,
                                                                  self.namespaces))

    def covers_name(self, ref: TargetRef) -> bool:
        """The object, repository and pipeline covers: per target."""
        kind = ref.kind
        if self.objects and not (kind == "k8s" and _any(object_name(ref), self.objects)):
            return False
        if self.repositories and not (kind == "repo" and _any(ref.name, self.repositories)):
            return False
        return not self.pipelines or (kind == "pipeline" and _any(ref.name, self.pipelines))

    def as_document(self) -> dict[str, Any]:
        """The waiver as its YAML file would hold it (also the API's shape)."""
        spec: dict[str, Any] = {"policies": list(self.policies)}
        for name in COVERS:
            if getattr(self, name):
                spec[name] = list(getattr(self, name))
        spec.update(reason=self.reason, requestedBy=self.requested_by,
                    approvedBy=self.approved_by, expires=self.expires)
        return {"apiVersion": API_VERSION, "kind": "Waiver",
                "metadata": {"name": self.id}, "spec": spec}


def object_name(ref: TargetRef) -> str:
    """`Deployment/shop/web`, or `Namespace/shop` for cluster-scoped objects."""
    parts = [ref.object_kind or "", *([ref.namespace] if ref.namespace else []), ref.name]
    return "/".join(parts)


def waiver_from_document(doc: Mapping[str, Any], *, zone: tzinfo, max_days: int,
                         today: date, source: str = "file", location: str | None = None,
                         state: str = "approved") -> Waiver:
    """Raises WaiverError naming the problem; `today` bounds the expiry cap."""
    name, spec = named_spec(doc, "waiver", WaiverError)
    return waiver_from_spec(name, spec, zone=zone, max_days=max_days, today=today,
                            source=source, location=location, state=state)


def waiver_from_spec(name: str, spec: Mapping[str, Any], *, zone: tzinfo, max_days: int,
                     today: date, source: str, location: str | None,
                     state: str) -> Waiver:
    known_fields(spec, ("policies", *COVERS, "reason", "requestedBy", "approvedBy", "expires",
                        "requested"), f"waiver {name}", WaiverError)
    policies = _strings(name, spec, "policies")
    if not policies:
        raise WaiverError(f"waiver {name}: spec.policies must name at least one policy id "
                          "or tag")
    covers = {c: tuple(_strings(name, spec, c)) for c in COVERS}
    if not any(covers.values()):
        raise WaiverError(f"waiver {name}: say what it covers: one of {list(COVERS)}")
    for key, what in (("reason", "why the deviation is needed"),
                      ("requestedBy", "who asked for it")):
        if not isinstance(spec.get(key), str) or not spec[key].strip():
            raise WaiverError(f"waiver {name}: spec.{key} is required ({what})")
    approved_by = spec.get("approvedBy")
    if source == "file" and (not isinstance(approved_by, str) or not approved_by.strip()):
        raise WaiverError(f"waiver {name}: spec.approvedBy is required in a waiver file")
    if "expires" not in spec:
        raise WaiverError(f"waiver {name}: spec.expires is required (a date, at most "
                          f"{max_days} days ahead)")
    try:
        expires = read_day_or_instant(spec["expires"])
        requested = read_day_or_instant(spec.get("requested") or today)
    except DateError as exc:
        raise WaiverError(f"waiver {name}: {exc}") from exc
    expires_at = end_of(expires, zone)
    requested_at = start_of(requested, zone)
    # A day counts whole: requested today, `expires` may name the day `max_days` ahead.
    allowed = timedelta(days=max_days + (0 if isinstance(expires, datetime) else 1))
    if expires_at - requested_at > allowed:
        raise WaiverError(
            f"waiver {name}: expires {shown(expires)}, more than the allowed {max_days} days "
            f"after {shown(requested)} (governance.waivers.max_days)")
    return Waiver(
        id=name, policies=tuple(policies), reason=spec["reason"].strip(),
        requested_by=spec["requestedBy"].strip(), expires=shown(expires),
        expires_at=expires_at,
        approved_by=approved_by.strip() if isinstance(approved_by, str) else None,
        state=state, source=source, location=location, requested_at=requested_at,
        **covers)


def _strings(name: str, spec: Mapping[str, Any], key: str) -> list[str]:
    value = spec.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise WaiverError(f"waiver {name}: spec.{key} must be a list of strings")
    return value


def _any(value: str | None, patterns: Iterable[str]) -> bool:
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _service_matches(patterns: tuple[str, ...], ref: str | None, name: str | None) -> bool:
    """A service is named by its ref (`component:default/shop-web`) or its name."""
    if ref is None:
        return False
    short = name or ref.rsplit("/", 1)[-1]
    return _any(ref, patterns) or _any(short, patterns)
