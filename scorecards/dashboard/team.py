"""A team's page: its services on every scorecard and what stands between each of them and
the next level, so a lead can hand out concrete work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from ...engine.store import ServiceRow
from ..context import AppContext
from ..governance_views import waived_rules
from ..views import ServiceFilter, adoption, blocking_rules, team_of, trend_from_counts
from .charts import Series, line_chart, series_colour
from .common import Snapshot
from .data import DataCache, Slim, trend_counts, waived_findings
from .overview import card_view


@dataclass(frozen=True, slots=True)
class Blocker:
    result: Slim
    card_title: str
    next_level: str
    rules: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ServiceLine:
    service: ServiceRow
    results: dict[str, Slim]
    """Scorecard id -> the service's result (absent when the scorecard does not apply)."""


def known_team(snap: Snapshot, team: str) -> bool:
    return any(team in (s.owner, team_of(s.owner)) for s in snap.services.values() if s.owner)


def team_page(ctx: AppContext, data: DataCache, snap: Snapshot, team: str,
              flt: ServiceFilter, days: int) -> dict[str, Any]:
    flt = replace(flt, team=team)
    return data.get((snap.version, "team", flt, days),
                    lambda: _team(ctx, data, snap, team, flt, days))


def _team(ctx: AppContext, data: DataCache, snap: Snapshot, team: str, flt: ServiceFilter,
          days: int) -> dict[str, Any]:
    services = [s for s in snap.services.values() if flt.matches(s)]
    results = snap.filtered(flt)
    by_service: dict[str, dict[str, Slim]] = {}
    for r in results:
        by_service.setdefault(r.service, {})[r.scorecard] = r
    lines = [ServiceLine(s, by_service.get(s.ref, {})) for s in services]
    blockers = []
    for r in results:
        card = ctx.scorecards.get(r.scorecard)
        if card is None:
            continue
        next_level, rules = blocking_rules(r, card)
        if next_level is not None and rules:
            blockers.append(Blocker(r, card.title, next_level, rules))
    order = {c.id: i for i, c in enumerate(ctx.cards)}
    blockers.sort(key=lambda b: (b.result.service, order.get(b.result.scorecard, 99)))
    # Waived rules apart from the failing ones: excused until their waiver expires.
    rows = data.get((snap.version, "waived-findings"), lambda: waived_findings(ctx.store))
    waived = waived_rules(results, rows, ctx.policies)
    page: dict[str, Any] = {"team": team, "lines": lines, "blockers": blockers, "cards": [],
                            "trend": None, "results": results, "waived": waived}
    if snap.day is None or not results:
        return page
    counts = trend_counts(ctx.store, snap.day - timedelta(days=days - 1), flt, snap.services)
    page["cards"] = [card_view(card, item, counts, days=days, today=snap.day)
                     for card, item in zip(ctx.cards, adoption(results, ctx.cards),
                                           strict=True) if item.services]
    page["trend"] = score_trend(ctx, counts, days=days, today=snap.day)
    return page


def score_trend(ctx: AppContext, counts: Sequence[Sequence[Any]], *, days: int,
                today: date) -> tuple[Markup, list[Series]] | None:
    """Average score per scorecard per day: one chart for the whole team."""
    series = []
    for i, card in enumerate(ctx.cards):
        points = trend_from_counts(counts, card, days=days, today=today)
        if any(p.average_score is not None for p in points):
            series.append(Series(card.title, [(p.day, p.average_score) for p in points],
                                 series_colour(i)))
    if not series:
        return None
    chart = line_chart(series, start=today - timedelta(days=days - 1), end=today,
                       label=f"Average score per scorecard over the last {days} days")
    return chart, series
