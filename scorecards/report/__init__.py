"""The golden-path adoption report: what `pathwarden report` (and the demo, and `serve`
after a scheduled scan) writes for engineering leads, as HTML, Markdown, JSON and CSV.

`build_report` gathers the numbers once through `scorecards.views`; the renderers only
format them. The JSON shape is documented in the README and versioned (`VERSION`).
"""

from __future__ import annotations

from .build import Report, build_report
from .data import VERSION, report_data
from .files import FORMATS, write_report
from .render import render_html, render_json, render_markdown
from .tables import render_csv

__all__ = [
    "FORMATS", "VERSION", "Report", "build_report", "render_csv", "render_html", "render_json",
    "render_markdown", "report_data", "write_report",
]
