"""The waivers page: what is excused, for whom, until when, and which waivers need a
decision (requested), a renewal or a fix (expiring), a clean-up (unused) or a look back
(expired). Filters and the chosen list live in the address like on every page.

Waiver states follow the clock on every request; what each waiver excuses comes from the
current findings and is cached per data version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..context import AppContext
from ..governance_views import (
    WaiverBoard,
    WaiverLine,
    named_services,
    rule_policy_ids,
    service_index,
    waived_rules,
    waiver_board,
    waiver_lines,
    waiver_matches,
)
from ..views import ServiceFilter
from .common import Snapshot
from .data import DataCache, current_waivers, waived_findings
from .query import Links

LISTS = ("requested", "expiring", "active", "unused", "expired")
"""The lists, in the order a lead works through them; `all` shows every one."""
MAX_WAIVED_RULES = 200


def read_list(params: Mapping[str, str]) -> str:
    value = (params.get("show") or "").strip()
    return value if value in LISTS else "all"


def read_policy(params: Mapping[str, str]) -> str | None:
    return (params.get("policy") or "").strip() or None


def board_for(ctx: AppContext, data: DataCache, snap: Snapshot, flt: ServiceFilter,
              now: datetime, *, expired_within: int, policy: str | None = None
              ) -> tuple[WaiverBoard, list[WaiverLine], list[Any]]:
    """(the board over the filtered waivers, every waiver's line unfiltered, the current
    waived findings rows)."""
    rows = data.get((snap.version, "waived-findings"), lambda: waived_findings(ctx.store))
    rules = ctx.governance.settings
    waivers = current_waivers(ctx.store, ctx.governance)
    # Which catalog services each waiver names changes with the catalog and the waivers,
    # never with the clock: matched once per data version and set of waivers.
    covers = tuple(sorted((w.id, w.services) for w in waivers))
    named = data.get((snap.version, "waiver-services", covers), lambda: {
        w.id: named_services(w, snap.services.values(), index)
        for index in [service_index(snap.services.values())] for w in waivers})
    every = waiver_lines(waivers, rows, snap.services, now, zone=rules.zone,
                         expiring_within=rules.waivers.expiring_within_days, named=named)
    lines = [w for w in every if waiver_matches(w, flt, snap.services, policy)]
    results = snap.filtered(flt)
    if policy:
        rows = [r for r in rows if r[1] == policy]
    board = waiver_board(lines, results, rows, snap.services,
                         expiring_within=rules.waivers.expiring_within_days,
                         expired_within=expired_within, flt=flt)
    return board, every, rows


def waivers_page(ctx: AppContext, data: DataCache, snap: Snapshot, flt: ServiceFilter,
                 days: int, now: datetime, params: Mapping[str, str],
                 links: Links) -> dict[str, Any]:
    """`links`: the page's; its own links (lists, window, clear) add the list and the
    policy chosen, so every choice stays in the address."""
    chosen, policy = read_list(params), read_policy(params)
    board, every, rows = board_for(ctx, data, snap, flt, now, expired_within=days,
                                   policy=policy)
    lists = {"requested": board.requested, "expiring": board.expiring,
             "active": board.active, "unused": board.unused, "expired": board.expired}
    waived = waived_rules(snap.filtered(flt), rows, ctx.policies)
    if policy:
        waived = [w for w in waived if policy in _rule_policies(w, ctx)]
    named = sorted({p for w in every for p in (*w.waiver.policies, *w.policies)})
    return {"board": board, "lists": lists, "chosen": chosen, "policy": policy,
            "policy_options": named, "closed": board.closed, "lists_order": LISTS,
            "waived_rules": waived[:MAX_WAIVED_RULES], "waived_total": len(waived),
            "now": now, "expiring_within": board.expiring_within,
            "known_policies": set(ctx.policies),
            "here": Links({**links.query, **({"policy": policy} if policy else {}),
                           **({"show": chosen} if chosen != "all" else {})})}


def _rule_policies(rule: Any, ctx: AppContext) -> list[str]:
    return rule_policy_ids({"kind": rule.kind, "target": rule.target}, ctx.policies)
