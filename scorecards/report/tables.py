"""CSV files of the report, for spreadsheets: long tables (one fact per row) that pivot.

Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading
quote: catalog names and policy texts come from many repositories.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from .build import Report
from .data import report_data

SERVICES = ("service", "name", "owner", "team", "system", "lifecycle", "tier", "scorecard",
            "level", "score", "next_level", "failing_rules", "blocking_rules", "waived_rules")
ADOPTION = ("scorecard", "group_by", "group", "level", "services", "share")
FAILING = ("rank", "scorecard", "rule", "title", "level", "kind", "target", "services",
           "teams", "remediation", "url", "failing_policies")
TREND = ("scorecard", "day", "services", "level", "at_least", "average_score")
UNOWNED = ("target", "kind", "object_kind", "name", "namespace", "source", "location",
           "ownership_policy_failed", "failing_policies")
CAMPAIGNS = ("campaign", "title", "owner", "state", "phase", "next_phase", "next_phase_from",
             "deadline", "days_left", "group_by", "group", "status", "services")
WAIVERS = ("waiver", "status", "policies", "services", "namespaces", "objects",
           "repositories", "pipelines", "reason", "requested_by", "approved_by", "expires",
           "last_day", "days_left", "findings", "excused_services", "teams", "source",
           "location")


def render_csv(report: Report) -> dict[str, str]:
    """File name -> CSV text."""
    data = report_data(report)
    return {
        "services.csv": _csv(SERVICES, _services(data)),
        "adoption.csv": _csv(ADOPTION, _adoption(data)),
        "failing_rules.csv": _csv(FAILING, _failing(data)),
        "trend.csv": _csv(TREND, _trend(data)),
        "unowned_targets.csv": _csv(UNOWNED, _unowned(data)),
        "campaigns.csv": _csv(CAMPAIGNS, _campaigns(data)),
        "waivers.csv": _csv(WAIVERS, _waivers(data)),
    }


def _services(data: dict[str, Any]) -> Iterable[Sequence[Any]]:
    for s in data["services"]:
        yield (s["service"], s["name"], s["owner"], s["team"], s["system"], s["lifecycle"],
               s["tier"], s["scorecard"], s["level"], s["score"], s["next_level"],
               ";".join(s["failing_rules"]), ";".join(b["rule"] for b in s["blocking"]),
               ";".join(s["waived_rules"]))


def _adoption(data: dict[str, Any]) -> Iterable[Sequence[Any]]:
    for card in data["scorecards"]:
        for a in card["adoption"]:
            yield card["id"], "all", "all", a["level"], a["services"], a["share"]
        for group_by, key in (("team", "by_team"), ("system", "by_system")):
            for group in card[key]:
                for level, n in group["levels"].items():
                    yield card["id"], group_by, group["name"], level, n, group["shares"][level]


def _failing(data: dict[str, Any]) -> Iterable[Sequence[Any]]:
    for rank, r in enumerate(data["failing_rules"], 1):
        yield (rank, r["scorecard"], r["rule"], r["title"], r["level"], r["kind"], r["target"],
               r["services"], r["teams"], r["remediation"], r["url"],
               ";".join(p["id"] for p in r["policies"]))


def _trend(data: dict[str, Any]) -> Iterable[Sequence[Any]]:
    for card in data["scorecards"]:
        longest = max(card["trends"], key=lambda t: t["days"], default=None)
        for point in longest["points"] if longest else []:
            for level, share in point["at_least"].items():
                yield (card["id"], point["day"], point["services"], level, share,
                       point["average_score"])


def _unowned(data: dict[str, Any]) -> Iterable[Sequence[Any]]:
    for u in data["unowned_targets"]:
        yield (u["target"], u["kind"], u["object_kind"], u["name"], u["namespace"],
               u["source"], u["location"], u["ownership_policy_failed"],
               ";".join(u["failing_policies"]))


def _campaigns(data: dict[str, Any]) -> Iterable[Sequence[Any]]:
    """Services per status, for the whole campaign (`all`) and per team: one count a row."""
    for c in data["campaigns"]:
        phase, upcoming = c["phase"] or {}, c["next_phase"] or {}
        head = (c["id"], c["title"], c["owner"], c["state"], phase.get("enforcement"),
                upcoming.get("enforcement"), upcoming.get("from"), c["deadline"],
                c["days_left"])
        groups = [("all", "all", c["counts"])] + [("team", t["team"], t) for t in c["teams"]]
        for group_by, group, counts in groups:
            for status in c["counts"]:
                yield (*head, group_by, group, status, counts.get(status, 0))


def _waivers(data: dict[str, Any]) -> Iterable[Sequence[Any]]:
    """Every waiver once, whatever its status (filter on `status` in the spreadsheet)."""
    for w in data["waivers"]["all"]:
        covers = w["covers"]
        yield (w["id"], w["status"], ";".join(w["policies"]),
               *(";".join(covers.get(k, [])) for k in ("services", "namespaces", "objects",
                                                       "repositories", "pipelines")),
               w["reason"], w["requested_by"], w["approved_by"], w["expires"], w["last_day"],
               w["days_left"], w["findings"], ";".join(w["services"]), ";".join(w["teams"]),
               w["source"], w["location"])


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
