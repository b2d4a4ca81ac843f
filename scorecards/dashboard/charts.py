"""Charts as inline SVG, drawn on the server.

The dashboard loads nothing from the network and runs almost no JavaScript, so charts are
plain SVG markup with a `<title>` on every mark (hover shows the value) and an `aria-label`
on the whole chart; each chart also sits next to a table or legend carrying its numbers as
text, so colour is never the only way to read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

LEVEL_COLOURS = {"none": "#cbd5e1", "bronze": "#b7773f", "silver": "#8d9bab",
                 "gold": "#d4a72c", "platinum": "#5b8fb9"}
PALETTE = ("#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d",
           "#475569")


def level_colour(name: str, index: int) -> str:
    """Known ladder names get their metal; custom ladders get stable palette colours."""
    return LEVEL_COLOURS.get(name.lower(), PALETTE[index % len(PALETTE)])


def series_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: Sequence[tuple[date, float | None]]
    """Values are shares (0-1)."""
    colour: str
    dashed: bool = False


def _svg(width: int, height: int, label: str, body: list[str]) -> Markup:
    head = (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" '
            f'style="max-width: {width}px" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
            f'preserveAspectRatio="xMidYMid meet"><title>{escape(label)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def stacked_bar(segments: Sequence[tuple[str, int, str]], *, label: str, width: int = 480,
                height: int = 28) -> Markup:
    """One 100% bar of (name, count, colour) segments: how services spread over levels."""
    total = sum(count for _, count, _ in segments)
    body = [f'<rect x="0" y="0" width="{width}" height="{height}" rx="4" fill="#f1f5f9"/>']
    x = 0.0
    for name, count, colour in segments:
        if not count or not total:
            continue
        w = width * count / total
        share = f"{count / total:.0%}"
        body.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" '
                    f'fill="{colour}"><title>{escape(name)}: {count} ({share})</title></rect>')
        if w > 60:
            body.append(f'<text x="{x + w / 2:.1f}" y="{height / 2 + 4:.1f}" '
                        f'text-anchor="middle" class="bar-label">{escape(name)} {share}</text>')
        x += w
    return _svg(width, height, label, body)


def _x_of(day: date, start: date, end: date, left: float, plot_w: float) -> float:
    span = max((end - start).days, 1)
    return left + plot_w * (day - start).days / span


def _axes(start: date, end: date, left: int, top: int, plot_w: int, plot_h: int,
          y_labels: Sequence[tuple[float, str]]) -> list[str]:
    body = []
    for fraction, text in y_labels:
        y = top + plot_h * (1 - fraction)
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                    'class="grid"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                    f'class="axis">{escape(text)}</text>')
    ticks = [start, end] if start != end else [start]
    if (end - start).days >= 4:
        ticks.insert(1, start + (end - start) / 2)
    for i, day in enumerate(ticks):
        x = _x_of(day, start, end, left, plot_w)
        anchor = "start" if i == 0 and len(ticks) > 1 else "end" if day == end else "middle"
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="{anchor}" '
                    f'class="axis">{day.isoformat()}</text>')
    return body


def line_chart(series: Sequence[Series], *, start: date, end: date, label: str,
               width: int = 560, height: int = 200) -> Markup:
    """Shares over days, one line per series; single days show as dots."""
    left, top, right, bottom = 44, 10, 14, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    body = _axes(start, end, left, top, plot_w, plot_h,
                 [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")])
    for item in series:
        points = [(d, v) for d, v in item.points if v is not None and start <= d <= end]
        coords = [(_x_of(d, start, end, left, plot_w), top + plot_h * (1 - v), d, v)
                  for d, v in points]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
            dash = ' stroke-dasharray="5 4"' if item.dashed else ""
            body.append(f'<polyline points="{path}" fill="none" stroke="{item.colour}" '
                        f'stroke-width="2"{dash}/>')
        for x, y, d, v in coords:
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{item.colour}">'
                        f'<title>{escape(item.label)} {d.isoformat()}: {v:.0%}</title>'
                        '</circle>')
    return _svg(width, height, label, body)


def bar_chart(points: Sequence[tuple[date, int]], *, label: str, width: int = 560,
              height: int = 160, colour: str = "#dc2626") -> Markup:
    """Counts per day (e.g. admission denials), zero days drawn as a hairline."""
    left, top, right, bottom = 44, 10, 14, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((n for _, n in points), default=0)
    ceiling = max(peak, 1)
    body = _axes(points[0][0] if points else date.today(),
                 points[-1][0] if points else date.today(), left, top, plot_w, plot_h,
                 [(0.0, "0"), (1.0, str(ceiling))])
    slot = plot_w / max(len(points), 1)
    for i, (day, count) in enumerate(points):
        h = max(plot_h * count / ceiling, 1.0 if count == 0 else 2.0)
        fill = colour if count else "#cbd5e1"
        body.append(f'<rect x="{left + i * slot + slot * 0.15:.1f}" '
                    f'y="{top + plot_h - h:.1f}" width="{max(slot * 0.7, 1):.1f}" '
                    f'height="{h:.1f}" fill="{fill}"><title>{day.isoformat()}: {count}'
                    '</title></rect>')
    return _svg(width, height, label, body)


STATUS_COLOURS = {"compliant": "#4ade80", "waived": "#93c5fd", "failing": "#f87171",
                  "no-data": "#e2e8f0"}
"""Campaign statuses: the hues of the rule badges (pass green, waived blue, fail red),
light enough for the dark labels drawn on them."""
PHASE_COLOURS = {"audit": "#cbd5e1", "warn": "#f59e0b", "deny": "#1e293b"}


def stacked_columns(points: Sequence[tuple[date, Mapping[str, int]]], order: Sequence[str],
                    colours: Mapping[str, str], *, start: date, end: date, label: str,
                    width: int = 560, height: int = 180) -> Markup:
    """One column per day with results, stacked by status (services per status); days
    without results stay gaps so a missed scan is not drawn as a drop."""
    left, top, right, bottom = 44, 10, 14, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((sum(c.get(s, 0) for s in order) for _, c in points), default=0)
    ceiling = max(peak, 1)
    body = _axes(start, end, left, top, plot_w, plot_h, [(0.0, "0"), (1.0, str(ceiling))])
    span = max((end - start).days, 1)
    slot = plot_w / (span + 1)
    for day, counts in points:
        if not start <= day <= end:
            continue
        x = left + plot_w * (day - start).days / span - slot * 0.35
        x = min(max(x, left), left + plot_w - slot * 0.7)
        y = float(top + plot_h)
        for status in order:
            n = counts.get(status, 0)
            if not n:
                continue
            h = plot_h * n / ceiling
            y -= h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot * 0.7, 2):.1f}" '
                        f'height="{h:.1f}" fill="{colours.get(status, "#94a3b8")}">'
                        f'<title>{day.isoformat()}: {escape(status)} {n}</title></rect>')
    return _svg(width, height, label, body)


def timeline(phases: Sequence[tuple[str, date]], *, start: date, deadline: date, today: date,
             label: str, width: int = 1200, height: int = 64) -> Markup:
    """A campaign's schedule: each phase as a band from its first day, the deadline and
    today marked. The axis runs from the start (or today, if earlier) to a little past the
    deadline (or today, if later), so "where are we" is always on it."""
    first = min(start, today, *(d for _, d in phases)) if phases else min(start, today)
    last = max(deadline, today, *(d for _, d in phases)) if phases else max(deadline, today)
    last = last + (last - first) / 8 if last > first else last
    left, right, top, band = 10, 10, 18, 20
    plot_w = width - left - right

    def x(day: date) -> float:
        return _x_of(day, first, last, left, plot_w)

    body = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{band}" fill="#f1f5f9"/>']
    for i, (enforcement, begins) in enumerate(phases):
        ends = phases[i + 1][1] if i + 1 < len(phases) else last
        colour = PHASE_COLOURS.get(enforcement, "#94a3b8")
        body.append(f'<rect x="{x(begins):.1f}" y="{top}" width="{max(x(ends) - x(begins), 1):.1f}"'
                    f' height="{band}" fill="{colour}"><title>{escape(enforcement)} from '
                    f'{begins.isoformat()}</title></rect>')
        ink = "#ffffff" if enforcement == "deny" else "#0f172a"
        if x(ends) - x(begins) > 40:
            body.append(f'<text x="{x(begins) + 4:.1f}" y="{top + 14}" class="bar-label" '
                        f'style="fill: {ink}">{escape(enforcement)}</text>')
    for day, text, anchor_y in ((start, f"start {start.isoformat()}", top + band + 14),
                                (deadline, f"deadline {deadline.isoformat()}",
                                 top + band + 14)):
        anchor = "start" if x(day) < left + plot_w / 2 else "end"
        body.append(f'<text x="{x(day):.1f}" y="{anchor_y}" text-anchor="{anchor}" '
                    f'class="axis">{escape(text)}</text>')
    body.append(f'<line x1="{x(today):.1f}" x2="{x(today):.1f}" y1="4" y2="{top + band + 2}" '
                f'stroke="#dc2626" stroke-width="2" class="today"><title>today '
                f'{today.isoformat()}</title></line>')
    anchor = "start" if x(today) < left + plot_w / 2 else "end"
    body.append(f'<text x="{x(today) + (3 if anchor == "start" else -3):.1f}" y="12" '
                f'text-anchor="{anchor}" class="axis">today</text>')
    return _svg(width, height, label, body)
