"""Charts as inline SVG written here, not by a script library: the report is one file that
opens offline, in a mail client's preview and from an archive years later.

Every chart has a `<title>` and a `<desc>` saying in words what it shows, and every mark a
`<title>` with its numbers; the templates put the same numbers in a table next to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from markupsafe import Markup, escape

from ..views import NONE_LEVEL

NAMED = {NONE_LEVEL: "#d1d5db", "bronze": "#9a3412", "silver": "#475569", "gold": "#a16207",
         "platinum": "#0e7490"}
OTHERS = ("#1d4ed8", "#7c3aed", "#0f766e", "#be185d", "#4d7c0f", "#b45309")
WIDTH = 720
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def colours(levels: Sequence[str]) -> dict[str, str]:
    """Named levels keep their metal; others take distinct dark colours (white text reads
    on all of them; `none` is light grey with dark text)."""
    spare = iter(OTHERS * 4)
    return {name: NAMED.get(name.lower()) or next(spare) for name in levels}


STATUS_COLOURS = {"compliant": "#166534", "waived": "#1d4ed8", "failing": "#991b1b",
                  "no-data": "#d1d5db"}
"""Campaign statuses: green, blue, red as the rule statuses read everywhere; no data is
the light grey of `none` (dark text on it)."""
LIGHT = {NAMED[NONE_LEVEL], STATUS_COLOURS["no-data"]}


def _text_colour(colour: str) -> str:
    return "#111827" if colour in LIGHT else "#ffffff"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _head(chart_id: str, title: str, desc: str, height: int) -> str:
    return (f'<svg role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart" {FONT}>'
            f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(desc)}</desc>')


def _legend(items: Sequence[tuple[str, str, bool]], y: int, x0: int = 0) -> str:
    """(label, colour, dashed) swatches in a row."""
    out, x = [], x0
    for label, colour, dashed in items:
        if dashed:
            out.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 14}" y2="{y - 4}" '
                       f'stroke="{colour}" stroke-width="2" stroke-dasharray="4 2"/>')
        else:
            out.append(f'<rect x="{x}" y="{y - 10}" width="14" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 18}" y="{y}">{escape(label)}</text>')
        x += 30 + 7 * len(label)
    return "".join(out)


def level_bars(chart_id: str, title: str, rows: Sequence[tuple[str, Mapping[str, int]]],
               levels: Sequence[str], palette: Mapping[str, str] | None = None) -> Markup:
    """One 100% stacked bar per row (a scorecard, a team): the share of services per level
    (or per campaign status, with `palette`)."""
    given = palette
    palette = palette or colours(levels)
    label_w, bar_w, row_h = 200, WIDTH - 210, 26
    height = 34 + row_h * max(len(rows), 1)
    parts = []
    for i, (label, counts) in enumerate(rows):
        y = 30 + i * row_h
        total = sum(counts.get(n, 0) for n in levels)
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">'
                     f'{escape(_clip(label, 30))}</text>')
        if not total:
            parts.append(f'<text x="{label_w}" y="{y + 15}" fill="#4b5563">no services</text>')
            continue
        x = float(label_w)
        for name in levels:
            n = counts.get(name, 0)
            if not n:
                continue
            w = bar_w * n / total
            tip = f"{label}: {name} {n} of {total} ({_pct(n / total)})"
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
                         f'fill="{palette[name]}"><title>{escape(tip)}</title></rect>')
            if w >= 34:
                parts.append(f'<text x="{x + w / 2:.1f}" y="{y + 14}" text-anchor="middle" '
                             f'fill="{_text_colour(palette[name])}">{_pct(n / total)}</text>')
            x += w
    desc = "; ".join(
        f"{label}: " + ", ".join(f"{name} {_pct(counts.get(name, 0) / t)}" for name in levels)
        if (t := sum(counts.get(n, 0) for n in levels)) else f"{label}: no services"
        for label, counts in rows) or "no services"
    legend = _legend([(n, palette[n], False) for n in levels], 14, label_w)
    what = "level" if given is None else "status"
    return Markup(_head(chart_id, title, f"Share of services per {what}. " + desc, height)
                  + legend + "".join(parts) + "</svg>")


def trend_lines(chart_id: str, title: str, points: Sequence[Mapping[str, Any]],
                levels: Sequence[str], first: date, last: date) -> Markup:
    """Share of services at each level or higher per day, and the average score (dashed),
    over the window first..last; days without results stay gaps in the x axis."""
    palette = colours(levels)
    left, right, top, bottom = 44, WIDTH - 12, 30, 200
    span = max((last - first).days, 1)

    def x(day: str) -> float:
        return left + (right - left) * (date.fromisoformat(day) - first).days / span

    def y(share: float) -> float:
        return bottom - (bottom - top) * share

    parts = [_legend([(f"{n} or higher", palette[n], False) for n in levels]
                     + [("average score", "#111827", True)], 14, left)]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'stroke="#e5e7eb"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" '
                     f'text-anchor="end">{_pct(tick)}</text>')
    for day, anchor in ((first, "start"), (last, "end")):
        parts.append(f'<text x="{x(day.isoformat()):.1f}" y="{bottom + 18}" '
                     f'text-anchor="{anchor}">{day.isoformat()}</text>')
    series = [(f"{n} or higher", palette[n], "", [(p["day"], p["at_least"].get(n)) for p in
                                                  points]) for n in levels]
    series.append(("average score", "#111827", ' stroke-dasharray="5 3"',
                   [(p["day"], p["average_score"]) for p in points]))
    for label, colour, dash, values in series:
        known = [(d, v) for d, v in values if v is not None]
        if len(known) > 1:
            path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in known)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="2"{dash}/>')
        for d, v in known:
            parts.append(f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                         f'<title>{escape(f"{d}: {label} {_pct(v)}")}</title></circle>')
    return Markup(_head(chart_id, title, _trend_desc(points, levels), bottom + 28)
                  + "".join(parts) + "</svg>")


def _trend_desc(points: Sequence[Mapping[str, Any]], levels: Sequence[str]) -> str:
    if not points:
        return "No results in this period."
    a, b = points[0], points[-1]
    top = levels[-1] if levels else None
    words = [f"{len(points)} day(s) with results, from {a['day']} to {b['day']}."]
    if top:
        words.append(f"Services at {top}: {_pct(a['at_least'].get(top, 0))} to "
                     f"{_pct(b['at_least'].get(top, 0))}.")
    if a["average_score"] is not None and b["average_score"] is not None:
        words.append(f"Average score: {_pct(a['average_score'])} to "
                     f"{_pct(b['average_score'])}.")
    return " ".join(words)


def status_columns(chart_id: str, title: str, points: Sequence[Mapping[str, Any]],
                   statuses: Sequence[str], first: date, last: date) -> Markup:
    """Services per campaign status per day with results, one stacked column a day over
    first..last (days without results stay gaps, not drops)."""
    left, right, top, bottom = 44, WIDTH - 12, 30, 170
    span = max((last - first).days, 1)
    slot = (right - left) / (span + 1)
    peak = max((sum(p.get(s, 0) for s in statuses) for p in points), default=0) or 1
    parts = [_legend([(s, STATUS_COLOURS[s], False) for s in statuses], 14, left)]
    for tick in (0, peak):
        y = bottom - (bottom - top) * tick / peak
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#e5e7eb"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{tick}</text>')
    for day, anchor in ((first, "start"), (last, "end")):
        x = left + (right - left) * (day - first).days / span
        parts.append(f'<text x="{x:.1f}" y="{bottom + 18}" text-anchor="{anchor}">'
                     f'{day.isoformat()}</text>')
    for point in points:
        day = date.fromisoformat(point["day"])
        if not first <= day <= last:
            continue
        x = left + (right - left) * (day - first).days / span - slot * 0.35
        x = min(max(x, left), right - slot * 0.7)
        y = float(bottom)
        for status in statuses:
            n = point.get(status, 0)
            if not n:
                continue
            h = (bottom - top) * n / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot * 0.7, 2):.1f}" '
                         f'height="{h:.1f}" fill="{STATUS_COLOURS[status]}"><title>'
                         f'{escape(f"{day}: {status} {n}")}</title></rect>')
    return Markup(_head(chart_id, title, _status_desc(points, statuses), bottom + 28)
                  + "".join(parts) + "</svg>")


def _status_desc(points: Sequence[Mapping[str, Any]], statuses: Sequence[str]) -> str:
    if not points:
        return "No daily results for this campaign yet."
    a, b = points[0], points[-1]
    return (f"{len(points)} day(s) with results, from {a['day']} to {b['day']}. "
            + "; ".join(f"{s}: {a.get(s, 0)} to {b.get(s, 0)}" for s in statuses) + ".")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"
