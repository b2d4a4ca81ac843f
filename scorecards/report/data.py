"""The report as plain data: the JSON file, and what the HTML and Markdown templates read,
so every format shows the same numbers under the same names.

The shape is a contract for whoever consumes `pathwarden-report.json` (documented in the
README); `VERSION` changes when a key is removed or changes meaning, not when one is added.
Shares and scores are fractions 0-1 rounded to 4 places; days are ISO dates.
"""

from __future__ import annotations

from typing import Any

from ...engine.governance.waivers import COVERS
from ..campaigns import STATUSES, CampaignProgress
from ..governance_views import (
    EXPIRED_WITHIN_DAYS,
    WaivedRule,
    WaiverBoard,
    WaiverLine,
    campaign_teams,
)
from ..views import NONE_LEVEL, Move, TrendPoint, UnownedTarget, team_of
from .build import Blocker, CardSection, RankedRule, Report, ServiceLine, TeamSection
from .fixes import Fix

VERSION = 1


def report_data(report: Report) -> dict[str, Any]:
    titles = {c.card.id: c.card.title for c in report.cards}
    return {
        "version": VERSION,
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "today": report.today.isoformat(),
        "data_day": _day(report.data_day),
        "compared_to": _day(report.compared_to),
        "history": {"from": _day(report.history_days[0] if report.history_days else None),
                    "to": _day(report.history_days[-1] if report.history_days else None),
                    "days": len(report.history_days)},
        "last_scan": _scan(report),
        "filter": report.filter.query(),
        "empty": report.empty,
        "summary": {"services": report.services, "scorecards": len(report.cards),
                    "average_score": report.average_score, "teams": len(report.teams),
                    "unowned_targets": len(report.unowned)},
        "scorecards": [_card(c) for c in report.cards],
        "failing_rules": [_ranked(r) for r in report.failing],
        "improvers": [_move(m) for m in report.improvers],
        "regressions": [_move(m) for m in report.regressions],
        "unowned_targets": [_unowned(u) for u in report.unowned],
        "teams": [_team(t, titles) for t in report.teams],
        "services": [_line(ln) for ln in report.lines],
        "campaigns": [_campaign(p) for p in report.campaigns],
        "waivers": _waivers(report.waivers, report.waived, titles),
    }


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _scan(report: Report) -> dict[str, Any] | None:
    scan = report.last_scan
    if scan is None:
        return None
    return {"id": scan.id, "scope": scan.scope, "status": scan.status,
            "started_at": scan.started_at.isoformat(timespec="seconds"),
            "finished_at": scan.finished_at.isoformat(timespec="seconds")
            if scan.finished_at else None}


def _card(section: CardSection) -> dict[str, Any]:
    card, item = section.card, section.adoption
    names = item.level_names
    return {
        "id": card.id, "title": card.title, "description": card.description,
        "golden_path": card.golden_path, "levels": [lvl.name for lvl in card.levels],
        "services": item.services, "average_score": item.average_score,
        "adoption": [{"level": name, "services": item.levels.get(name, 0),
                      "share": round(item.share(name), 4),
                      "at_least": round(item.at_least(name), 4)} for name in names],
        "by_team": _groups(item.by_team, names),
        "by_system": _groups(item.by_system, names),
        "trends": [{"days": days, "points": [_point(p) for p in points]}
                   for days, points in section.trends.items()],
    }


def _groups(groups: dict[str, dict[str, int]], names: list[str]) -> list[dict[str, Any]]:
    out = []
    for group in sorted(groups):
        levels = groups[group]
        total = sum(levels.values())
        out.append({"name": group, "services": total,
                    "levels": {n: levels.get(n, 0) for n in names},
                    "shares": {n: round(levels.get(n, 0) / total, 4) if total else 0.0
                               for n in names}})
    return out


def _point(point: TrendPoint) -> dict[str, Any]:
    return {"day": point.day.isoformat(), "services": point.services,
            "at_least": dict(point.at_least), "average_score": point.average_score}


def _fix(fix: Fix) -> dict[str, Any]:
    return {"remediation": fix.remediation, "url": fix.url,
            "policies": [{"id": p.id, "title": p.title, "remediation": p.remediation,
                          "url": p.url, "services": p.services} for p in fix.policies]}


def _ranked(item: RankedRule) -> dict[str, Any]:
    rule = item.rule
    return {"scorecard": rule.scorecard, "scorecard_title": item.scorecard_title,
            "rule": rule.rule, "title": rule.title, "level": item.level, "kind": rule.kind,
            "target": rule.target, "services": rule.services, "teams": rule.teams,
            **_fix(item.fix)}


def _move(move: Move) -> dict[str, Any]:
    return {"scorecard": move.scorecard, "service": move.service, "owner": move.owner,
            "team": team_of(move.owner), "level_before": move.level_before,
            "level_after": move.level_after, "score_before": move.score_before,
            "score_after": move.score_after, "delta": round(move.delta, 4)}


def _unowned(target: UnownedTarget) -> dict[str, Any]:
    return {"target": target.target, "kind": target.kind, "object_kind": target.object_kind,
            "name": target.name, "namespace": target.namespace, "source": target.source,
            "location": target.location, "failing_policies": list(target.failing),
            "ownership_policy_failed": target.flagged}


def _blocker(blocker: Blocker) -> dict[str, Any]:
    return {"rule": blocker.id, "title": blocker.title, "level": blocker.level,
            "status": blocker.status, "since": blocker.since, **_fix(blocker.fix)}


def _line(line: ServiceLine) -> dict[str, Any]:
    r, service = line.result, line.service
    return {"service": r.service, "name": service.name if service else r.service,
            "owner": r.owner, "team": team_of(r.owner), "system": r.system,
            "lifecycle": service.lifecycle if service else None,
            "tier": service.tier if service else None,
            "scorecard": r.scorecard, "scorecard_title": line.scorecard_title,
            "level": r.level or NONE_LEVEL, "score": r.score, "next_level": line.next_level,
            "failing_rules": line.failing, "waived_rules": line.waived,
            "blocking": [_blocker(b) for b in line.blockers]}


def _team(team: TeamSection, titles: dict[str, str]) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = {}
    for line in team.lines:
        flat = _line(line)
        entry = services.setdefault(flat["service"], {
            k: flat[k] for k in ("service", "name", "owner", "system", "lifecycle", "tier")})
        entry.setdefault("scorecards", []).append({k: flat[k] for k in (
            "scorecard", "scorecard_title", "level", "score", "next_level", "failing_rules",
            "waived_rules", "blocking")})
    return {"team": team.team, "owners": team.owners, "average_score": team.average_score,
            "service_count": team.services, "services": list(services.values()),
            "failing_rules": [_ranked(r) for r in team.failing],
            "waived_rule_count": len(team.waived),
            "waived_rules": [_waived_rule(w, titles) for w in team.waived]}


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _campaign(progress: CampaignProgress) -> dict[str, Any]:
    """The API's shape of a campaign's progress (`CampaignProgress.as_dict`), plus what a
    report reader looks for first: the share that complies and the teams by name."""
    data = progress.as_dict()
    data["trend"] = [{"day": p["day"], **{s: p.get(s, 0) for s in STATUSES}}
                     for p in data["trend"]]  # every status on every day, zeros included
    return {**data, "compliant_share": _share(progress.compliant_share),
            "teams": [{"team": team, **counts, "share": _share(share)}
                      for team, counts, share in campaign_teams(progress)]}


def _waiver(line: WaiverLine) -> dict[str, Any]:
    w = line.waiver
    return {"id": w.id, "status": line.status, "policies": list(w.policies),
            "covers": {c: list(getattr(w, c)) for c in COVERS if getattr(w, c)},
            "reason": w.reason, "requested_by": w.requested_by,
            "approved_by": w.approved_by, "expires": w.expires,
            "last_day": line.last_day.isoformat(), "days_left": line.days_left,
            "findings": line.findings, "excused_policies": list(line.policies),
            "services": list(line.services), "teams": list(line.teams),
            "source": w.source, "location": w.location}


def _waived_rule(rule: WaivedRule, titles: dict[str, str]) -> dict[str, Any]:
    return {"service": rule.service, "name": rule.service.split("/")[-1],
            "team": team_of(rule.owner), "scorecard": rule.scorecard,
            "scorecard_title": titles.get(rule.scorecard, rule.scorecard),
            "rule": rule.rule, "title": rule.title, "level": rule.level,
            "kind": rule.kind, "target": rule.target, "waivers": list(rule.waivers)}


def _waivers(board: WaiverBoard | None, waived: list[WaivedRule],
             titles: dict[str, str]) -> dict[str, Any]:
    """The lists overlap on purpose: `expiring` and `unused` are active waivers that need
    someone's attention; `all` holds every waiver once, whatever its state."""
    lists: dict[str, list[WaiverLine]] = {
        "requested": [], "active": [], "expiring": [], "unused": [], "expired": []}
    if board is not None:
        lists = {"requested": board.requested, "active": board.active,
                 "expiring": board.expiring, "unused": board.unused,
                 "expired": board.expired}
    return {
        "expiring_within_days": board.expiring_within if board else None,
        "expired_within_days": board.expired_within if board else EXPIRED_WITHIN_DAYS,
        "counts": {k: len(v) for k, v in lists.items()},
        "waived_rule_count": len(waived),
        "waived_finding_count": board.waived_findings if board else 0,
        **{k: [_waiver(w) for w in v] for k, v in lists.items()},
        "all": [_waiver(w) for w in board.lines] if board else [],
        "by_team": [{"team": t.team, "waived_rules": t.waived_rules,
                     "waived_findings": t.waived_findings, "active_waivers": t.waivers}
                    for t in (board.teams if board else [])],
        "waived_rules": [_waived_rule(w, titles) for w in waived],
    }
