"""One scan: collect, map to services, evaluate (once per identical pod), store atomically.

The scan row exists from the start (`running`), so a second scanner of the same scope
refuses to start; its findings are written with its end in one transaction. A source that
fails makes the scan `partial`; a scan where every source failed is `failed`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import truncate
from ..evaluate import evaluate_target
from ..governance import load_governance
from ..governance.annotations import annotations_by_target
from ..governance.configured import sync_annotation_waivers
from ..k8s import build_inventory
from ..model import Finding, Target
from ..policyset import PolicySet
from ..settings import Settings
from ..sources.base import Collected, problem_row
from ..store import ScanResult, Store
from .collect import collect_all
from .delivery import delivery_metrics
from .services import (
    catalog_repositories,
    configured_catalog,
    service_rows,
    with_repository_catalogs,
    with_services,
)
from .shards import Shard

log = logging.getLogger("pathwarden.scan")
WHOLE = Shard()


@dataclass(slots=True)
class ScanOutcome:
    scan_id: int
    status: str
    targets: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    unowned: list[Target] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent collecting, evaluating and storing (for `bench/scan.py`)."""
    target_ids: list[str] = field(default_factory=list)


def run_scan(settings: Settings, policy_set: PolicySet, store: Store, *,
             shard: Shard = WHOLE, trigger: str = "cli",
             scan_id: int | None = None) -> ScanOutcome:
    """Raises ScanBusy when a scan of this scope and shard is already running.

    `scan_id`: a scan already started with `store.start_scan` (the API starts it in the
    request, so a busy scope is answered with 409, and runs the rest in the background).
    """
    if scan_id is None:
        scan_id = store.start_scan(settings.scan.scope, shard=shard.index,
                                   shards=shard.count, trigger=trigger)
    try:
        outcome, result = _scan(settings, policy_set, store, shard, scan_id)
        started = time.perf_counter()
        store.write_scan(scan_id, result)
        outcome.timings["store"] = time.perf_counter() - started
    except BaseException as exc:
        store.fail_scan(scan_id, [{"source": "scanner",
                                   "error": truncate(f"{type(exc).__name__}: {exc}")}])
        raise
    removed = store.prune(timedelta(days=settings.scan.retention_days))
    if removed:
        log.info("pruned %d scan(s) older than %d days", removed, settings.scan.retention_days)
    return outcome


def _scan(settings: Settings, policy_set: PolicySet, store: Store, shard: Shard,
          scan_id: int) -> tuple[ScanOutcome, ScanResult]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    catalog, catalog_errors = configured_catalog(settings)
    extra = catalog_repositories(catalog) if settings.scan.repositories_from_catalog else []
    collected = list(collect_all(settings.scan, extra))
    merged, merged_errors = with_repository_catalogs(catalog, settings, collected)
    if merged is not catalog:
        catalog, catalog_errors = merged, merged_errors
    errors = catalog_errors + [e for c in collected for e in _errors(c)]
    timings["collect"] = time.perf_counter() - started

    started = time.perf_counter()
    findings: list[Finding] = []
    scanned: list[tuple[Target, str]] = []
    unowned: list[Target] = []
    now = datetime.now(UTC)
    repo_services: dict[str, Any] = {}
    for source in collected:
        if source.error is not None or not source.targets:
            continue
        targets = with_services(catalog, source.targets, unowned, repo_services)
        targets = [t for t in targets if shard.owns(t.ref.id)]
        _add_delivery(store, targets, now)
        scanned.extend((t, source.source) for t in targets)
        judged = policy_set
        if policy_set.needs_inventory and source.inventory:
            judged = policy_set.with_inventory(build_inventory(source.inventory))
        findings.extend(evaluate_once_per_pod(targets, judged, scan_id=str(scan_id)))
    timings["evaluate"] = time.perf_counter() - started

    started = time.perf_counter()
    services = service_rows(catalog)
    findings = _govern(settings, store, policy_set, findings, scanned, services, now, errors)
    timings["govern"] = time.perf_counter() - started

    failed_sources = [c for c in collected if c.error is not None]
    if collected and len(failed_sources) == len(collected):
        status = "failed"
    elif errors:
        status = "partial"  # something could not be read; everything else is stored
    else:
        status = "succeeded"
    unowned = [t for t in unowned if shard.owns(t.ref.id)]
    outcome = ScanOutcome(scan_id, status, len(scanned), findings, errors, unowned, timings,
                          [t.ref.id for t, _ in scanned])
    result = ScanResult(targets=scanned, findings=findings,
                        services=services, errors=errors, status=status)
    return outcome, result


def evaluate_once_per_pod(targets: Iterable[Target], policy_set: PolicySet, *,
                          scan_id: str | None = None) -> Iterator[Finding]:
    """Pods a controller made from one template are identical but for their names: judge
    the first, and give the others the same findings under their own identity."""
    memo: dict[str, list[Finding]] = {}
    for target in targets:
        key = _replica_key(target)
        if key is None:
            yield from evaluate_target(target, policy_set, scan_id=scan_id)
            continue
        cached = memo.get(key)
        if cached is None:
            cached = memo[key] = list(evaluate_target(target, policy_set, scan_id=scan_id))
            yield from cached
        else:
            yield from (dataclasses.replace(f, target=target.ref) for f in cached)


def _replica_key(target: Target) -> str | None:
    review = target.document.get("review")
    obj = review.get("object") if isinstance(review, dict) else None
    if not isinstance(obj, dict) or obj.get("kind") != "Pod":
        return None
    meta = obj.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    controller = next((o for o in owners if isinstance(o, dict) and o.get("controller")), None)
    if controller is None:
        return None
    return json.dumps([controller.get("uid") or controller.get("name"), meta.get("namespace"),
                       meta.get("labels"), meta.get("annotations"), obj.get("spec"),
                       target.document.get("service")], sort_keys=True, default=str)


def _errors(source: Collected) -> list[dict[str, Any]]:
    if source.error is not None:
        return [{"source": source.source, "error": source.error}]
    return [problem_row(source.source, p) for p in source.problems]


def _govern(settings: Settings, store: Store, policy_set: PolicySet, findings: list[Finding],
            scanned: list[tuple[Target, str]], services: list[dict[str, Any]],
            now: datetime, errors: list[dict[str, Any]]) -> list[Finding]:
    """Waivers and campaigns: the enforcement in force today, and `waived` findings.

    File waivers, and the waivers workloads carry in their annotations, are recorded in
    the store's audit trail here; a broken waiver or campaign file is a scan error (the
    scan is partial) and the rest still apply."""
    governance, problems = load_governance(settings, now, store=store, sync=True)
    targets = [t for t, _ in scanned]
    annotations = annotations_by_target(targets, settings.governance)
    problems += sync_annotation_waivers(store, targets, annotations, settings.governance, now)
    errors.extend(problem_row("governance", p) for p in problems)
    return governance.govern(
        findings, policy_set.get, now, services={row["ref"]: row for row in services},
        annotations=annotations)


def _add_delivery(store: Store, targets: list[Target], now: datetime) -> None:
    for target in targets:
        repo = target.document.get("repository")
        if target.ref.kind != "repo" or not isinstance(repo, dict):
            continue
        runs = []
        for key in {repo.get("slug"), repo.get("url")} - {None}:
            runs.extend(store.pipeline_runs(repository=key, since=now - timedelta(days=30)))
        target.document["delivery"] = delivery_metrics(runs, now)
