"""HTML, Markdown and JSON renderings of a `Report`, all from `report_data`.

The templates live in `scorecards/templates/` next to the dashboard's. HTML is escaped by
Jinja's autoescape (service names and policy texts come from other people's YAML);
Markdown cells go through `md`, which keeps a `|` or a newline from breaking a table.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..campaigns import STATUSES, TREND_DAYS
from . import charts
from .build import TREND_WINDOWS, Report
from .data import report_data

NO_VALUE = "\u2013"
"""An en dash: no number here (not zero)."""
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(enabled_extensions=("html.j2",),
                                                   default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(pct=pct, md=md, signed=signed, anchor=anchor, short=short,
                       when=when)
    return env


def pct(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value * 100:.0f}%"


def signed(value: float | None) -> str:
    """A score change in percentage points, with its sign (a regression must look like one)."""
    if value is None:
        return NO_VALUE
    points = round(value * 100)
    return f"{points:+d} pts" if points else "±0 pts"


def md(value: Any) -> str:
    text = "" if value is None else str(value)
    for char in ("\\", "|", "*", "_", "`", "<", ">", "[", "]"):
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def when(value: str | None) -> str:
    """An ISO timestamp as people read it: `2026-11-24 07:50 UTC`."""
    if not value:
        return NO_VALUE
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def short(value: str | None) -> str:
    """`component:default/shop-web` -> `shop-web`: the name people use."""
    return (value or "").split("/")[-1]


def anchor(value: str) -> str:
    """A fragment id from a name: letters, digits and dashes."""
    return "".join(c if c.isalnum() else "-" for c in value.lower()).strip("-") or "x"


def render_json(report: Report) -> str:
    return json.dumps(report_data(report), indent=2, ensure_ascii=False) + "\n"


def render_markdown(report: Report) -> str:
    return environment().get_template("report.md.j2").render(**_context(report))


def render_html(report: Report) -> str:
    data = _context(report)
    data["charts"] = _charts(report, data["r"])
    return environment().get_template("report.html.j2").render(**data)


def _context(report: Report) -> dict[str, Any]:
    data = report_data(report)
    waivers = data["waivers"]
    shown = bool(waivers["all"] or waivers["waived_rules"])
    return {"r": data, "all_levels": _all_levels(data["scorecards"]),
            "titles": {c["id"]: c["title"] for c in data["scorecards"]},
            "statuses": STATUSES, "show_waivers": shown}


def _charts(report: Report, data: dict[str, Any]) -> dict[str, Markup]:
    out: dict[str, Markup] = _campaign_charts(report, data)
    cards = data["scorecards"]
    if not cards:
        return out
    names = _all_levels(cards)
    out["overview"] = charts.level_bars(
        "chart-overview", "Adoption of each golden path",
        [(c["title"], {a["level"]: a["services"] for a in c["adoption"]}) for c in cards],
        names)
    days = max(TREND_WINDOWS)
    for card in cards:
        levels = [a["level"] for a in card["adoption"]]
        out[f"teams-{card['id']}"] = charts.level_bars(
            f"chart-teams-{card['id']}", f"{card['title']}: adoption by team",
            [(g["name"], g["levels"]) for g in card["by_team"]], levels)
        points = next(t for t in card["trends"] if t["days"] == days)["points"]
        # The x axis starts with the history: four days of it squeezed into the right
        # edge of a 90-day axis would show nothing.
        first = (date.fromisoformat(points[0]["day"]) if points
                 else report.today - timedelta(days=days - 1))
        out[f"trend-{card['id']}"] = charts.trend_lines(
            f"chart-trend-{card['id']}", f"{card['title']}: trend over the last {days} days",
            points, card["levels"], first, report.today)
    return out


def _campaign_charts(report: Report, data: dict[str, Any]) -> dict[str, Markup]:
    """Progress of every campaign as one chart, and each campaign's daily trend."""
    campaigns = data["campaigns"]
    if not campaigns:
        return {}
    out = {"campaigns": charts.level_bars(
        "chart-campaigns", "Progress of each campaign",
        [(c["title"], c["counts"]) for c in campaigns], STATUSES, charts.STATUS_COLOURS)}
    today = report.generated_at.date()
    for c in campaigns:
        points = c["trend"]
        if not points:
            continue  # the template says so in words; an empty axis tells nothing
        first = date.fromisoformat(points[0]["day"])
        out[f"campaign-{c['id']}"] = charts.status_columns(
            f"chart-campaign-{c['id']}", f"{c['title']}: services per status per day",
            points, STATUSES, max(first, today - timedelta(days=TREND_DAYS - 1)), today)
    return out


def _all_levels(cards: list[dict[str, Any]]) -> list[str]:
    """Level names across scorecards, in ladder order (most share bronze/silver/gold)."""
    names: list[str] = []
    for card in cards:
        for a in card["adoption"]:
            if a["level"] not in names:
                names.append(a["level"])
    return names

