"""Waivers and campaigns as leads see them, for the report and the dashboard alike.

A waived rule is neither passed nor failing: a reviewed, expiring exception. Leads see
waived rules and the waivers behind them apart from both, counted per team, so an
exception never hides as a pass and never inflates the failing lists. Waivers are judged
at a given moment (active, expiring, expired) and campaigns over a service filter.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from ..engine.governance import Campaign, Waiver
from ..engine.governance.dates import days_until
from ..engine.model import Policy
from ..engine.store import ServiceRow
from .campaigns import CampaignProgress, campaign_progress
from .views import ServiceFilter, team_of

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
        last = w.last_day(zone)
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
