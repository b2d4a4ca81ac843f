"""Jinja2 rendering for the dashboard: one environment, strict about undefined names so a
template typo fails the tests instead of rendering an empty cell."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..views import team_of
from .charts import level_colour

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
STATIC = Path(__file__).resolve().parents[1] / "static"

STATUS_ICONS = {"pass": "✓", "warn": "!", "fail": "✗", "error": "?", "waived": "~",
                "n/a": "\u2013", "deny": "✗", "skip": "\u2013"}


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def moment(value: datetime | None) -> str:
    """To the second, for audit trails: two decisions within a minute stay apart."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def status_class(status: str) -> str:
    return "status-" + status.replace("/", "")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=pct, when=when, moment=moment, team=team_of,
                       status_class=status_class)
    env.globals.update(level_colour=level_colour, status_icons=STATUS_ICONS)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
