"""The report as plain data: the JSON file, and what the HTML and Markdown templates read,
so every format shows the same numbers under the same names.

The shape is a contract for whoever consumes `pathwarden-report.json` (documented in the
README); `VERSION` changes when a key is removed or changes meaning, not when one is added.
Shares and scores are fractions 0-1 rounded to 4 places; days are ISO dates.
"""

from __future__ import annotations

from typing import Any

from ..views import NONE_LEVEL, Move, TrendPoint, UnownedTarget, team_of
from .build import Blocker, CardSection, RankedRule, Report, ServiceLine, TeamSection
from .fixes import Fix

VERSION = 1


def report_data(report: Report) -> dict[str, Any]:
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
        "teams": [_team(t) for t in report.teams],
        "services": [_line(ln) for ln in report.lines],
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
            "failing_rules": line.failing,
            "blocking": [_blocker(b) for b in line.blockers]}


def _team(team: TeamSection) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = {}
    for line in team.lines:
        flat = _line(line)
        entry = services.setdefault(flat["service"], {
            k: flat[k] for k in ("service", "name", "owner", "system", "lifecycle", "tier")})
        entry.setdefault("scorecards", []).append({k: flat[k] for k in (
            "scorecard", "scorecard_title", "level", "score", "next_level", "failing_rules",
            "blocking")})
    return {"team": team.team, "owners": team.owners, "average_score": team.average_score,
            "service_count": team.services, "services": list(services.values()),
            "failing_rules": [_ranked(r) for r in team.failing]}
