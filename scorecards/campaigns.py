"""Campaign progress: which services in a campaign's scope comply, are waived or fail.

A service complies when every finding of the campaign's policies passes; it is `waived`
when nothing fails but a waiver excuses something; `failing` when any finding fails, warns
or errors; `no-data` when none of the policies judged anything of it. The same counts,
per day from the stored history, make the trend. The dashboard, the report and the
notifications read this one computation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..engine.governance import Campaign, Governance, Phase
from ..engine.governance.dates import days_until
from ..engine.model import Policy
from ..engine.store import Store
from ..engine.store.models import ServiceRow

STATUSES = ("compliant", "waived", "failing", "no-data")
FAILING = ("fail", "warn", "error")
TREND_DAYS = 30


@dataclass(frozen=True, slots=True)
class ServiceState:
    ref: str
    name: str
    owner: str | None
    status: str
    failing: tuple[str, ...] = ()
    """Policy ids failing on this service."""
    waived: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: date
    counts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    campaign: Campaign
    state: str
    """scheduled | running | past-deadline."""
    phase: Phase | None
    next_phase: Phase | None
    days_left: int
    """Calendar days to the deadline in the campaign's zone (negative once past)."""
    policies: tuple[str, ...]
    """The loaded policies the campaign covers."""
    services: tuple[ServiceState, ...]
    trend: tuple[TrendPoint, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(s.status for s in self.services)
        return {status: found.get(status, 0) for status in STATUSES}

    @property
    def by_team(self) -> dict[str, dict[str, int]]:
        teams: dict[str, Counter[str]] = {}
        for s in self.services:
            teams.setdefault(s.owner or "unowned", Counter())[s.status] += 1
        return {team: {st: c.get(st, 0) for st in STATUSES} for team, c in sorted(teams.items())}

    @property
    def compliant_share(self) -> float | None:
        judged = [s for s in self.services if s.status != "no-data"]
        if not judged:
            return None
        return sum(s.status in ("compliant", "waived") for s in judged) / len(judged)

    def failing_by_team(self) -> dict[str, list[ServiceState]]:
        teams: dict[str, list[ServiceState]] = {}
        for s in self.services:
            if s.status == "failing":
                teams.setdefault(s.owner or "unowned", []).append(s)
        return teams

    def as_dict(self) -> dict[str, Any]:
        c = self.campaign
        return {
            "id": c.id, "title": c.title, "owner": c.owner, "goal": c.goal,
            "policies": list(c.policies), "covered_policies": list(self.policies),
            "start": c.start, "deadline": c.deadline, "timezone": c.timezone,
            "state": self.state, "days_left": self.days_left,
            "phase": _phase(self.phase), "next_phase": _phase(self.next_phase),
            "schedule": [_phase(p) for p in c.phases],
            "services_filter": c.services.as_dict(),
            "counts": self.counts, "by_team": self.by_team,
            "services": [{"ref": s.ref, "name": s.name, "owner": s.owner, "status": s.status,
                          "failing": list(s.failing), "waived": list(s.waived)}
                         for s in self.services],
            "trend": [{"day": p.day.isoformat(), **p.counts} for p in self.trend],
        }


def _phase(phase: Phase | None) -> dict[str, str] | None:
    return None if phase is None else {"enforcement": phase.enforcement.value,
                                       "from": phase.starts}


def campaigns_progress(store: Store, governance: Governance, policies: Iterable[Policy],
                       now: datetime, *, trend_days: int = TREND_DAYS
                       ) -> list[CampaignProgress]:
    """Every campaign's progress from the current findings and the daily history."""
    if not governance.campaigns:
        return []
    policy_list = list(policies)
    services = store.services()
    counts = store.finding_counts()
    since = now.date() - timedelta(days=trend_days - 1)
    days: dict[date, dict[tuple[str, str], Counter[str]]] = {}
    for row in store.finding_days(since=since):
        per_day = days.setdefault(row.day, {})
        per_day.setdefault((row.service, row.policy_id), Counter()).update(row.counts)
    return [campaign_progress(c, policy_list, services, counts, days, now)
            for c in governance.campaigns]


def campaign_progress(campaign: Campaign, policies: Iterable[Policy],
                      services: Iterable[ServiceRow],
                      counts: Mapping[tuple[str | None, str], Mapping[str, int]],
                      days: Mapping[date, Mapping[tuple[str, str], Mapping[str, int]]],
                      now: datetime) -> CampaignProgress:
    covered = tuple(sorted(p.id for p in policies if campaign.covers_policy(p)))
    in_scope = [s for s in services if campaign.covers_service(_facts(s))]
    states = tuple(_state(s, covered, counts) for s in in_scope)
    refs = [s.ref for s in in_scope]
    trend = tuple(
        TrendPoint(day, dict(Counter(_status(ref, covered, per_day)[0] for ref in refs)))
        for day, per_day in sorted(days.items())
        if day >= campaign.start_at.astimezone(campaign.zone).date() - timedelta(days=7))
    return CampaignProgress(
        campaign=campaign, state=campaign.state(now), phase=campaign.phase_at(now),
        next_phase=campaign.next_phase(now),
        days_left=days_until(campaign.deadline_at, now, campaign.zone), policies=covered,
        services=states, trend=trend)


def _facts(row: ServiceRow) -> dict[str, Any]:
    return {"type": row.type, "lifecycle": row.lifecycle, "tier": row.tier,
            "owner": row.owner, "system": row.system, "name": row.name}


def _state(row: ServiceRow, covered: tuple[str, ...],
           counts: Mapping[tuple[Any, str], Mapping[str, int]]) -> ServiceState:
    status, failing, waived = _status(row.ref, covered, counts)
    return ServiceState(row.ref, row.name, row.owner, status, failing, waived)


def _status(ref: str, covered: tuple[str, ...],
            counts: Mapping[tuple[Any, str], Mapping[str, int]]
            ) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    failing, waived, judged = [], [], False
    for policy_id in covered:
        c = counts.get((ref, policy_id))
        if not c:
            continue
        judged = judged or any(c.get(s, 0) for s in ("pass", *FAILING, "waived"))
        if any(c.get(s, 0) for s in FAILING):
            failing.append(policy_id)
        elif c.get("waived", 0):
            waived.append(policy_id)
    if failing:
        status = "failing"
    elif waived:
        status = "waived"
    else:
        status = "compliant" if judged else "no-data"
    return status, tuple(failing), tuple(waived)
