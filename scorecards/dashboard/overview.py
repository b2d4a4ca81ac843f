"""The overview: how far each golden path is adopted, who leads, what regressed, and which
rules hold the most services back. Every number comes from `views`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import func
from sqlalchemy import select as sql_select

from ...engine.store import ScorecardResult
from ..context import AppContext
from ..definitions import Scorecard
from ..governance_views import waived_by_team
from ..views import (
    Adoption,
    FailingRule,
    ServiceFilter,
    TrendPoint,
    adoption,
    failing_rules,
    movers,
    policy_failures,
    services_failing,
    teams_ranked,
    trend_from_counts,
)
from .charts import Series, level_colour, line_chart, stacked_bar
from .common import Snapshot
from .data import DataCache, Slim, day_rows, failing_counts, trend_counts

MOVERS_BACK = 7


@dataclass(frozen=True, slots=True)
class CardView:
    card: Scorecard
    adoption: Adoption
    levels: list[tuple[str, int, float, str]]
    """(level, services, share, colour), lowest first, `none` included."""
    bar: Markup
    trend: Markup | None
    points: list[TrendPoint]


@dataclass(frozen=True, slots=True)
class FailingRuleView:
    rule: FailingRule
    card_title: str
    services: list[str]
    policies: list[tuple[str, int]]
    """For tag rules: the tag's policies failing among those services, most first."""


def card_view(card: Scorecard, item: Adoption, counts: Sequence[Sequence[Any]], *,
              days: int, today: date) -> CardView:
    levels = [(name, item.levels.get(name, 0), item.share(name), level_colour(name, i))
              for i, name in enumerate(item.level_names)]
    bar = stacked_bar([(n, c, colour) for n, c, _, colour in levels], width=280,
                      label=f"{card.title}: services per level")
    points = trend_from_counts(counts, card, days=days, today=today)
    chart = None
    if points:
        series = [Series(f"{lvl.name} or higher",
                         [(p.day, p.at_least.get(lvl.name)) for p in points],
                         level_colour(lvl.name, i + 1)) for i, lvl in enumerate(card.levels)]
        series.append(Series("average score", [(p.day, p.average_score) for p in points],
                             "#334155", dashed=True))
        chart = line_chart(series, start=today - timedelta(days=days - 1), end=today,
                           width=340, height=170,
                           label=f"{card.title}: share of services at each level or higher "
                                 f"over the last {days} days")
    return CardView(card, item, levels, bar, chart, points)


def baseline_day(ctx: AppContext, latest: date) -> date | None:
    """The day movers compare with: a week before the latest, else the earliest day known
    within that week (a young installation still shows what changed since it started)."""
    week = ctx.store.latest_scorecard_day(before=latest - timedelta(days=MOVERS_BACK - 1))
    if week is not None:
        return week
    day = ScorecardResult.day
    earliest = ctx.store.rows(sql_select(func.min(day)).where(
        day >= latest - timedelta(days=MOVERS_BACK - 1)))[0][0]
    return earliest if earliest is not None and earliest < latest else None


def overview_page(ctx: AppContext, data: DataCache, snap: Snapshot, flt: ServiceFilter,
                  days: int) -> dict[str, Any]:
    return data.get((snap.version, "overview", flt, days),
                    lambda: _overview(ctx, data, snap, flt, days))


def _overview(ctx: AppContext, data: DataCache, snap: Snapshot, flt: ServiceFilter,
              days: int) -> dict[str, Any]:
    results = snap.filtered(flt)
    page: dict[str, Any] = {"results": results, "cards": [], "teams": [], "up": [], "down": [],
                            "failing": [], "baseline": None, "waived": {}}
    if snap.day is None:
        return page
    counts = trend_counts(ctx.store, snap.day - timedelta(days=days - 1), flt, snap.services)
    page["cards"] = [card_view(card, item, counts, days=days, today=snap.day)
                     for card, item in zip(ctx.cards, adoption(results, ctx.cards),
                                           strict=True)]
    page["teams"] = teams_ranked(results)
    page["waived"] = waived_by_team(results)
    base = baseline_day(ctx, snap.day)
    if base is not None:
        earlier = data.get((snap.version, "day", base), lambda: day_rows(ctx.store, base))
        up, down = movers(results, flt.apply(earlier, snap.services))
        page.update(up=up, down=down, baseline=base)
    page["failing"] = failing_views(ctx, results)
    return page


def failing_views(ctx: AppContext, results: list[Slim]) -> list[FailingRuleView]:
    top = failing_rules(results, limit=10)
    tagged = {f.target: [p.id for p in ctx.policies.values() if f.target in p.tags]
              for f in top if f.kind == "tag"}
    counts = failing_counts(ctx.store, sorted({p for ids in tagged.values() for p in ids}))
    out = []
    for item in top:
        card = ctx.scorecards.get(item.scorecard)
        services = services_failing(results, item.scorecard, item.rule)
        policies = (policy_failures(counts, tagged[item.target], services)
                    if item.kind == "tag" else [])
        out.append(FailingRuleView(item, card.title if card else item.scorecard, services,
                                   policies))
    return out
