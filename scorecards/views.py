"""What leads look at, computed once for the report and the dashboard alike.

Plain functions over stored scorecard results: adoption of each golden path (by level,
overall, per team and per system), trends, the rules failing most often, movers, and what
blocks a service's next level (waivers and campaigns: `governance_views`). The report
renders these to files, the dashboard to pages; neither computes its own numbers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..engine.store import FindingRow, ScorecardResult, ServiceRow, TargetRow
from .definitions import Scorecard

NONE_LEVEL = "none"
"""Shown for services that have not reached the first level."""


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    """The dashboard's and report's filters; empty fields match everything."""

    team: str | None = None
    system: str | None = None
    lifecycle: str | None = None
    tier: str | None = None

    def matches(self, service: ServiceRow | None) -> bool:
        if service is None:
            return not (self.team or self.system or self.lifecycle or self.tier)
        owner = service.owner or ""
        return ((not self.team or self.team in (owner, owner.split("/")[-1]))
                and (not self.system or service.system == self.system)
                and (not self.lifecycle or service.lifecycle == self.lifecycle)
                and (not self.tier or str(service.tier) == self.tier))

    def apply(self, results: Iterable[ScorecardResult],
              services: Mapping[str, ServiceRow]) -> list[ScorecardResult]:
        return [r for r in results if self.matches(services.get(r.service))]

    def query(self) -> dict[str, str]:
        return {k: v for k in ("team", "system", "lifecycle", "tier")
                if (v := getattr(self, k))}


@dataclass(slots=True)
class Adoption:
    """How far one golden path is adopted: services per level, overall and per group."""

    scorecard: Scorecard
    services: int = 0
    levels: dict[str, int] = field(default_factory=dict)
    average_score: float | None = None
    by_team: dict[str, dict[str, int]] = field(default_factory=dict)
    by_system: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def level_names(self) -> list[str]:
        return [NONE_LEVEL, *(lvl.name for lvl in self.scorecard.levels)]

    def share(self, level: str) -> float:
        return self.levels.get(level, 0) / self.services if self.services else 0.0

    def at_least(self, level: str) -> float:
        """Share of services at this level or higher."""
        names = self.level_names
        index = names.index(level)
        reached = sum(self.levels.get(n, 0) for n in names[index:])
        return reached / self.services if self.services else 0.0


def level_of(result: ScorecardResult) -> str:
    return result.level or NONE_LEVEL


def team_of(owner: str | None) -> str:
    return (owner or "unowned").split("/")[-1]


def adoption(results: Sequence[ScorecardResult], cards: Sequence[Scorecard]) -> list[Adoption]:
    by_card: dict[str, list[ScorecardResult]] = defaultdict(list)
    for r in results:
        by_card[r.scorecard].append(r)
    out = []
    for card in cards:
        mine = by_card.get(card.id, [])
        item = Adoption(card, services=len(mine), levels=dict(Counter(map(level_of, mine))))
        scores = [r.score for r in mine if r.score is not None]
        item.average_score = round(sum(scores) / len(scores), 4) if scores else None
        for r in mine:
            team = item.by_team.setdefault(team_of(r.owner), {})
            team[level_of(r)] = team.get(level_of(r), 0) + 1
            system = item.by_system.setdefault(r.system or "no system", {})
            system[level_of(r)] = system.get(level_of(r), 0) + 1
        out.append(item)
    return out


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: date
    services: int
    at_least: dict[str, float]
    """Share of services at each level or higher."""
    average_score: float | None


def trend(history: Sequence[ScorecardResult], card: Scorecard, *, days: int,
          today: date) -> list[TrendPoint]:
    since = today - timedelta(days=days - 1)
    per_day: dict[date, list[ScorecardResult]] = defaultdict(list)
    for r in history:
        if r.scorecard == card.id and r.day >= since:
            per_day[r.day].append(r)
    points = []
    for day in sorted(per_day):
        rows = per_day[day]
        item = adoption(rows, [card])[0]
        points.append(TrendPoint(day, len(rows),
                                 {lvl.name: round(item.at_least(lvl.name), 4)
                                  for lvl in card.levels}, item.average_score))
    return points


@dataclass(frozen=True, slots=True)
class FailingRule:
    scorecard: str
    rule: str
    title: str
    kind: str
    target: str
    services: int
    teams: int


def failing_rules(results: Sequence[ScorecardResult], *, limit: int = 10) -> list[FailingRule]:
    """Rules failing for the most services (errors count: compliance is unknown there)."""
    hits: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results:
        for rule in r.rules:
            if rule["status"] in ("fail", "error"):
                entry = hits.setdefault((r.scorecard, rule["id"]), {
                    "rule": rule, "services": 0, "teams": set()})
                entry["services"] += 1
                entry["teams"].add(team_of(r.owner))
    ranked = sorted(hits.items(), key=lambda kv: (-kv[1]["services"], kv[0]))
    return [FailingRule(card, rid, e["rule"]["title"], e["rule"]["kind"], e["rule"]["target"],
                        e["services"], len(e["teams"])) for (card, rid), e in ranked[:limit]]


@dataclass(frozen=True, slots=True)
class Move:
    scorecard: str
    service: str
    owner: str | None
    level_before: str
    level_after: str
    score_before: float | None
    score_after: float | None

    @property
    def delta(self) -> float:
        return (self.score_after or 0.0) - (self.score_before or 0.0)


def movers(current: Sequence[ScorecardResult], earlier: Sequence[ScorecardResult],
           *, limit: int = 10) -> tuple[list[Move], list[Move]]:
    """(biggest improvers, biggest regressions) between two days: level first, then score."""
    before = {(r.scorecard, r.service): r for r in earlier}
    moves = []
    for r in current:
        old = before.get((r.scorecard, r.service))
        if old is None:
            continue
        move = Move(r.scorecard, r.service, r.owner, level_of(old), level_of(r), old.score,
                    r.score)
        if (r.level_index, r.score or 0) != (old.level_index, old.score or 0):
            moves.append((r.level_index - old.level_index, move))
    up = sorted((m for m in moves if (m[0], m[1].delta) > (0, 0)),
                key=lambda m: (-m[0], -m[1].delta, m[1].service))
    down = sorted((m for m in moves if (m[0], m[1].delta) < (0, 0)),
                  key=lambda m: (m[0], m[1].delta, m[1].service))
    return [m for _, m in up[:limit]], [m for _, m in down[:limit]]


def blocking_rules(result: ScorecardResult, card: Scorecard) -> tuple[str | None,
                                                                       list[dict[str, Any]]]:
    """The next level's name and the rules (of it and below) that keep the service from it."""
    next_index = result.level_index + 1
    if next_index >= len(card.levels):
        return None, []
    wanted = {lvl.name for lvl in card.levels[:next_index + 1]}
    return card.levels[next_index].name, [
        r for r in result.rules
        if r["level"] in wanted and r["status"] not in ("pass", "warn", "n/a")]


def teams_ranked(results: Sequence[ScorecardResult]) -> list[tuple[str, float, int]]:
    """(team, average score over its services and scorecards, services), best first."""
    scores: dict[str, list[float]] = defaultdict(list)
    services: dict[str, set[str]] = defaultdict(set)
    for r in results:
        services[team_of(r.owner)].add(r.service)
        if r.score is not None:
            scores[team_of(r.owner)].append(r.score)
    ranked = [(team, round(sum(s) / len(s), 4) if s else 0.0, len(services[team]))
              for team, s in ((t, scores.get(t, [])) for t in services)]
    return sorted(ranked, key=lambda t: (-t[1], t[0]))


# --- added for the report (and usable by the dashboard) ---------------------------------

def services_failing(results: Sequence[ScorecardResult], scorecard: str,
                     rule: str) -> list[str]:
    """The services a rule fails (or errors) for: the drill-down behind a FailingRule."""
    return sorted({r.service for r in results if r.scorecard == scorecard
                   for item in r.rules
                   if item["id"] == rule and item["status"] in ("fail", "error")})


def policy_failures(counts: Mapping[tuple[str | None, str], Mapping[str, int]],
                    policies: Iterable[str], services: Iterable[str]) -> list[tuple[str, int]]:
    """(policy, services failing it), most first, among `services`: which of the policies
    behind a tag rule to fix first. `counts` is `Store.finding_counts()`."""
    wanted = set(services)
    hits: Counter[str] = Counter()
    for policy in set(policies):
        for service in wanted:
            found = counts.get((service, policy), {})
            if found.get("fail") or found.get("error"):
                hits[policy] += 1
    return sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))


def is_ownership_policy(policy_id: str) -> bool:
    """`catalog-workload-owned`, `catalog-repository-owned`, and any later `catalog-*-owned`."""
    return policy_id.startswith("catalog-") and policy_id.endswith("-owned")


@dataclass(frozen=True, slots=True)
class UnownedTarget:
    """A judged target no catalog service claims: its findings reach nobody."""

    target: str
    kind: str
    object_kind: str | None
    name: str
    namespace: str | None
    source: str | None
    location: str | None
    failing: tuple[str, ...]
    """Policies failing or erroring on it: the work nobody is told about."""
    flagged: bool
    """An ownership policy (`catalog-*-owned`) fails on it, so the catalog should claim it
    (targets such as Namespaces are unowned without being expected to have a service)."""


def unowned_targets(findings: Iterable[tuple[FindingRow, TargetRow]]) -> list[UnownedTarget]:
    """Targets of `Store.current_findings()` without a service, the flagged ones first."""
    grouped: dict[str, tuple[TargetRow, set[str], bool]] = {}
    for finding, target in findings:
        owned_fail = is_ownership_policy(finding.policy_id) and finding.status == "fail"
        if finding.service is not None and not owned_fail:
            continue
        _, failing, flagged = grouped.setdefault(target.target_id, (target, set(), False))
        if finding.status in ("fail", "error"):
            failing.add(finding.policy_id)
        if owned_fail and not flagged:
            grouped[target.target_id] = (target, failing, True)
    out = [UnownedTarget(t.target_id, t.kind, t.object_kind, t.name, t.namespace, t.source,
                         t.location, tuple(sorted(failing)), flagged)
           for t, failing, flagged in grouped.values()]
    return sorted(out, key=lambda u: (not u.flagged, u.target))


# --- added for the dashboard (policy page) ----------------------------------------------

@dataclass(frozen=True, slots=True)
class PolicyOffender:
    """A service (or unowned targets, `service` None) that a policy fails for right now."""

    service: str | None
    failing: int
    """Targets failing the policy."""
    errors: int
    """Targets the policy could not judge: compliance there is unknown."""
    message: str | None
    """The first violation message (or error), so the page shows what is wrong."""
    since: date | None
    """Since when it fails: a scorecard rule's `since`, else the finding history."""


def policy_offenders(findings: Iterable[Any],
                     since: Mapping[str, date]) -> list[PolicyOffender]:
    """Services failing one policy, from its current findings (`FindingRow`s, or rows with
    `service`, `status`, `violations`, `error`); longest failing first, since a lead's
    question is which failures have been left alone."""
    grouped: dict[str | None, dict[str, Any]] = {}
    for finding in findings:
        if finding.status not in ("fail", "error"):
            continue
        entry = grouped.setdefault(finding.service, {"fail": 0, "error": 0, "message": None})
        entry[finding.status] += 1
        if entry["message"] is None:
            entry["message"] = finding.error or next(
                (v.get("msg") for v in finding.violations or [] if v.get("msg")), None)
    out = [PolicyOffender(service, e["fail"], e["error"], e["message"],
                          since.get(service) if service else None)
           for service, e in grouped.items()]
    return sorted(out, key=lambda o: (o.since or date.max, o.service is None,
                                      o.service or ""))


def failing_since(results: Iterable[ScorecardResult], policy_id: str,
                  tags: Iterable[str] = ()) -> dict[str, date]:
    """Per service, the `since` of a failing scorecard rule on the policy itself, else of a
    failing rule on one of its tags (which may have started failing for a sibling policy,
    so it is only the fallback). The earliest wins across scorecards."""
    tags = set(tags)
    exact: dict[str, date] = {}
    by_tag: dict[str, date] = {}
    for r in results:
        for rule in r.rules:
            if rule.get("status") not in ("fail", "error") or not rule.get("since"):
                continue
            day = date.fromisoformat(rule["since"])
            if rule.get("kind") == "policy" and rule.get("target") == policy_id:
                exact[r.service] = min(day, exact.get(r.service, day))
            elif rule.get("kind") == "tag" and rule.get("target") in tags:
                by_tag[r.service] = min(day, by_tag.get(r.service, day))
    return {**by_tag, **exact}


def failing_streaks(history: Iterable[Any], policy_id: str) -> dict[str, date]:
    """Per service, the first day of the unbroken run of failing days that reaches its last
    recorded day, from `Store.finding_days()`: for policies no scorecard rule names."""
    failing: dict[str, dict[date, bool]] = defaultdict(dict)
    for row in history:
        if row.policy_id != policy_id:
            continue
        bad = bool(row.counts.get("fail") or row.counts.get("error"))
        days = failing[row.service]
        days[row.day] = days.get(row.day, False) or bad
    out = {}
    for service, days in failing.items():
        start = None
        for day in sorted(days, reverse=True):
            if not days[day]:
                break
            start = day
        if start is not None:
            out[service] = start
    return out


def denials_per_day(decisions: Iterable[Any], policy_id: str, *, days: int,
                    today: date) -> list[tuple[date, int]]:
    """Admission requests denied on the policy per UTC day, every day of the window present
    (zero included), so a chart's gaps mean quiet days rather than missing data."""
    start = today - timedelta(days=days - 1)
    counts: Counter[date] = Counter()
    for entry in decisions:
        day = entry.time.date()
        if not entry.allowed and policy_id in (entry.denied or []) and start <= day <= today:
            counts[day] += 1
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0))
            for i in range(days)]


def trend_from_counts(counts: Iterable[Sequence[Any]], card: Scorecard, *, days: int,
                      today: date) -> list[TrendPoint]:
    """`trend`, from per-day counts summed in the database: rows of (day, scorecard, level,
    services, score sum, scored services). A large estate's history is then never loaded
    row by row; the points are the same as `trend` computes from the rows."""
    since = today - timedelta(days=days - 1)
    per_day: dict[date, dict[str, Any]] = {}
    for day, scorecard, level, n, total, scored in counts:
        if scorecard != card.id or day < since:
            continue
        item = per_day.setdefault(day, {"levels": Counter(), "sum": 0.0, "scored": 0})
        item["levels"][level or NONE_LEVEL] += n
        item["sum"] += float(total or 0.0)
        item["scored"] += scored
    names = [NONE_LEVEL, *(lvl.name for lvl in card.levels)]
    points = []
    for day in sorted(per_day):
        item = per_day[day]
        services = sum(item["levels"].values())
        at_least = {name: round(sum(item["levels"][n] for n in names[i:]) / services, 4)
                    if services else 0.0 for i, name in enumerate(names) if i}
        average = round(item["sum"] / item["scored"], 4) if item["scored"] else None
        points.append(TrendPoint(day, services, at_least, average))
    return points
