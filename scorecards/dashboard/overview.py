"""The overview: how far each golden path is adopted, who leads, what regressed, and which
rules hold the most services back. Every number comes from `views`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from ...engine.store import ScorecardResult
from ..context import AppContext
from ..definitions import Scorecard
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
    trend,
)
from .charts import Series, level_colour, line_chart, stacked_bar
from .common import Snapshot

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


def card_view(card: Scorecard, item: Adoption, history: list[ScorecardResult], *,
              days: int, today: date) -> CardView:
    levels = [(name, item.levels.get(name, 0), item.share(name), level_colour(name, i))
              for i, name in enumerate(item.level_names)]
    bar = stacked_bar([(n, c, colour) for n, c, _, colour in levels], width=280,
                      label=f"{card.title}: services per level")
    points = trend(history, card, days=days, today=today)
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


def baseline_day(ctx: AppContext, latest: date, history: list[ScorecardResult]) -> date | None:
    """The day movers compare with: a week before the latest, else the earliest day known
    within that week (a young installation still shows what changed since it started)."""
    week = ctx.store.latest_scorecard_day(before=latest - timedelta(days=MOVERS_BACK - 1))
    if week is not None:
        return week
    earlier = [r.day for r in history if r.day < latest]
    return min(earlier) if earlier else None


def overview_page(ctx: AppContext, snap: Snapshot, flt: ServiceFilter,
                  days: int) -> dict[str, Any]:
    results = snap.filtered(flt)
    page: dict[str, Any] = {"results": results, "cards": [], "teams": [], "up": [], "down": [],
                            "failing": [], "baseline": None}
    if snap.day is None:
        return page
    history = flt.apply(ctx.store.scorecard_results(
        since=snap.day - timedelta(days=max(days, MOVERS_BACK) - 1)), snap.services)
    page["cards"] = [card_view(card, item, history, days=days, today=snap.day)
                     for card, item in zip(ctx.cards, adoption(results, ctx.cards),
                                           strict=True)]
    page["teams"] = teams_ranked(results)
    base = baseline_day(ctx, snap.day, history)
    if base is not None:
        up, down = movers(results, flt.apply(ctx.store.scorecard_results(day=base),
                                             snap.services))
        page.update(up=up, down=down, baseline=base)
    page["failing"] = failing_views(ctx, results)
    return page


def failing_views(ctx: AppContext, results: list[ScorecardResult]) -> list[FailingRuleView]:
    top = failing_rules(results, limit=10)
    counts = ctx.store.finding_counts() if any(f.kind == "tag" for f in top) else {}
    out = []
    for item in top:
        card = ctx.scorecards.get(item.scorecard)
        services = services_failing(results, item.scorecard, item.rule)
        policies: list[tuple[str, int]] = []
        if item.kind == "tag":
            tagged = [p.id for p in ctx.policies.values() if item.target in p.tags]
            policies = policy_failures(counts, tagged, services)
        out.append(FailingRuleView(item, card.title if card else item.scorecard, services,
                                   policies))
    return out

