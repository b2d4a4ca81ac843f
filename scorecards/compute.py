"""Scorecard results from the current findings: levels, scores, and since when a rule fails.

A rule's status folds the findings of its policies on all of a service's targets: any
error makes it `error`, any failure `fail`, a waiver without failures `waived`, the rule's
own warnings `warn` (passed, with something to look at), and no finding at all `n/a`.
A level is reached when every rule of it and of the levels below passed or does not apply;
the score is the weighted share of applicable rules passed. Errors and waivers are
applicable and not passed, so they can never make a service look better than it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..engine.model import Policy
from ..engine.scanner.delivery import delivery_metrics
from ..engine.store import Store
from .definitions import OPERATORS, Rule, Scorecard, ScorecardSet

PASSED = ("pass", "warn")
FAILING = ("fail", "error")


def compute_scorecards(store: Store, scorecards: ScorecardSet, policies: Iterable[Policy], *,
                       day: date | None = None, now: datetime | None = None,
                       scan_id: int | None = None) -> list[dict[str, Any]]:
    """Compute and store the day's results for every service and applicable scorecard."""
    now = now or datetime.now(UTC)
    day = day or now.date()
    by_tag: dict[str, list[str]] = {}
    for policy in policies:
        for tag in policy.tags:
            by_tag.setdefault(tag, []).append(policy.id)
    counts = store.finding_counts()
    facts = _facts(store, now)
    previous = _previous(store, day)
    rows = []
    for service in store.services():
        info = {"type": service.type, "lifecycle": service.lifecycle, "tier": service.tier,
                "owner": service.owner, "system": service.system}
        service_facts = facts.get(_repo_key(service.links), {})
        for card in scorecards.scorecards:
            if not card.applies_to(info):
                continue
            rows.append(score_service(
                card, service.ref, counts, by_tag, service_facts,
                previous.get((card.id, service.ref), {}), day,
                owner=service.owner, system=service.system, scan_id=scan_id))
    store.write_scorecard_results(day, rows)
    return rows


def score_service(card: Scorecard, service: str,
                  counts: Mapping[tuple[str | None, str], Mapping[str, int]],
                  by_tag: Mapping[str, list[str]], facts: Mapping[str, Any],
                  previous: Mapping[str, Mapping[str, Any]], day: date, *,
                  owner: str | None = None, system: str | None = None,
                  scan_id: int | None = None) -> dict[str, Any]:
    rules = []
    for rule in card.rules:
        status, found = _rule_status(rule, service, counts, by_tag, facts)
        rules.append({"id": rule.id, "title": rule.title, "level": rule.level,
                      "kind": rule.kind(), "target": rule.policy or rule.tag or rule.fact,
                      "weight": rule.weight, "status": status, "counts": found,
                      **_dates(status, previous.get(rule.id), day)})
    level, index = None, -1
    applicable_so_far = False
    for i, lvl in enumerate(card.levels):
        mine = [r for r in rules if r["level"] == lvl.name]
        if any(r["status"] not in (*PASSED, "n/a") for r in mine):
            break
        applicable_so_far = applicable_so_far or any(r["status"] != "n/a" for r in mine)
        if applicable_so_far:
            level, index = lvl.name, i
    applicable = [r for r in rules if r["status"] != "n/a"]
    weight = sum(r["weight"] for r in applicable)
    score = (round(sum(r["weight"] for r in applicable if r["status"] in PASSED) / weight, 4)
             if weight else None)
    return {"scorecard": card.id, "service": service, "owner": owner, "system": system,
            "level": level, "level_index": index, "score": score, "rules": rules,
            "scan_id": scan_id}


def _rule_status(rule: Rule, service: str,
                 counts: Mapping[tuple[str | None, str], Mapping[str, int]],
                 by_tag: Mapping[str, list[str]],
                 facts: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if rule.fact:
        value = _fact(facts, rule.fact)
        if value is None:
            return "n/a", {"value": None}
        passed = OPERATORS[rule.op or "=="](value, rule.value)
        return ("pass" if passed else "fail"), {"value": value}
    policies = [rule.policy] if rule.policy else by_tag.get(rule.tag or "", [])
    total: dict[str, int] = {}
    for policy in policies:
        for status, n in counts.get((service, policy), {}).items():
            total[status] = total.get(status, 0) + n
    if total.get("error"):
        return "error", total
    if total.get("fail"):
        return "fail", total
    if total.get("waived"):
        return "waived", total
    if total.get("warn"):
        return "warn", total
    if total.get("pass"):
        return "pass", total
    return "n/a", total


def _dates(status: str, before: Mapping[str, Any] | None, day: date) -> dict[str, Any]:
    was_failing = before is not None and before.get("status") in FAILING
    if status in FAILING:
        since = before.get("since") if was_failing and before else None
        return {"since": since or day.isoformat(), "fixed": None}
    fixed = day.isoformat() if was_failing else (before or {}).get("fixed")
    return {"since": None, "fixed": fixed}


def _previous(store: Store, day: date) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    last = store.latest_scorecard_day(before=day)
    if last is None:
        return {}
    return {(r.scorecard, r.service): {rule["id"]: rule for rule in r.rules}
            for r in store.scorecard_results(day=last)}


def _facts(store: Store, now: datetime) -> dict[str, dict[str, Any]]:
    runs: dict[str, list[Any]] = {}
    for run in store.pipeline_runs(since=now - timedelta(days=30)):
        runs.setdefault(run.repository.lower(), []).append(run)
    return {repo: {"delivery": delivery_metrics(items, now)} for repo, items in runs.items()}


def _repo_key(links: Mapping[str, Any] | None) -> str:
    links = links or {}
    return str(links.get("repository_slug") or links.get("repository") or "").lower()


def _fact(facts: Mapping[str, Any], path: str) -> Any:
    node: Any = facts
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def after_scan(settings: Any, store: Store, policies: Iterable[Policy], *,
               scan_id: int | None = None, day: date | None = None) -> list[dict[str, Any]]:
    """What every scan is followed by: the day's scorecard results (problems in the
    definitions are logged; the valid scorecards are still computed)."""
    import logging

    from .definitions import configured_scorecards

    cards = configured_scorecards(settings)
    for problem in cards.problems:
        logging.getLogger("pathwarden.scorecards").error("%s", problem)
    return compute_scorecards(store, cards, policies, day=day, scan_id=scan_id)
