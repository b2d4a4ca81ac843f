"""`pathwarden notify`: send the campaign notifications due now.

`scan` and `serve` do this after every scan (and `serve` hourly); the command is for a
CronJob without a server, for a first look (`--dry-run`), and for retrying by hand after
the receiver was down. Exit codes: 0 nothing failed; 1 an event could not be delivered
(failed for good, or left pending for a retry); 2 configuration, policies or store
unusable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, PolicyLoadError, StoreError
from .common import report_problems, setup_logging

if TYPE_CHECKING:
    from ..model import Policy
    from ..settings import Settings
    from ..store import Store

SHOWN = {"sent": "sent", "skipped": "skipped", "unsent": "recorded, not sent (no URL)",
         "pending": "not delivered, retried at the next run", "failed": "failed",
         "deferred": "not tried (the receiver is down), retried at the next run",
         "lost": "taken by another sender"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("notify", help="send the campaign notifications due now "
                            "(phase changes, deadline reminders)")
    parser.add_argument("--config", type=Path, help="pathwarden YAML configuration file")
    parser.add_argument("--database-url", help="store URL (overrides store.url)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show what is due without recording or sending anything")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(logging.WARNING)
    from ...scorecards.notify import notify_now
    from ..loading.configured import configured_policy_set
    from ..store import Store
    from .common import settings_from

    try:
        settings = settings_from(args)
        policy_set = configured_policy_set(settings)
        store = Store.open(args.database_url or settings.store.url)
    except PolicyLoadError as exc:
        report_problems(exc.problems)
        print(f"{len(exc.problems)} policy problem(s); nothing was sent", file=sys.stderr)
        return 2
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.dry_run:
            return dry_run(settings, store, policy_set.policies)
        report = notify_now(settings, store, policy_set.policies)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    for outcome in report.outcomes:
        error = f": {outcome.error}" if outcome.error and outcome.status != "sent" else ""
        print(f"{SHOWN.get(outcome.status, outcome.status)}: {outcome.summary} "
              f"[{outcome.key}]{error}")
    counts = {s: len(report.having(s)) for s in SHOWN if report.having(s)}
    totals = ", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing due"
    print(f"notifications to {report.destination}: {totals}")
    undelivered = ("failed", "pending", "deferred")
    return 1 if any(report.having(s) for s in undelivered) else 0


def dry_run(settings: Settings, store: Store, policies: Iterable[Policy]) -> int:
    """What a real run would record and send now, and the retries waiting from before."""
    from ...scorecards.campaigns import campaigns_progress
    from ...scorecards.notify import due_events, not_yet_recorded
    from ...scorecards.notify_delivery import origin, summary
    from ..governance import load_governance

    now = datetime.now(UTC)
    governance, problems = load_governance(settings, now, store=store)
    report_problems(problems)
    policy_list = list(policies)
    progress = campaigns_progress(store, governance, policy_list, now, trend_days=1)
    events = not_yet_recorded(store, due_events(progress, settings, now,
                                                policies={p.id: p for p in policy_list}))
    url = settings.governance.notifications.url
    for event in events:
        verb = "would skip" if event.status == "skipped" else (
            "would send" if url else "would record (no URL)")
        print(f"{verb}: {summary(event.document)} [{event.key}]")
    waiting = store.pending_notifications() if url else []
    for row in waiting:
        tried = (f" after {row.attempts} attempt(s): {row.last_error}" if row.attempts
                 else " (not tried yet)")
        print(f"would retry: [{row.event_key}]{tried}")
    print(f"dry run, notifications to {origin(url)}: {len(events)} new event(s), "
          f"{len(waiting)} retry(ies); nothing recorded or sent")
    return 0
