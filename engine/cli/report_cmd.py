"""`pathwarden report`: write the golden-path adoption report from the store.

It reads what scans stored (scorecard results, findings); it scans nothing. Exit codes: 0
written (also when there are no results yet: the report says so); 2 configuration,
policies, store or output directory unusable. Problems in scorecard definitions are
printed and the valid scorecards still reported, as after a scan.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, StoreError

if TYPE_CHECKING:
    from ..store import Store
from .common import add_policy_options, load_or_report, setup_logging

FORMATS = ("html", "md", "json", "csv")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="write the golden-path adoption report "
                            "(HTML, Markdown, JSON, CSV) from the stored scorecards")
    add_policy_options(parser)
    parser.add_argument("--format", "-f", action="append", choices=FORMATS, default=None,
                        help="output format (repeatable; default html)")
    parser.add_argument("--out", "-o", type=Path, default=Path("report"), metavar="DIR",
                        help="directory to write into (default ./report)")
    parser.add_argument("--team", help="only services of this owner (team-shop or "
                        "group:default/team-shop)")
    parser.add_argument("--system", help="only services of this system (shop or "
                        "system:default/shop)")
    parser.add_argument("--lifecycle", help="only services with this lifecycle")
    parser.add_argument("--tier", help="only services of this tier")
    parser.add_argument("--database-url", help="store URL (overrides store.url)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(logging.WARNING)
    from ...scorecards.context import AppContext
    from ...scorecards.definitions import configured_scorecards
    from ...scorecards.report import build_report, write_report
    from ...scorecards.views import ServiceFilter
    from ..store import Store

    loaded = load_or_report(args)
    if loaded is None:
        return 2
    settings, policy_set = loaded
    cards = configured_scorecards(settings)
    for problem in cards.problems:
        where = f"{problem.location}: " if problem.location else ""
        print(f"error: {where}{problem.message}", file=sys.stderr)
    try:
        store = Store.open(args.database_url or settings.store.url)
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        system = _system_ref(store, args.system)
    except StoreError as exc:
        store.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    chosen = ServiceFilter(team=args.team, system=system, lifecycle=args.lifecycle,
                           tier=args.tier)
    ctx = AppContext(store=store, settings=settings,
                     policies={p.id: p for p in policy_set.policies}, scorecards=cards)
    try:
        for problem in ctx.refresh_governance():  # waivers and campaigns, as of now
            print(f"warning: {problem}", file=sys.stderr)
        report = build_report(ctx, filter=chosen)
        paths = write_report(ctx, args.out, args.format or ["html"], report=report)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the report to {args.out}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    finally:
        store.close()
    if report.empty:
        print("note: no scorecard results yet, and the report says so: run `pathwarden "
              "scan` first", file=sys.stderr)
    elif not report.lines:
        wanted = ", ".join(f"{k} {v}" for k, v in chosen.query().items())
        print(f"note: no services match the filter ({wanted})", file=sys.stderr)
    for path in paths:
        print(path)
    return 0


def _system_ref(store: Store, name: str | None) -> str | None:
    """`shop` -> `system:default/shop` when exactly one stored system has that name, so
    `--system` takes what people call a system as well as its catalog ref."""
    if not name or ":" in name or "/" in name:
        return name
    refs = {s.system for s in store.services() if s.system}
    matches = [ref for ref in refs if ref.rsplit("/", 1)[-1].split(":")[-1] == name]
    return matches[0] if len(matches) == 1 else name
