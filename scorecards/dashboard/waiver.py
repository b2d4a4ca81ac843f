"""One waiver's page: what it says, what it excuses now, and who did what to it when.

A lead opens it to decide whether an exception is still justified, so the page puts the
definition next to its effect (the findings and services it excuses in the latest scans)
and its history (the audit trail the store keeps for every request, decision and file
edit). What it excuses changes only with a scan and is cached per data version; the
waiver itself and its trail are read on every request, because an approval through the
API (on any replica) changes both at once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...engine.governance import Waiver
from ...engine.governance.configured import waiver_of_row
from ...engine.governance.waivers import COVERS
from ...engine.store.models import WaiverEvent, WaiverRow
from ..context import AppContext
from ..governance_views import WaiverLine, named_services, service_index, waiver_lines
from ..views import team_of
from .common import Snapshot
from .data import DataCache, excused_by

MAX_FINDINGS = 200
"""Findings listed with their messages; the counts per service cover all of them."""
MAX_EVENTS = 500
FIELDS = ("policies", *COVERS, "reason", "requestedBy", "approvedBy", "requested", "expires")
"""The spec's fields in the order a waiver file writes them; others follow by name."""
LABELS = {"requestedBy": "requested by", "approvedBy": "approved by",
          "requested": "requested on"}


@dataclass(frozen=True, slots=True)
class SpecChange:
    """One spec field a `changed` event touched. Lists show the items dropped and added
    (a waiver widened to one more service reads as `+ shop-cart`); other values show
    before and after, `None` where the field was absent."""

    field: str
    before: str | None
    after: str | None
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        return bool(self.removed or self.added)


@dataclass(frozen=True, slots=True)
class TrailEvent:
    time: datetime
    actor: str
    action: str
    comment: str | None
    changes: tuple[SpecChange, ...]
    """The fields a `changed` event changed."""
    spec: tuple[tuple[str, str], ...]
    """What was requested or first read from the file (`requested`, `created`)."""
    other: str | None
    """Any other detail, as JSON, so nothing the store kept is hidden."""


@dataclass(frozen=True, slots=True)
class ExcusedFinding:
    service: str | None
    policy: str
    target: str
    messages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExcusedService:
    ref: str | None
    """None: findings of targets that belong to no service."""
    team: str
    findings: int
    policies: tuple[str, ...]
    known: bool
    """In the catalog (so its page exists)."""


@dataclass(frozen=True, slots=True)
class Found:
    waiver: Waiver
    row: WaiverRow | None
    removed: bool
    """A file waiver that no file holds any more, or an annotation taken off its object:
    kept for its audit trail."""


def find_waiver(ctx: AppContext, waiver_id: str) -> Found | None:
    """Like `data.current_waivers`, for one id: a file waiver as the server applies it
    now, an API waiver as the store has it now, else a file waiver that was removed."""
    applied = ctx.governance.waiver(waiver_id)
    row = ctx.store.waiver_row(waiver_id)
    if applied is not None and applied.source not in ("api", "annotation"):
        return Found(applied, row, False)
    if row is None:
        return None
    removed = row.state == "removed" if row.source == "annotation" else row.source != "api"
    return Found(waiver_of_row(row), row, removed)


def show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


def _ordered(keys: set[str]) -> list[str]:
    return [k for k in FIELDS if k in keys] + sorted(keys - set(FIELDS))


def spec_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[SpecChange]:
    """The fields that differ, in file order."""
    out = []
    for key in _ordered(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        label = LABELS.get(key, key)
        if isinstance(old, list | None) and isinstance(new, list | None) \
                and (old or new):
            old_items, new_items = [str(v) for v in old or []], [str(v) for v in new or []]
            out.append(SpecChange(
                label, show(old) if old is not None else None,
                show(new) if new is not None else None,
                tuple(v for v in old_items if v not in new_items),
                tuple(v for v in new_items if v not in old_items)))
        else:
            out.append(SpecChange(label, None if old is None else show(old),
                                  None if new is None else show(new)))
    return out


def trail_event(event: WaiverEvent) -> TrailEvent:
    detail = dict(event.detail or {})
    comment = detail.pop("comment", None)
    changes: list[SpecChange] = []
    if event.action == "changed" and ("before" in detail or "after" in detail):
        changes = spec_changes(detail.pop("before", None) or {},
                               detail.pop("after", None) or {})
    spec = detail.pop("spec", None)
    pairs = tuple((LABELS.get(k, k), show(spec[k])) for k in _ordered(set(spec))
                  if spec[k] not in (None, [])) if isinstance(spec, dict) else ()
    other = json.dumps(detail, sort_keys=True, default=str) if detail else None
    return TrailEvent(event.time, event.actor, event.action,
                      str(comment) if comment else None, tuple(changes), pairs, other)


def audit_trail(ctx: AppContext, waiver_id: str) -> tuple[list[TrailEvent], bool]:
    """Oldest first, as a story is read; True when only the newest `MAX_EVENTS` fit."""
    events = ctx.store.waiver_events(waiver_id=waiver_id, limit=MAX_EVENTS)
    events.sort(key=lambda e: (e.time, e.id or 0))
    return [trail_event(e) for e in events], len(events) >= MAX_EVENTS


def _target_label(kind: str, object_kind: str | None, namespace: str | None,
                  name: str) -> str:
    if kind == "k8s":
        return f"{object_kind or 'object'} {namespace + '/' if namespace else ''}{name}"
    return name


def excused_services(counts: Sequence[tuple[str | None, str, int]], named: Sequence[str],
                     services: Mapping[str, Any]) -> list[ExcusedService]:
    """Services whose findings it excuses now, then those it names that have none."""
    per: dict[str | None, dict[str, int]] = defaultdict(dict)
    for service, policy, n in counts:
        per[service][policy] = per[service].get(policy, 0) + n
    for ref in named:
        per.setdefault(ref, {})
    out = []
    for ref, policies in per.items():
        row = services.get(ref) if ref else None
        out.append(ExcusedService(ref, team_of(row.owner if row else None),
                                  sum(policies.values()), tuple(sorted(policies)),
                                  row is not None))
    return sorted(out, key=lambda s: (-s.findings, s.ref or "~"))


def waiver_page(ctx: AppContext, data: DataCache, snap: Snapshot, found: Found,
                now: datetime) -> dict[str, Any]:
    waiver = found.waiver
    counts, rows, total = data.get((snap.version, "excused-by", waiver.id),
                                   lambda: excused_by(ctx.store, waiver.id, MAX_FINDINGS))
    named = data.get((snap.version, "waiver-named", waiver.id, waiver.services),
                     lambda: named_services(waiver, snap.services.values(),
                                            service_index(snap.services.values())))
    rules = ctx.governance.settings
    line: WaiverLine = waiver_lines(
        [waiver], [(s, p, waiver.id, n) for s, p, n in counts], snap.services, now,
        zone=rules.zone, expiring_within=rules.waivers.expiring_within_days,
        named={waiver.id: named})[0]
    findings = [ExcusedFinding(
        f.service, f.policy_id,
        _target_label(t.kind, t.object_kind, t.namespace, t.name),
        tuple(str(v.get("msg", "")) for v in f.violations or []))
        for f, t in rows]
    trail, clipped = audit_trail(ctx, waiver.id)
    # A file's `requested: 2026-10-20` is stored as that day's first instant in the
    # governance zone: shown in UTC it would read as the day before.
    requested_on = (waiver.requested_at.astimezone(rules.zone).date()
                    if waiver.requested_at else None)
    return {"waiver": waiver, "row": found.row, "line": line, "requested_on": requested_on,
            "status": "removed" if found.removed else line.status,
            "removed": found.removed, "findings": findings, "findings_total": total,
            "services_excused": excused_services(counts, named, snap.services),
            "trail": trail, "trail_clipped": clipped, "covers": COVERS,
            "known_policies": set(ctx.policies)}
