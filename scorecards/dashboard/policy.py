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
from .data import DataCache, finding_history, policy_findings

DECISION_CAP = 5000
"""Decisions read for the denial chart; a busier policy is shown as "at least"."""
RECENT_DENIALS = 10
MAX_OFFENDERS = 100
"""Rows of the "failing now" table: the longest failing; the API lists all."""
HISTORY_DAYS = 90
"""How far back the finding history is read for policies no scorecard rule dates."""


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


def policy_page(ctx: AppContext, data: DataCache, snap: Snapshot, policy: Policy,
                flt: ServiceFilter, days: int) -> dict[str, Any]:
    """The page's filters narrow the services listed (a lead looking at production sees
    production offenders); admission denials are not per service and stay whole."""
    found = data.get((snap.version, "policy", policy.id, flt),
                     lambda: _offenders(ctx, snap, policy, flt))
    return {"policy": policy, "usages": usages(ctx, policy), "max_offenders": MAX_OFFENDERS,
            **found,
            **_denials(ctx, policy, days)}


def _offenders(ctx: AppContext, snap: Snapshot, policy: Policy,
               flt: ServiceFilter) -> dict[str, Any]:
    def wanted(service: str | None) -> bool:
        return flt.matches(snap.services.get(service) if service else None)

    counts, failing = policy_findings(ctx.store, policy.id)
    counts = [row for row in counts if wanted(row.service)]
    failing = [row for row in failing if wanted(row.service)]
    since = failing_since(snap.results, policy.id, policy.tags)
    undated = {row.service for row in failing if row.service} - set(since)
    if snap.day is not None and undated:
        history = finding_history(ctx.store, policy.id, undated,
                                  snap.day - timedelta(days=HISTORY_DAYS - 1))
        since = {**failing_streaks(history, policy.id), **since}
    return {"offenders": policy_offenders(failing, since),
            "judged": sum(row[2] for row in counts),
            "judged_services": len({row.service for row in counts if row.service})}


def _denials(ctx: AppContext, policy: Policy, days: int) -> dict[str, Any]:
    """Never cached: the decision log grows between scans."""
    today = datetime.now(UTC).date()
    start = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=UTC)
    decisions = ctx.store.decisions(policy=policy.id, allowed=False, since=start,
                                    limit=DECISION_CAP)
    per_day = denials_per_day(decisions, policy.id, days=days, today=today)
    chart = bar_chart(per_day, width=760,
                      label=f"Admission requests denied by {policy.id} per day over the last "
                            f"{days} days")
    return {"denials": per_day, "denial_total": sum(n for _, n in per_day),
            "denials_capped": len(decisions) >= DECISION_CAP, "denial_chart": chart,
            "recent_denials": [d for d in decisions
                               if policy.id in (d.denied or [])][:RECENT_DENIALS]}
