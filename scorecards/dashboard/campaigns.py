"""The campaign pages: every campaign's progress, and one campaign's teams, failing
services, trend and schedule, so a lead sees who still has to move before the rules deny.

Counts come from `scorecards.campaigns` (the computation the report and notifications
read) over the page's filter; they change only with the data and are cached per data
version, while the phase and days left follow the clock on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup

from ...engine.governance import Campaign
from ..campaigns import STATUSES, TREND_DAYS, CampaignProgress, ServiceState
from ..context import AppContext
from ..governance_views import campaign_progresses, campaign_teams, progress_at
from ..views import ServiceFilter, team_of
from .charts import STATUS_COLOURS, stacked_bar, stacked_columns, timeline
from .common import Snapshot
from .data import DataCache, campaign_inputs


@dataclass(frozen=True, slots=True)
class CampaignView:
    progress: CampaignProgress
    bar: Markup
    counts: dict[str, int]
    share: float | None
    """Compliant or waived among the services judged."""


def progress_list(ctx: AppContext, data: DataCache, snap: Snapshot, flt: ServiceFilter,
                  now: datetime) -> list[CampaignProgress]:
    """Every campaign's progress over the filtered services, as of `now`."""
    governance = ctx.governance
    if not governance.campaigns:
        return []
    today = now.date()
    # The governance object is part of the key (hashed by identity): reloaded waivers or
    # campaign files make a new one, and with it new numbers.
    inputs = data.get((snap.version, "campaign-inputs", governance, today),
                      lambda: campaign_inputs(ctx.store, governance.campaigns,
                                              list(ctx.policies.values()),
                                              today - timedelta(days=TREND_DAYS - 1)))
    cached = data.get((snap.version, "campaigns", governance, flt, today),
                      lambda: campaign_progresses(governance.campaigns,
                                                  ctx.policies.values(),
                                                  snap.services.values(), *inputs, now, flt))
    return [progress_at(p, now) for p in cached]


def view(progress: CampaignProgress, width: int = 420) -> CampaignView:
    counts = progress.counts
    bar = stacked_bar([(s, counts[s], STATUS_COLOURS[s]) for s in STATUSES], width=width,
                      label=f"{progress.campaign.title}: services compliant, waived, failing "
                            "and without data")
    return CampaignView(progress, bar, counts, progress.compliant_share)


def campaigns_page(ctx: AppContext, data: DataCache, snap: Snapshot, flt: ServiceFilter,
                   now: datetime) -> dict[str, Any]:
    order = {"running": 0, "scheduled": 1, "past-deadline": 2}
    found = sorted(progress_list(ctx, data, snap, flt, now),
                   key=lambda p: (order.get(p.state, 3), p.days_left, p.campaign.id))
    return {"campaigns": [view(p) for p in found], "now": now,
            "statuses": STATUSES, "status_colours": STATUS_COLOURS}


def campaign_page(ctx: AppContext, data: DataCache, snap: Snapshot, campaign: Campaign,
                  flt: ServiceFilter, now: datetime) -> dict[str, Any] | None:
    """None (a 404 page) if the campaign went away with a reload in the meantime."""
    progress = next((p for p in progress_list(ctx, data, snap, flt, now)
                     if p.campaign.id == campaign.id), None)
    if progress is None:
        return None
    zone = campaign.zone
    today = now.astimezone(zone).date()
    start = campaign.start_at.astimezone(zone).date()
    deadline = campaign.deadline_at.astimezone(zone).date()
    phases = [(p.enforcement.value, p.starts_at.astimezone(zone).date())
              for p in campaign.phases]
    return {
        "v": view(progress, width=760), "teams": campaign_teams(progress),
        "failing": _by_team(progress.services, "failing"),
        "waived": _by_team(progress.services, "waived"),
        "no_data": [s for s in progress.services if s.status == "no-data"],
        "trend": _trend(progress, today),
        "timeline": timeline(phases, start=start, deadline=deadline, today=today,
                             label=f"{campaign.title}: schedule from {start.isoformat()} to "
                                   f"the deadline {deadline.isoformat()}, today "
                                   f"{today.isoformat()}"),
        "phases": [(p, p.starts_at.astimezone(zone).date()) for p in campaign.phases],
        "statuses": STATUSES, "status_colours": STATUS_COLOURS, "today": today,
        "now": now,
    }


def _by_team(services: tuple[ServiceState, ...], status: str) -> list[ServiceState]:
    return sorted((s for s in services if s.status == status),
                  key=lambda s: (team_of(s.owner), s.name))


def _trend(progress: CampaignProgress, today: date) -> Markup | None:
    points = [(p.day, p.counts) for p in progress.trend]
    if not points:
        return None
    # From the first day with results (at least a week, so one day is not a full-width
    # block), never more than the days the trend covers.
    start = max(min(points[0][0], today - timedelta(days=6)),
                today - timedelta(days=TREND_DAYS - 1))
    return stacked_columns(points, STATUSES, STATUS_COLOURS, start=start, end=today,
                           width=760, label=f"{progress.campaign.title}: services per "
                                            f"status per day over the last {TREND_DAYS} days")
