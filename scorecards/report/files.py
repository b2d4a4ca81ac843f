"""Writing the report files. Each file is written next to its final name and renamed into
place, so a dashboard or web server serving the report directory never shows half a file
while the nightly report is being rewritten."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ..context import AppContext
from ..views import ServiceFilter
from .build import Report, build_report
from .render import render_html, render_json, render_markdown
from .tables import render_csv

FORMATS = ("html", "md", "json", "csv")
BASENAME = "pathwarden-report"


def write_report(ctx: AppContext, out_dir: Path, formats: Sequence[str] = ("html",), *,
                 today: date | None = None, filter: ServiceFilter | None = None,
                 report: Report | None = None) -> list[Path]:
    """Write the chosen formats into out_dir (created if missing); returns the paths
    written, in the order of `formats`. Raises ValueError for an unknown format and OSError
    when the directory cannot be written."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}")
    report = report or build_report(ctx, today=today, filter=filter)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in dict.fromkeys(formats):
        if fmt == "csv":
            files = render_csv(report)
        else:
            render = {"html": render_html, "md": render_markdown, "json": render_json}[fmt]
            files = {f"{BASENAME}.{fmt}": render(report)}
        for name, text in files.items():
            written.append(_write(out_dir / name, text))
    return written


def _write(path: Path, text: str) -> Path:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path
