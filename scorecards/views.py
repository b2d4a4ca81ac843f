"""What leads look at, computed once for the report and the dashboard alike.

Plain functions over stored scorecard results: adoption of each golden path (by level,
overall, per team and per system), trends, the rules failing most often, movers, and what
blocks a service's next level; and waivers (their state at a given moment, what they
excuse, waived rules per team) and campaigns over a filter. The report renders these to
files, the dashboard to pages; neither computes its own numbers.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from ..engine.governance import Campaign, Waiver
from ..engine.governance.dates import days_until
from ..engine.model import Policy
from ..engine.store import FindingRow, ScorecardResult, ServiceRow, TargetRow
from .campaigns import CampaignProgress, campaign_progress
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


# --- waivers and campaigns (issue 6) ------------------------------------------------------
# A waived rule is neither passed nor failing: a reviewed, expiring exception. Leads see
# waived rules and the waivers behind them apart from both, counted per team, so an
# exception never hides as a pass and never inflates the failing lists.

WAIVED = "waived"
EXPIRED_WITHIN_DAYS = 30
"""How far back "recently expired" reaches in the report (the dashboard offers its window)."""
WaivedRow = tuple[str | None, str, str, int]
"""(service, policy, waiver, findings) of the current waived findings."""


def waived_by_team(results: Iterable[Any]) -> dict[str, int]:
    """Team -> rules a waiver excuses (one per service, scorecard and rule)."""
    counts: Counter[str] = Counter()
    for r in results:
        counts[team_of(r.owner)] += sum(1 for rule in r.rules if rule["status"] == WAIVED)
    return {team: n for team, n in counts.items() if n}


def waived_findings_by_team(rows: Iterable[WaivedRow],
                            services: Mapping[str, ServiceRow]) -> dict[str, int]:
    """Team -> current findings a waiver excuses; findings of no service are `unowned`."""
    counts: Counter[str] = Counter()
    for service, _, _, n in rows:
        row = services.get(service) if service else None
        counts[team_of(row.owner if row else None)] += n
    return dict(counts)


@dataclass(frozen=True, slots=True)
class WaivedRule:
    """A scorecard rule a waiver excuses for one service, with the waivers doing it."""

    service: str
    owner: str | None
    scorecard: str
    rule: str
    title: str
    level: str
    kind: str
    target: str
    waivers: tuple[str, ...]


def rule_policy_ids(rule: Mapping[str, Any], policies: Mapping[str, Policy]) -> list[str]:
    """The policies behind a scorecard rule: its policy, or every policy with its tag."""
    if rule.get("kind") == "policy":
        return [str(rule.get("target"))]
    if rule.get("kind") == "tag":
        return sorted(p.id for p in policies.values() if rule.get("target") in p.tags)
    return []


def waived_rules(results: Iterable[Any], rows: Iterable[WaivedRow],
                 policies: Mapping[str, Policy]) -> list[WaivedRule]:
    """Every waived rule of the results, naming the waivers that excuse its findings."""
    by_key: dict[tuple[str | None, str], set[str]] = defaultdict(set)
    for service, policy, waiver, _ in rows:
        by_key[service, policy].add(waiver)
    out = []
    for r in results:
        for rule in r.rules:
            if rule["status"] != WAIVED:
                continue
            ids = sorted({w for p in rule_policy_ids(rule, policies)
                          for w in by_key.get((r.service, p), ())})
            out.append(WaivedRule(r.service, r.owner, r.scorecard, rule["id"], rule["title"],
                                  rule["level"], rule["kind"], str(rule["target"]),
                                  tuple(ids)))
    return sorted(out, key=lambda w: (team_of(w.owner), w.service, w.scorecard, w.rule))


@dataclass(frozen=True, slots=True)
class WaiverLine:
    """A waiver as a lead reads it: its state today, and what it excuses now."""

    waiver: Waiver
    status: str
    """requested | active | expiring (active, ends within the configured days) | expired |
    rejected | revoked."""
    last_day: date
    """The last day it applies, in the governance time zone."""
    days_left: int
    """Days from today to `last_day` (0: today is its last day; negative once expired)."""
    findings: int
    """Current findings it excuses (as of the latest scan)."""
    services: tuple[str, ...]
    """Services it excuses findings of, and catalog services it names."""
    teams: tuple[str, ...]
    policies: tuple[str, ...]
    """Policies it excuses findings of now."""

    @property
    def active(self) -> bool:
        return self.status in ("active", "expiring")

    @property
    def unused(self) -> bool:
        """Active but excusing nothing: stale, or covering the wrong thing."""
        return self.active and not self.findings


def waiver_lines(waivers: Iterable[Waiver], rows: Iterable[WaivedRow],
                 services: Mapping[str, ServiceRow], now: datetime, *, zone: tzinfo,
                 expiring_within: int,
                 named: Mapping[str, Sequence[str]] | None = None) -> list[WaiverLine]:
    """Each waiver's status at `now` and its current use; soonest to end first. `named`:
    waiver id -> `named_services`, when the caller keeps them (they change with the
    catalog, not the clock)."""
    used: dict[str, Counter[str | None]] = defaultdict(Counter)
    policies_of: dict[str, set[str]] = defaultdict(set)
    for service, policy, waiver, n in rows:
        used[waiver][service] += n
        policies_of[waiver].add(policy)
    today = now.astimezone(zone).date()
    index = service_index(services.values()) if named is None else {}
    out = []
    for w in waivers:
        last = (w.expires_at - timedelta(microseconds=1)).astimezone(zone).date()
        left = (last - today).days
        if w.state == "approved":
            status = ("expired" if now >= w.expires_at
                      else "expiring" if left <= expiring_within else "active")
        else:
            status = w.state
        mentioned = (named[w.id] if named is not None and w.id in named
                     else named_services(w, services.values(), index))
        refs = {s for s in used[w.id] if s} | set(mentioned)
        teams = sorted({team_of(services[s].owner) if s in services else "unowned"
                        for s in refs} | ({"unowned"} if None in used[w.id] else set()))
        out.append(WaiverLine(w, status, last, left, sum(used[w.id].values()),
                              tuple(sorted(refs)), tuple(teams),
                              tuple(sorted(policies_of[w.id]))))
    return sorted(out, key=lambda x: (x.days_left, x.waiver.id))


GLOB = frozenset("*?[")


def named_services(waiver: Waiver, services: Iterable[ServiceRow],
                   index: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Catalog services a waiver's `services` patterns name (by ref or by name). With
    `index` (`service_index`), plain names are looked up instead of matched against every
    service: hundreds of waivers over thousands of services stay cheap."""
    patterns = tuple(waiver.services)
    if not patterns:
        return []
    rows: list[ServiceRow] | None = None
    found: set[str] = set()
    for p in patterns:
        if index is not None and not GLOB & set(p):
            found.update(index.get(p, ()))
            continue
        rows = rows if rows is not None else list(services)
        match = re.compile(fnmatch.translate(p)).match  # once, not per service
        found.update(s.ref for s in rows if match(s.ref) or match(s.name))
    return sorted(found)


def service_index(services: Iterable[ServiceRow]) -> dict[str, list[str]]:
    """Ref and name -> refs, for `named_services`."""
    index: dict[str, list[str]] = defaultdict(list)
    for s in services:
        index[s.ref].append(s.ref)
        if s.name != s.ref:
            index[s.name].append(s.ref)
    return dict(index)


def waiver_matches(line: WaiverLine, flt: ServiceFilter, services: Mapping[str, ServiceRow],
                   policy: str | None = None) -> bool:
    """A filtered page or report keeps waivers touching a matching service (a waiver of no
    service, like an unowned target, belongs to no team) and, with `policy`, naming it
    (by id, tag or glob, as the waiver itself matches)."""
    if policy and not any(fnmatch.fnmatchcase(policy, p) for p in line.waiver.policies) \
            and policy not in line.policies:
        return False
    if not flt.query():
        return True
    return any(flt.matches(services.get(ref)) for ref in line.services)


@dataclass(frozen=True, slots=True)
class TeamWaivers:
    team: str
    waived_rules: int
    waived_findings: int
    waivers: int
    """Active waivers touching the team's services."""


@dataclass(frozen=True, slots=True)
class WaiverBoard:
    """The waivers in the lists a lead works through, and the waived counts per team."""

    lines: list[WaiverLine]
    expiring_within: int
    expired_within: int
    teams: list[TeamWaivers]

    @property
    def requested(self) -> list[WaiverLine]:
        return [w for w in self.lines if w.status == "requested"]

    @property
    def active(self) -> list[WaiverLine]:
        return [w for w in self.lines if w.active]

    @property
    def expiring(self) -> list[WaiverLine]:
        return [w for w in self.lines if w.status == "expiring"]

    @property
    def unused(self) -> list[WaiverLine]:
        return [w for w in self.lines if w.unused]

    @property
    def expired(self) -> list[WaiverLine]:
        """Expired within `expired_within` days, most recent first."""
        return sorted((w for w in self.lines if w.status == "expired"
                       and w.days_left >= -self.expired_within),
                      key=lambda w: (-w.days_left, w.waiver.id))

    @property
    def closed(self) -> list[WaiverLine]:
        return [w for w in self.lines if w.status in ("rejected", "revoked")]

    @property
    def waived_rules(self) -> int:
        return sum(t.waived_rules for t in self.teams)

    @property
    def waived_findings(self) -> int:
        return sum(t.waived_findings for t in self.teams)


def waiver_board(lines: Sequence[WaiverLine], results: Iterable[Any],
                 rows: Sequence[WaivedRow], services: Mapping[str, ServiceRow], *,
                 expiring_within: int, expired_within: int = EXPIRED_WITHIN_DAYS,
                 flt: ServiceFilter | None = None) -> WaiverBoard:
    """`results` and `rows` as filtered as the lines; teams by waived rules, most first."""
    flt = flt or ServiceFilter()
    rows = [r for r in rows if flt.matches(services.get(r[0]) if r[0] else None)]
    rules = waived_by_team(results)
    findings = waived_findings_by_team(rows, services)
    waivers: Counter[str] = Counter(t for w in lines if w.active for t in w.teams)
    names = set(rules) | set(findings) | set(waivers)
    if flt.team:
        names = {n for n in names if n == team_of(flt.team)}
    teams = sorted((TeamWaivers(n, rules.get(n, 0), findings.get(n, 0), waivers.get(n, 0))
                    for n in names),
                   key=lambda t: (-t.waived_rules, -t.waived_findings, t.team))
    return WaiverBoard(list(lines), expiring_within, expired_within, teams)


def campaign_progresses(campaigns: Iterable[Campaign], policies: Iterable[Policy],
                        services: Iterable[ServiceRow],
                        counts: Mapping[tuple[str | None, str], Mapping[str, int]],
                        days: Mapping[date, Mapping[tuple[str, str], Mapping[str, int]]],
                        now: datetime, flt: ServiceFilter | None = None
                        ) -> list[CampaignProgress]:
    """`scorecards.campaigns.campaign_progress` for every campaign over the services the
    filter keeps, so a filtered page or report counts (and trends) only those."""
    flt = flt or ServiceFilter()
    kept = [s for s in services if flt.matches(s)]
    policy_list = list(policies)
    return [campaign_progress(c, policy_list, kept, counts, days, now) for c in campaigns]


def progress_at(progress: CampaignProgress, now: datetime) -> CampaignProgress:
    """A cached `CampaignProgress` with what depends on the clock (phase, state, days left)
    brought to `now`; the counts only change with the data."""
    campaign = progress.campaign
    return dataclasses.replace(
        progress, state=campaign.state(now), phase=campaign.phase_at(now),
        next_phase=campaign.next_phase(now),
        days_left=days_until(campaign.deadline_at, now, campaign.zone))


def campaign_teams(progress: CampaignProgress) -> list[tuple[str, dict[str, int], float | None]]:
    """(team, counts per status, share compliant or waived among judged), most failing
    first: who to talk to."""
    merged: dict[str, Counter[str]] = defaultdict(Counter)
    for owner, counts in progress.by_team.items():
        merged[team_of(None if owner == "unowned" else owner)].update(counts)
    out = []
    for team, counts in merged.items():
        judged = sum(n for status, n in counts.items() if status != "no-data")
        share = ((counts.get("compliant", 0) + counts.get("waived", 0)) / judged
                 if judged else None)
        out.append((team, dict(counts), share))
    return sorted(out, key=lambda t: (-t[1].get("failing", 0), t[0]))
