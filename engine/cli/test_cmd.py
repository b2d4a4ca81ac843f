"""`pathwarden test [DIR…]`: policy unit tests, reported like `opa test`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import PolicyLoadError
from ..loading.loader import builtin_policy_dir
from ..policytest import TestResult, run_policy_tests
from .common import report_problems


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("test", help="run policy unit tests (Rego test_ rules, Python tests)")
    parser.add_argument("dirs", nargs="*", type=Path, metavar="DIR",
                        help="policy directories (default: the built-in library)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list passing tests too")
    parser.add_argument("--run", "-r", dest="name_filter", metavar="TEXT",
                        help="only tests whose name contains TEXT")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    dirs = args.dirs or [builtin_policy_dir()]
    try:
        results = run_policy_tests(dirs, args.name_filter)
    except PolicyLoadError as exc:
        report_problems(exc.problems)
        return 2
    _print(results, args.verbose)
    return 0 if results and all(r.outcome in ("PASS", "SKIP") for r in results) else 1


def _print(results: list[TestResult], verbose: bool) -> None:
    current = None
    for r in results:
        if r.outcome == "PASS" and not verbose:
            continue
        if r.file != current:
            current = r.file
            print(f"{r.file}:")
        detail = f"\n    {r.detail}" if r.detail and r.outcome != "PASS" else ""
        print(f"{r.name}: {r.outcome} ({r.seconds * 1000:.1f}ms){detail}")
    if any(r.outcome != "PASS" for r in results) or verbose:
        print("-" * 80)
    total = len(results)
    if total == 0:
        print("no tests found", file=sys.stderr)
    for outcome in ("PASS", "FAIL", "ERROR", "SKIP"):
        count = sum(r.outcome == outcome for r in results)
        if count:
            print(f"{outcome}: {count}/{total}")
