"""A policy's page: what it asks and how to comply, which services fail it and for how long,
and how often admission denied requests on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from ...engine.model import Policy
from ..context import AppContext
from ..views import (
    ServiceFilter,
    denials_per_day,
    failing_since,
    failing_streaks,
    policy_offenders,
)
from .charts import bar_chart
from .common import Snapshot

DECISION_CAP = 5000
"""Decisions read for the denial chart; a busier policy is shown as "at least"."""
RECENT_DENIALS = 10


@dataclass(frozen=True, slots=True)
class Usage:
    card_id: str
    card_title: str
    level: str
    rule_title: str
    via: str
    """`policy` when the rule names it, else the tag it is selected by."""


def usages(ctx: AppContext, policy: Policy) -> list[Usage]:
    return [Usage(card.id, card.title, rule.level, rule.title,
                  "policy" if rule.policy else f"tag {rule.tag}")
            for card in ctx.cards for rule in card.rules
            if rule.policy == policy.id or (rule.tag and rule.tag in policy.tags)]


def policy_page(ctx: AppContext, snap: Snapshot, policy: Policy, flt: ServiceFilter,
                days: int) -> dict[str, Any]:
    """The page's filters narrow the services listed (a lead looking at production sees
    production offenders); admission denials are not per service and stay whole."""
    findings = [(f, t) for f, t in ctx.store.current_findings(policy=policy.id)
                if flt.matches(snap.services.get(f.service) if f.service else None)]
    since = failing_since(snap.results, policy.id, policy.tags)
    failing_services = {f.service for f, _ in findings
                        if f.status in ("fail", "error") and f.service}
    if snap.day is not None and failing_services - set(since):
        history = ctx.store.finding_days(since=snap.day - timedelta(days=89))
        since = {**failing_streaks(history, policy.id), **since}
    offenders = policy_offenders(findings, since)
    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=UTC)
    decisions = ctx.store.decisions(policy=policy.id, allowed=False, since=start,
                                    limit=DECISION_CAP)
    per_day = denials_per_day(decisions, policy.id, days=days, today=today)
    total = sum(n for _, n in per_day)
    chart = bar_chart(per_day, width=760,
                      label=f"Admission requests denied by {policy.id} per day over the last "
                            f"{days} days")
    denied = [d for d in decisions if policy.id in (d.denied or [])][:RECENT_DENIALS]
    checked = {f.service for f, _ in findings}
    return {"policy": policy, "usages": usages(ctx, policy), "offenders": offenders,
            "judged": len(findings), "judged_services": len({s for s in checked if s}),
            "denials": per_day, "denial_total": total,
            "denials_capped": len(decisions) >= DECISION_CAP, "denial_chart": chart,
            "recent_denials": denied}
