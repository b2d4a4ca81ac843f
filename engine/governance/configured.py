"""The governance a configuration describes: files, plus API waivers from the store.

Every process builds it here (scanner, serve, webhook, report), so they all apply the
same waivers and campaigns. Problems (a broken waiver file) are returned, not raised: the
other waivers and campaigns still apply.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Problem, StoreError
from ..model import Location, Target
from .annotations import annotation_waiver
from .book import Governance
from .config import GovernanceSettings
from .loading import read_governance_files
from .waivers import COVERS, Waiver, object_name

if TYPE_CHECKING:
    from ..settings import Settings
    from ..store import Store
    from ..store.models import WaiverRow

log = logging.getLogger("pathwarden.governance")


def governance_dirs(settings: Settings, extra_dirs: Iterable[Path] = ()) -> list[Path]:
    """Waivers and campaigns live next to the organisation's policies (never in the
    built-in library) and in `governance.dirs`."""
    return [*settings.policies.dirs, *extra_dirs, *settings.governance.dirs]


def load_governance(settings: Settings, now: datetime, *, store: Store | None = None,
                    sync: bool = False, extra_dirs: Iterable[Path] = ()
                    ) -> tuple[Governance, list[Problem]]:
    """`sync`: also record file waivers in the store's audit trail (scanner and serve do;
    the webhook only reads)."""
    rules = settings.governance
    files = read_governance_files(governance_dirs(settings, extra_dirs), rules,
                                  today=now.astimezone(rules.zone).date())
    problems = list(files.problems)
    waivers = list(files.waivers)
    if store is not None:
        found, unavailable = api_waivers(store, files.waivers, sync_at=now if sync else None)
        waivers += found
        problems += unavailable
    governance = Governance(rules, waivers=waivers, campaigns=files.campaigns,
                            overrides=settings.webhook.enforcement)
    return governance, problems


def api_waivers(store: Store, file_waivers: Iterable[Waiver], *,
                sync_at: datetime | None = None) -> tuple[list[Waiver], list[Problem]]:
    """Waivers requested and decided through the API (a file waiver of the same id wins);
    when the store cannot answer, none, and a problem saying so. `sync_at`: first record
    the file waivers in the store's audit trail, as of then."""
    file_waivers = list(file_waivers)
    file_ids = {w.id for w in file_waivers}
    try:
        if sync_at is not None:
            store.sync_file_waivers([file_row(w) for w in file_waivers], sync_at)
        rows = store.waiver_rows()
    except StoreError as exc:
        log.error("waivers from the API are not applied: %s", exc)
        return [], [Problem("governance", f"API waivers unavailable: {exc}",
                            Location(store.url))]
    return [w for w in (waiver_of_row(r) for r in rows)
            if w.source == "api" and w.id not in file_ids], []


def sync_annotation_waivers(store: Store, targets: Iterable[Target],
                            annotations: Mapping[str, Mapping[str, Any]] | None,
                            rules: GovernanceSettings, now: datetime) -> list[Problem]:
    """Record the self-service waivers the scanned workloads carry (valid ones, used or
    not), so the waiver pages and the audit trail show them like file waivers; a workload
    scanned without its annotation any more has its waiver `removed`."""
    if annotations is None:
        return []
    # A controller's Pods carry its template's annotations; the controller is recorded,
    # not every Pod it makes (they come and go with each rollout).
    targets = [t for t in targets if t.ref.id in annotations and not _controlled(t)]
    found = [w for w in (annotation_waiver(annotations[t.ref.id], t.ref, rules, now)
                         for t in targets) if w is not None]
    rows = [{**file_row(w), "requested_at": now} for w in found]
    try:
        store.sync_annotation_waivers(rows, {object_name(t.ref) for t in targets}, now)
    except StoreError as exc:
        log.error("annotation waivers not recorded: %s", exc)
        return [Problem("governance", f"annotation waivers not recorded: {exc}",
                        Location(store.url))]
    return []


def _controlled(target: Target) -> bool:
    obj = (target.document.get("review") or {}).get("object") or {}
    owners = (obj.get("metadata") or {}).get("ownerReferences") if isinstance(obj, dict) \
        else None
    return isinstance(owners, list) and any(
        isinstance(o, dict) and o.get("controller") for o in owners)


def file_row(waiver: Waiver) -> dict[str, Any]:
    return {"waiver_id": waiver.id, "location": waiver.location, "spec": spec_of(waiver),
            "expires_at": waiver.expires_at, "requested_by": waiver.requested_by,
            "approved_by": waiver.approved_by,
            "requested_at": waiver.requested_at or waiver.expires_at}


def spec_of(waiver: Waiver) -> dict[str, Any]:
    spec = waiver.as_document()["spec"]
    return {k: v for k, v in spec.items() if v is not None}


def waiver_of_row(row: WaiverRow) -> Waiver:
    spec = row.spec
    return Waiver(
        id=row.waiver_id, policies=tuple(spec.get("policies") or ()),
        reason=str(spec.get("reason") or ""), requested_by=row.requested_by,
        expires=str(spec.get("expires") or row.expires_at.date().isoformat()),
        expires_at=row.expires_at, approved_by=row.approved_by,
        state=row.state if row.state != "removed" else "revoked", source=row.source,
        location=row.location, requested_at=row.requested_at,
        **{c: tuple(spec.get(c) or ()) for c in COVERS})
