"""Reading the store for the pages, fast enough for thousands of services.

Everything the pages show except the decision log changes only when a scan ends or
scorecards are computed, so it is cached per *data version* (the newest scan and the range
of scorecard result ids, three indexed look-ups per request): a lead clicking around sees
each page computed once per scan, and every replica notices a new scan on its next request.
The latest day's results are kept slim (only the rules that do not pass, which is all that
failing rules, blockers and "since" read), and long histories are summed in SQL rather than
loaded row by row.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlmodel import col
from sqlmodel import select as model_select

from ...engine.governance import Campaign, Governance, Waiver
from ...engine.governance.configured import waiver_of_row
from ...engine.model import Policy
from ...engine.store import (
    FindingDay,
    FindingRow,
    ScanRow,
    ScorecardResult,
    ServiceRow,
    Store,
    TargetRow,
)
from ..governance_views import WaivedRow
from ..views import ServiceFilter

T = TypeVar("T")
CHUNK = 2000
"""Bound parameters per IN list: far below SQLite's and PostgreSQL's limits."""
SLIM_KEYS = ("id", "title", "level", "kind", "target", "status", "since", "fixed")
PASSING = ("pass", "warn", "n/a")


@dataclass(frozen=True, slots=True)
class Slim:
    """A scorecard result as the overview, team and policy pages read it: `rules` holds only
    the rules that do not pass (the views that read rules look at nothing else). The
    `views` functions take it in place of a `ScorecardResult`: they read only attributes
    both have."""

    day: date
    scorecard: str
    service: str
    owner: str | None
    system: str | None
    level: str | None
    level_index: int
    score: float | None
    rules: list[dict[str, Any]] = field(default_factory=list)


Version = tuple[Any, ...]


class DataCache:
    """Values computed from the store, valid for one data version, least recently used
    dropped first. Safe across the server's worker threads; two threads missing the same
    key at once both compute it, which costs time, never correctness."""

    def __init__(self, store: Store, size: int = 128) -> None:
        self.store = store
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def version(self) -> tuple[Version, ScanRow | None]:
        """The version, and the newest scan (for the page header)."""
        scans = self.store.scans(limit=1)
        low = self.store.rows(sql_select(func.min(ScorecardResult.id)))[0][0]
        high = self.store.rows(sql_select(func.max(ScorecardResult.id)))[0][0]
        current = tuple(sorted(self.store.current_scan_ids()))
        return (current, low, high), scans[0] if scans else None

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def latest_slim(store: Store) -> tuple[date | None, list[Slim]]:
    """The latest day's results, slimmed while they are read."""
    r = ScorecardResult
    day = store.rows(sql_select(func.max(r.day)))[0][0]
    if day is None:
        return None, []
    rows = store.rows(sql_select(r.scorecard, r.service, r.owner, r.system, r.level,
                                 r.level_index, r.score, r.rules).where(r.day == day))
    return day, [Slim(day, row.scorecard, row.service, row.owner, row.system, row.level,
                      row.level_index, row.score,
                      [{k: rule.get(k) for k in SLIM_KEYS} for rule in row.rules or []
                       if rule.get("status") not in PASSING])
                 for row in rows]


def day_rows(store: Store, day: date) -> list[Any]:
    """One day's results without their rules (for movers: levels and scores only)."""
    r = ScorecardResult
    return store.rows(sql_select(r.day, r.scorecard, r.service, r.owner, r.system, r.level,
                                 r.level_index, r.score).where(r.day == day))


def trend_counts(store: Store, since: date, flt: ServiceFilter,
                 services: dict[str, ServiceRow]) -> list[tuple[Any, ...]]:
    """(day, scorecard, level, services, score sum, scored) from `since` on, summed in SQL;
    a filter becomes the list of matching services (the catalog as it is now, like
    `ServiceFilter.apply`), sent in chunks whose sums add up."""
    r = ScorecardResult
    query = (sql_select(r.day, r.scorecard, r.level, func.count(), func.sum(r.score),
                        func.count(r.score))
             .where(r.day >= since).group_by(r.day, r.scorecard, r.level))
    if not flt.query():
        return [tuple(row) for row in store.rows(query)]
    refs = sorted(ref for ref, row in services.items() if flt.matches(row))
    totals: dict[tuple[Any, ...], list[Any]] = {}
    for start in range(0, len(refs), CHUNK):
        for day, card, level, n, total, scored in store.rows(
                query.where(r.service.in_(refs[start:start + CHUNK]))):
            item = totals.setdefault((day, card, level), [0, 0.0, 0])
            item[0] += n
            item[1] += float(total or 0.0)
            item[2] += scored
    return [(*key, n, total, scored) for key, (n, total, scored) in totals.items()]


def scan_ids(store: Store) -> list[int]:
    return store.current_scan_ids()


def policy_findings(store: Store, policy_id: str) -> tuple[list[Any], list[Any]]:
    """(per service and status: counts; the failing findings' messages) of one policy in
    the current scans, without loading every passing finding and its target."""
    ids = scan_ids(store)
    if not ids:
        return [], []
    f = FindingRow
    where = (f.scan_id.in_(ids), f.policy_id == policy_id)
    counts = store.rows(sql_select(f.service, f.status, func.count()).where(*where)
                        .group_by(f.service, f.status))
    failing = store.rows(sql_select(f.service, f.status, f.violations, f.error)
                         .where(*where, f.status.in_(["fail", "error"])))
    return counts, failing


def failing_counts(store: Store, policies: Sequence[str]) -> dict[tuple[str | None, str],
                                                                  dict[str, int]]:
    """`Store.finding_counts()` narrowed to failing and erroring findings of some policies
    (what `views.policy_failures` reads), which is far smaller on a large estate."""
    ids = scan_ids(store)
    if not ids or not policies:
        return {}
    f = FindingRow
    out: dict[tuple[str | None, str], dict[str, int]] = {}
    for service, policy, status, n in store.rows(
            sql_select(f.service, f.policy_id, f.status, func.count())
            .where(f.scan_id.in_(ids), f.policy_id.in_(list(policies)),
                   f.status.in_(["fail", "error"]))
            .group_by(f.service, f.policy_id, f.status)):
        out.setdefault((service, policy), {})[status] = n
    return out


def finding_history(store: Store, policy_id: str, services: Iterable[str],
                    since: date) -> list[Any]:
    """Daily counts of one policy for some services (for `views.failing_streaks`)."""
    d = FindingDay
    refs = sorted(services)
    rows: list[Any] = []
    for start in range(0, len(refs), CHUNK):
        rows.extend(store.rows(sql_select(d.day, d.service, d.policy_id, d.counts).where(
            d.policy_id == policy_id, d.day >= since,
            d.service.in_(refs[start:start + CHUNK]))))
    return rows


# --- waivers and campaigns ----------------------------------------------------------------

def waived_findings(store: Store) -> list[WaivedRow]:
    """(service, policy, waiver, findings) of the current waived findings, counted in SQL:
    what each waiver excuses now (its use; `Store.waiver_usage` summed per service and
    policy), without loading a finding row."""
    ids = scan_ids(store)
    if not ids:
        return []
    f = FindingRow
    return [(service, policy, waiver, n) for service, policy, waiver, n in store.rows(
        sql_select(f.service, f.policy_id, f.waiver, func.count())
        .where(f.scan_id.in_(ids), f.waiver.is_not(None))
        .group_by(f.service, f.policy_id, f.waiver))]


def excused_by(store: Store, waiver_id: str, limit: int
               ) -> tuple[list[tuple[str | None, str, int]], list[Any], int]:
    """What one waiver excuses in the current scans: (findings per service and policy,
    counted in SQL; the first `limit` findings with their targets, by service, policy and
    target; how many findings in all). The finding's `waiver` column is indexed."""
    ids = scan_ids(store)
    if not ids:
        return [], [], 0
    f = FindingRow
    where = (col(f.scan_id).in_(ids), col(f.waiver) == waiver_id)
    counts = [(service, policy, n) for service, policy, n in store.rows(
        sql_select(f.service, f.policy_id, func.count()).where(*where)
        .group_by(f.service, f.policy_id).order_by(f.service, f.policy_id))]
    rows = store.rows(model_select(FindingRow, TargetRow)
                      .join(TargetRow, col(TargetRow.id) == col(FindingRow.target))
                      .where(*where)
                      .order_by(col(FindingRow.service), col(FindingRow.policy_id),
                                col(TargetRow.name), col(FindingRow.id))
                      .limit(limit))
    return counts, [tuple(r) for r in rows], sum(n for _, _, n in counts)


def policy_counts(store: Store, policies: Sequence[str]
                  ) -> dict[tuple[str | None, str], dict[str, int]]:
    """`Store.finding_counts()` for some policies only (a campaign's), all statuses."""
    ids = scan_ids(store)
    if not ids or not policies:
        return {}
    f = FindingRow
    out: dict[tuple[str | None, str], dict[str, int]] = {}
    for start in range(0, len(policies), CHUNK):
        for service, policy, status, n in store.rows(
                sql_select(f.service, f.policy_id, f.status, func.count())
                .where(f.scan_id.in_(ids), f.policy_id.in_(list(policies[start:start + CHUNK])))
                .group_by(f.service, f.policy_id, f.status)):
            out.setdefault((service, policy), {})[status] = n
    return out


def policy_days(store: Store, policies: Sequence[str], since: date
                ) -> dict[date, dict[tuple[str, str], dict[str, int]]]:
    """Daily finding counts of some policies from `since` on, as campaign trends read them
    (day -> (service, policy) -> counts, the shards of a day added up)."""
    d = FindingDay
    days: dict[date, dict[tuple[str, str], dict[str, int]]] = {}
    for start in range(0, len(policies), CHUNK):
        for day, service, policy, counts in store.rows(
                sql_select(d.day, d.service, d.policy_id, d.counts).where(
                    d.day >= since, d.policy_id.in_(list(policies[start:start + CHUNK])))):
            entry = days.setdefault(day, {}).setdefault((service, policy), {})
            for status, n in (counts or {}).items():
                entry[status] = entry.get(status, 0) + n
    return days


def current_waivers(store: Store, governance: Governance) -> list[Waiver]:
    """The waivers in force in this process, with API waivers as the store has them now
    (another replica may have approved or revoked one since this one last loaded them),
    and the waivers workloads carry in their annotations, as the last scan recorded them."""
    api = {row.waiver_id: waiver_of_row(row) for row in store.waiver_rows()
           if row.source == "api" or (row.source == "annotation" and row.state != "removed")}
    files = [w for w in governance.waivers if w.source != "api"]
    taken = {w.id for w in files}
    return [*files, *(w for i, w in api.items() if i not in taken)]


def campaign_inputs(store: Store, campaigns: Sequence[Campaign], policies: Sequence[Policy],
                    since: date) -> tuple[dict[tuple[str | None, str], dict[str, int]],
                                          dict[date, dict[tuple[str, str], dict[str, int]]]]:
    """Current counts and daily history of only the policies some campaign covers: what
    `campaign_progress` reads, a sliver of the estate's findings."""
    covered = sorted({p.id for p in policies for c in campaigns if c.covers_policy(p)})
    return policy_counts(store, covered), policy_days(store, covered, since)
