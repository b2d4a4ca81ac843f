"""`pathwarden serve`: the REST API and the in-process scan scheduler (APScheduler)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from ..errors import ConfigError, StoreError
from .common import add_policy_options, load_or_report, setup_logging


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="serve the REST API and run scheduled scans")
    add_policy_options(parser)
    parser.add_argument("--host", help="address to listen on (default api.host)")
    parser.add_argument("--port", type=int, help="port (default api.port, 8080)")
    parser.add_argument("--database-url", help="store URL (overrides store.url)")
    parser.add_argument("--no-schedule", action="store_true",
                        help="do not run scheduled scans (API-triggered scans still run)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(logging.INFO, timestamps=True)
    import uvicorn

    from ...scorecards.context import AppContext, GovernanceRefresher
    from ...scorecards.notify import notify_quietly, schedule_notifications
    from ...scorecards.server import create_app
    from ..scanner.schedule import Scanner
    from ..store import Store

    loaded = load_or_report(args)
    if loaded is None:
        return 2
    settings, policy_set = loaded
    contexts: list[AppContext] = []

    def refresh_governance() -> None:
        """Waiver and campaign files changed by a deploy, waivers approved on another
        replica: picked up after each scan and every 30 seconds."""
        for ctx in contexts:
            ctx.refresh_governance()

    def scanned(outcome: Any) -> None:
        after_scan_work(settings, store, policy_set, outcome)
        refresh_governance()

    def hourly() -> None:
        notify_quietly(settings, store, policy_set.policies)

    try:
        store = Store.open(args.database_url or settings.store.url)
        scanner = Scanner(settings, policy_set, store, on_done=scanned)
        notifier = None
        if not args.no_schedule:
            scanner.schedule()
            notifier = schedule_notifications(hourly, settings.governance.timezone)
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host, port = args.host or settings.api.host, args.port or settings.api.port
    print(f"pathwarden serve: http://{host}:{port}/api/v1, store {store.url}, next scan "
          f"{scanner.next_run() or 'not scheduled'}", file=sys.stderr)
    if not settings.api.tokens:
        print("note: no API token configured; write endpoints answer 403", file=sys.stderr)
    refresher = GovernanceRefresher(refresh_governance).start()
    try:
        ctx = AppContext.load(store, settings, policy_set, scanner)
        contexts.append(ctx)
        uvicorn.run(create_app(ctx), host=host, port=port,
                    log_level="warning", access_log=False)
    finally:
        refresher.stop()
        if notifier is not None:
            notifier.shutdown(wait=False)
        scanner.shutdown()
        store.close()
    return 0


def after_scan_work(settings, store, policy_set, outcome) -> None:
    """After each scan the server runs: the day's scorecards, then the report (when
    `scorecards.report_dir` is set), then the campaign notifications now due. Failures are
    logged; the server keeps serving."""
    from ...scorecards.compute import after_scan
    from ...scorecards.notify import notify_quietly

    log = logging.getLogger("pathwarden.scorecards")
    if outcome.status == "failed":
        return
    try:
        after_scan(settings, store, policy_set.policies, scan_id=outcome.scan_id)
        if settings.scorecards.report_dir is not None:
            from ...scorecards.context import AppContext
            from ...scorecards.report import write_report

            ctx = AppContext.load(store, settings, policy_set)
            paths = write_report(ctx, settings.scorecards.report_dir,
                                 ["html", "md", "json", "csv"])
            log.info("report written: %s", ", ".join(str(p) for p in paths))
    except Exception:
        log.exception("scorecards or report after scan %s failed", outcome.scan_id)
    notify_quietly(settings, store, policy_set.policies)
