"""`pathwarden scan`: one audit now (also what the CronJob / Indexed Job runs).

Exit codes: 0 the scan succeeded; 1 it was partial (some sources failed; the rest is
stored); 2 it failed, or configuration / policies / store could not be used; 3 a scan of
the same scope and shard is already running.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..errors import ConfigError, StoreError
from .common import add_policy_options, load_or_report, setup_logging


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scan", help="scan clusters, manifests, repositories and "
                            "pipelines now and store the findings")
    add_policy_options(parser)
    parser.add_argument("--shard", metavar="I/N", default=os.environ.get("PATHWARDEN_SHARD"),
                        help="scan only shard I of N (an Indexed Job: "
                        "$JOB_COMPLETION_INDEX/N)")
    parser.add_argument("--database-url", help="store URL (overrides store.url)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    setup_logging(logging.WARNING)
    from ..scanner import Shard, parse_shard, run_scan
    from ..store import ScanBusy, Store

    loaded = load_or_report(args)
    if loaded is None:
        return 2
    settings, policy_set = loaded
    try:
        shard = parse_shard(args.shard) if args.shard else Shard()
        store = Store.open(args.database_url or settings.store.url)
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        outcome = run_scan(settings, policy_set, store, shard=shard)
        if outcome.status != "failed":
            from ...scorecards.compute import after_scan
            from ...scorecards.notify import notify_quietly

            after_scan(settings, store, policy_set.policies, scan_id=outcome.scan_id)
            notify_quietly(settings, store, policy_set.policies)
    except ScanBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    print_outcome(outcome, shard)
    return {"succeeded": 0, "partial": 1}.get(outcome.status, 2)


def print_outcome(outcome, shard) -> None:
    by_status: dict[str, int] = {}
    for finding in outcome.findings:
        by_status[finding.status.value] = by_status.get(finding.status.value, 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    where = f" (shard {shard})" if shard.count > 1 else ""
    print(f"scan {outcome.scan_id}{where}: {outcome.status}; {outcome.targets} targets, "
          f"{len(outcome.findings)} findings ({counts or 'none'}), "
          f"{len(outcome.unowned)} unowned")
    for error in outcome.errors:
        if "error" in error:
            print(f"  error: {error['source']}: {error['error']}", file=sys.stderr)
        else:
            where = f"{error['file']}:{error['line']}" if error.get("line") else (
                error.get("file") or "")
            print(f"  problem: {error['source']}: {where}: {error['problem']}",
                  file=sys.stderr)
