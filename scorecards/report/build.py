"""Everything the report shows, gathered once from the store through `views`, so the HTML,
Markdown, JSON and CSV files cannot disagree with each other or with the dashboard.

The report is about one day (`data_day`: the newest day with scorecard results, on or
before `today`); trends look back from `today`, movers compare `data_day` with the day a
week earlier (or the earliest day there is, while history is shorter than a week).
Campaigns and waivers are about `now`: the phase in force, the days left, which waivers
are active, expiring or expired then, and what they excuse in the current findings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ...engine.store import ScanRow, ScorecardResult, ServiceRow
from ..campaigns import TREND_DAYS, CampaignProgress
from ..context import AppContext
from ..dashboard.data import campaign_inputs, current_waivers, trend_counts, waived_findings
from ..definitions import Scorecard
from ..governance_views import (
    WaivedRule,
    WaiverBoard,
    campaign_progresses,
    waived_rules,
    waiver_board,
    waiver_lines,
    waiver_matches,
)
from ..views import (
    Adoption,
    FailingRule,
    Move,
    ServiceFilter,
    TrendPoint,
    UnownedTarget,
    adoption,
    blocking_rules,
    failing_rules,
    movers,
    services_failing,
    team_of,
    teams_ranked,
    trend_from_counts,
    unowned_targets,
)
from .fixes import Fix, Fixes

TREND_WINDOWS = (7, 30, 90)
MOVER_GAP = 7
TOP_RULES = 10
TOP_MOVERS = 10
ALL = 1_000_000
"""`limit` for views that rank, when a team's section should list everything."""


@dataclass(frozen=True, slots=True)
class RankedRule:
    """A failing rule with what a reader needs to act on it."""

    rule: FailingRule
    scorecard_title: str
    level: str
    fix: Fix


@dataclass(frozen=True, slots=True)
class Blocker:
    """A rule keeping a service from its next level."""

    id: str
    title: str
    level: str
    status: str
    since: str | None
    fix: Fix


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """One service on one scorecard."""

    result: ScorecardResult
    service: ServiceRow | None
    scorecard_title: str
    next_level: str | None
    blockers: tuple[Blocker, ...]

    @property
    def failing(self) -> list[str]:
        return [r["id"] for r in self.result.rules if r["status"] in ("fail", "error")]

    @property
    def waived(self) -> list[str]:
        """Rules a waiver excuses: apart from both the passed and the failing ones."""
        return [r["id"] for r in self.result.rules if r["status"] == "waived"]


@dataclass(slots=True)
class CardSection:
    card: Scorecard
    adoption: Adoption
    trends: dict[int, list[TrendPoint]]


@dataclass(slots=True)
class TeamSection:
    """What a lead forwards to one team: where it stands and what to do next."""

    team: str
    owners: list[str]
    average_score: float
    services: int
    lines: list[ServiceLine]
    failing: list[RankedRule]
    waived: list[WaivedRule] = field(default_factory=list)
    """The team's waived rules, with the waivers behind them."""


@dataclass(slots=True)
class Report:
    generated_at: datetime
    today: date
    data_day: date | None
    """None: no scorecard results yet (nothing has been scanned)."""
    compared_to: date | None
    """The day movers are measured against."""
    history_days: list[date]
    last_scan: ScanRow | None
    filter: ServiceFilter
    cards: list[CardSection] = field(default_factory=list)
    failing: list[RankedRule] = field(default_factory=list)
    improvers: list[Move] = field(default_factory=list)
    regressions: list[Move] = field(default_factory=list)
    unowned: list[UnownedTarget] = field(default_factory=list)
    teams: list[TeamSection] = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)
    campaigns: list[CampaignProgress] = field(default_factory=list)
    """Every campaign's progress at `generated_at`, over the filtered services."""
    waivers: WaiverBoard | None = None
    """The waivers touching the filtered services, and waived counts per team."""
    waived: list[WaivedRule] = field(default_factory=list)
    """Every waived rule of `data_day`."""

    @property
    def empty(self) -> bool:
        return self.data_day is None

    @property
    def services(self) -> int:
        return len({line.result.service for line in self.lines})

    @property
    def average_score(self) -> float | None:
        scores = [ln.result.score for ln in self.lines if ln.result.score is not None]
        return round(sum(scores) / len(scores), 4) if scores else None


def build_report(ctx: AppContext, *, today: date | None = None,
                 filter: ServiceFilter | None = None, now: datetime | None = None) -> Report:
    """`now`: the moment campaigns and waivers are judged at (and `generated_at`)."""
    now = now or datetime.now(UTC)
    today = today or now.date()
    filter = filter or ServiceFilter()
    store, cards = ctx.store, ctx.cards
    known = {c.id for c in cards}
    services = {s.ref: s for s in store.services()}

    def scoped(results: Sequence[ScorecardResult]) -> list[ScorecardResult]:
        return [r for r in filter.apply(results, services) if r.scorecard in known]

    data_day = store.latest_scorecard_day(before=today + timedelta(days=1))
    current = scoped(store.scorecard_results(day=data_day)) if data_day else []
    # Trends are summed in the database: a large estate's 90 days of results are never
    # loaded row by row (the same sums the dashboard draws).
    counts = [row for row in trend_counts(
        store, today - timedelta(days=max(TREND_WINDOWS) - 1), filter, services)
        if row[0] <= today and row[1] in known]
    days = sorted({row[0] for row in counts})
    report = Report(now, today, data_day, None, days, _last_scan(ctx), filter)
    _governance(ctx, report, current, services, now)
    if data_day is None:
        return report

    fixes = Fixes(cards, ctx.policies, store.finding_counts)
    titles = {c.id: c.title for c in cards}
    by_card = {c.id: c for c in cards}
    report.lines = [_line(r, by_card[r.scorecard], services.get(r.service), fixes)
                    for r in current]
    for item in adoption(current, cards):
        report.cards.append(CardSection(item.scorecard, item, {
            n: trend_from_counts(counts, item.scorecard, days=n, today=today)
            for n in TREND_WINDOWS}))
    report.failing = _ranked(current, TOP_RULES, titles, fixes)
    report.compared_to = _baseline(days, data_day)
    if report.compared_to:
        earlier = scoped(store.scorecard_results(day=report.compared_to))
        report.improvers, report.regressions = movers(current, earlier, limit=TOP_MOVERS)
    if filter.matches(None):
        report.unowned = unowned_targets(store.current_findings())
    report.teams = _teams(current, report.lines, titles, fixes)
    for team in report.teams:
        team.waived = [w for w in report.waived if team_of(w.owner) == team.team]
    return report


def _governance(ctx: AppContext, report: Report, current: Sequence[ScorecardResult],
                services: dict[str, ServiceRow], now: datetime) -> None:
    """Campaigns and waivers, through the same views the dashboard pages use."""
    store, governance, flt = ctx.store, ctx.governance, report.filter
    rules = governance.settings
    if governance.campaigns:
        policies = list(ctx.policies.values())
        counts, days = campaign_inputs(store, governance.campaigns, policies,
                                       now.date() - timedelta(days=TREND_DAYS - 1))
        report.campaigns = campaign_progresses(governance.campaigns, policies,
                                               services.values(), counts, days, now, flt)
    rows = waived_findings(store)
    lines = [w for w in waiver_lines(current_waivers(store, governance), rows, services, now,
                                     zone=rules.zone,
                                     expiring_within=rules.waivers.expiring_within_days)
             if waiver_matches(w, flt, services)]
    report.waivers = waiver_board(lines, current, rows, services,
                                  expiring_within=rules.waivers.expiring_within_days, flt=flt)
    report.waived = waived_rules(current, rows, ctx.policies)


def _last_scan(ctx: AppContext) -> ScanRow | None:
    return next((s for s in ctx.store.scans(limit=20) if s.status != "running"), None)


def _baseline(days: Sequence[date], data_day: date) -> date | None:
    before = [d for d in days if d < data_day]
    week = [d for d in before if d <= data_day - timedelta(days=MOVER_GAP)]
    return week[-1] if week else (before[0] if before else None)


def _line(result: ScorecardResult, card: Scorecard, service: ServiceRow | None,
          fixes: Fixes) -> ServiceLine:
    next_level, rules = blocking_rules(result, card)
    blockers = tuple(
        Blocker(r["id"], r["title"], r["level"], r["status"], r.get("since"),
                fixes(card.id, r["id"], r["kind"], r["target"], [result.service]))
        for r in rules)
    return ServiceLine(result, service, card.title, next_level, blockers)


def _ranked(results: Sequence[ScorecardResult], limit: int, titles: dict[str, str],
            fixes: Fixes) -> list[RankedRule]:
    out = []
    for item in failing_rules(results, limit=limit):
        rule = fixes.rule(item.scorecard, item.rule)
        failing = services_failing(results, item.scorecard, item.rule)
        out.append(RankedRule(item, titles.get(item.scorecard, item.scorecard),
                              rule.level if rule else "",
                              fixes(item.scorecard, item.rule, item.kind, item.target,
                                    failing)))
    return out


def _teams(results: Sequence[ScorecardResult], lines: Sequence[ServiceLine],
           titles: dict[str, str], fixes: Fixes) -> list[TeamSection]:
    mine: dict[str, list[ScorecardResult]] = defaultdict(list)
    their_lines: dict[str, list[ServiceLine]] = defaultdict(list)
    for r in results:
        mine[team_of(r.owner)].append(r)
    for line in lines:
        their_lines[team_of(line.result.owner)].append(line)
    return [TeamSection(team, sorted({r.owner for r in mine[team] if r.owner}), score, count,
                        sorted(their_lines[team], key=lambda ln: (ln.result.service,
                                                                  ln.scorecard_title)),
                        _ranked(mine[team], ALL, titles, fixes))
            for team, score, count in teams_ranked(results)]
