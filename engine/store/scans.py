"""Writing and reading scans: bulk, atomic, and safe with several scanners on one database.

A scan is started (a `running` row, refused while another scan of the same scope and shard
runs), then written in one transaction: services, targets, every finding, the daily
history and the final status. Readers only count findings of ended scans, so a scan's
results appear all at once, never half-written. Rows go in with executemany, never one
INSERT per finding.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, text, update

from ..model import Finding, Target
from .models import FindingDay, FindingRow, ScanRow, ServiceRow, TargetRow

ENDED = ("succeeded", "partial")
CHUNK = 500
UNOWNED = "unowned"
STALE_AFTER = timedelta(hours=6)
"""A `running` scan older than this is taken to have crashed and no longer blocks."""

findings_table = FindingRow.__table__  # type: ignore[attr-defined]
targets_table = TargetRow.__table__  # type: ignore[attr-defined]
scans_table = ScanRow.__table__  # type: ignore[attr-defined]
services_table = ServiceRow.__table__  # type: ignore[attr-defined]
days_table = FindingDay.__table__  # type: ignore[attr-defined]


class ScanBusy(Exception):
    """Another scan of the same scope and shard is running."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What the scanner hands the store at the end of a scan."""

    targets: Sequence[tuple[Target, str]]
    """Each target with the name of the source it came from."""
    findings: Sequence[Finding]
    services: Sequence[dict[str, Any]]
    """Catalog services as `ServiceRow` fields (without id / updated_at)."""
    errors: Sequence[dict[str, Any]]
    status: str


def lock_key(scope: str, shard: int, shards: int) -> int:
    return zlib.crc32(f"pathwarden-scan:{scope}:{shard}/{shards}".encode())


def start_scan(conn: Connection, scope: str, shard: int, shards: int, trigger: str,
               now: datetime) -> int:
    """Insert a running scan unless one of this scope and shard runs (raises ScanBusy).

    The check and the insert are one transaction under a lock (PostgreSQL advisory lock;
    SQLite's write lock), so two replicas triggered at once cannot both start.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                     {"key": lock_key(scope, shard, shards)})
    running = conn.execute(
        select(scans_table.c.id, scans_table.c.started_at).where(
            scans_table.c.scope == scope, scans_table.c.shard == shard,
            scans_table.c.shards == shards, scans_table.c.status == "running")).all()
    for scan_id, started_at in running:
        started = _aware(started_at)
        if now - started < STALE_AFTER:
            raise ScanBusy(f"scan {scan_id} of scope {scope!r} (shard {shard}/{shards}) is "
                           f"running since {started.isoformat()}")
        conn.execute(update(scans_table).where(scans_table.c.id == scan_id).values(
            status="failed", finished_at=now,
            errors=[{"source": "scanner", "error": "abandoned: still running after "
                     f"{STALE_AFTER}; the scanning process probably died"}]))
    return int(conn.execute(insert(scans_table).values(
        scope=scope, shard=shard, shards=shards, status="running", trigger=trigger,
        started_at=now, counts={}, errors=[])).inserted_primary_key[0])


def write_scan(conn: Connection, scan_id: int, result: ScanResult, now: datetime) -> None:
    """Everything of one scan, and its end, in the caller's single transaction."""
    scan = conn.execute(select(scans_table).where(scans_table.c.id == scan_id)).one()
    _upsert_services(conn, result.services, now)
    ids = _upsert_targets(conn, result.targets, now)
    rows = [_finding_row(scan_id, ids[f.target.id], f) for f in result.findings]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(findings_table), rows[start:start + 5000])
    _write_days(conn, f"{scan.scope}#{scan.shard}/{scan.shards}", result.findings, now)
    by_status = Counter(f.status.value for f in result.findings)
    counts = {"targets": len(result.targets), "findings": len(result.findings),
              "by_status": dict(by_status), "services": len(result.services),
              "unowned": sum(1 for t, _ in result.targets if t.ref.service is None)}
    conn.execute(update(scans_table).where(scans_table.c.id == scan_id).values(
        status=result.status, finished_at=now, counts=counts, errors=list(result.errors)))


def fail_scan(conn: Connection, scan_id: int, errors: Sequence[dict[str, Any]],
              now: datetime) -> None:
    conn.execute(update(scans_table).where(scans_table.c.id == scan_id).values(
        status="failed", finished_at=now, errors=list(errors)))


def latest_scan_ids(conn: Connection) -> list[int]:
    """The newest ended scan of every scope and shard layout: the estate as it is now."""
    newest = (select(func.max(scans_table.c.id).label("id"))
              .where(scans_table.c.status.in_(ENDED))
              .group_by(scans_table.c.scope, scans_table.c.shard, scans_table.c.shards))
    return [row.id for row in conn.execute(newest)]


def prune(conn: Connection, retention: timedelta, now: datetime) -> int:
    """Delete ended scans older than `retention` (their findings go with them), keeping the
    latest of each scope; daily history is kept. Returns how many scans were removed."""
    keep = set(latest_scan_ids(conn))
    old = [row.id for row in conn.execute(select(scans_table.c.id).where(
        scans_table.c.started_at < now - retention, scans_table.c.status != "running"))
        if row.id not in keep]
    for start in range(0, len(old), CHUNK):
        chunk = old[start:start + CHUNK]
        conn.execute(delete(findings_table).where(findings_table.c.scan_id.in_(chunk)))
        conn.execute(delete(scans_table).where(scans_table.c.id.in_(chunk)))
    return len(old)


def _finding_row(scan_id: int, target_pk: int, f: Finding) -> dict[str, Any]:
    violations = None
    if f.violations or f.warnings:
        violations = [{"msg": v.msg, "path": v.path, "kind": kind}
                      for kind, vs in (("deny", f.violations), ("warn", f.warnings))
                      for v in vs]
    return {"scan_id": scan_id, "target": target_pk, "policy_id": f.policy_id,
            "service": f.target.service, "status": f.status.value,
            "severity": f.severity.value, "enforcement": f.enforcement.value,
            "violations": violations, "error": f.error, "waiver": f.waiver}


def _upsert_services(conn: Connection, services: Sequence[dict[str, Any]],
                     now: datetime) -> None:
    if not services:
        return
    existing = dict(conn.execute(select(services_table.c.ref, services_table.c.id)).all())
    new = [{**s, "updated_at": now} for s in services if s["ref"] not in existing]
    old = [{**s, "updated_at": now, "b_id": existing[s["ref"]]}
           for s in services if s["ref"] in existing]
    if new:
        conn.execute(insert(services_table), new)
    if old:
        columns = {k: bindparam(k) for k in old[0] if k not in ("b_id", "ref")}
        conn.execute(update(services_table).where(
            services_table.c.id == bindparam("b_id")).values(**columns), old)


def _upsert_targets(conn: Connection, targets: Sequence[tuple[Target, str]],
                    now: datetime) -> dict[str, int]:
    wanted = {t.ref.id: (t, source) for t, source in targets}
    ids = _target_ids(conn, list(wanted))
    rows = []
    for target_id, (target, source) in wanted.items():
        ref = target.ref
        rows.append({"target_id": target_id, "kind": ref.kind, "object_kind": ref.object_kind,
                     "name": ref.name, "namespace": ref.namespace, "service": ref.service,
                     "source": source, "location": str(ref.location) if ref.location else None,
                     "last_seen": now})
    new = [{**r, "first_seen": now} for r in rows if r["target_id"] not in ids]
    old = [{**r, "b_id": ids[r["target_id"]]} for r in rows if r["target_id"] in ids]
    for start in range(0, len(new), 5000):
        conn.execute(insert(targets_table), new[start:start + 5000])
    if old:
        columns = {k: bindparam(k) for k in old[0] if k not in ("b_id", "target_id")}
        conn.execute(update(targets_table).where(
            targets_table.c.id == bindparam("b_id")).values(**columns), old)
    if new:
        ids.update(_target_ids(conn, [r["target_id"] for r in new]))
    return ids


def _target_ids(conn: Connection, target_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(target_ids), CHUNK):
        chunk = target_ids[start:start + CHUNK]
        found.update(conn.execute(select(targets_table.c.target_id, targets_table.c.id)
                                  .where(targets_table.c.target_id.in_(chunk))).all())
    return found


def _write_days(conn: Connection, scope: str, findings: Iterable[Finding],
                now: datetime) -> None:
    """The day's counts per service and policy; a later scan the same day replaces them."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for f in findings:
        counts.setdefault((f.target.service or UNOWNED, f.policy_id), Counter())[
            f.status.value] += 1
    day = now.astimezone(UTC).date()
    conn.execute(delete(days_table).where(and_(days_table.c.day == day,
                                               days_table.c.scope == scope)))
    rows = [{"day": day, "scope": scope, "service": service, "policy_id": policy,
             "counts": dict(c)} for (service, policy), c in counts.items()]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(days_table), rows[start:start + 5000])


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
