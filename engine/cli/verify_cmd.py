"""`pathwarden verify PATH…`: run Gatekeeper test suites, reported like `gator verify`.

Every case and test gets a line with its result and time (gator prints those with `-v`
only; a CI log that names each passing case is worth the lines), failures are followed by
the reason, each suite ends with `ok` or `FAIL` and its path, and the run with `PASS` or
`FAIL`. `-v` adds gator's `=== RUN` lines.

Exit codes: 0 every test passed (skipped ones included); 1 a test failed; 2 usage: a path
that does not exist, no suite found, or a `--run` filter that is not a regular expression.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..gatekeeper.suites import Filter, SuiteError, find_suites
from ..gatekeeper.verify import CaseResult, SuiteResult, TestResult, run_suite


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("verify", help="run Gatekeeper test suites (like gator verify)")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="suite files or directories (walked recursively; DIR/... too)")
    parser.add_argument("--run", dest="run_filter", metavar="REGEX",
                        help="only tests or cases whose name matches; TEST//CASE for both")
    parser.add_argument("-v", "--verbose", action="store_true", help="print RUN lines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        run_filter = Filter(args.run_filter)
    except SuiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    suites, missing = find_suites(args.paths)
    for path in missing:
        print(f"error: {path}: no such file or directory", file=sys.stderr)
    if missing:
        return 2
    if not suites:
        print("error: no test suites (kind: Suite, apiVersion: test.gatekeeper.sh/v1alpha1) "
              f"found in {' '.join(args.paths)}", file=sys.stderr)
        return 2
    failed = False
    out = sys.stdout
    for suite in suites:
        result = run_suite(suite, run_filter)
        print_suite(out, result, verbose=args.verbose)
        failed = failed or result.failed
        out.flush()
    print("FAIL" if failed else "PASS", file=out)
    return 1 if failed else 0


def duration(seconds: float) -> str:
    """Like Go's time.Duration, which gator prints: 812.4µs, 12.345ms, 1.204s."""
    if seconds >= 1:
        return f"{seconds:.3f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f}ms"
    return f"{seconds * 1e6:.1f}µs"


def print_suite(out: TextIO, result: SuiteResult, *, verbose: bool) -> None:
    if result.skipped:
        print(f"skip\t{result.path}", file=out)
        return
    for test in result.tests:
        _print_test(out, test, verbose)
    status = "FAIL" if result.failed else "ok"
    print(f"{status}\t{result.path}\t{duration(result.seconds)}", file=out)
    if result.error:
        print(f"  {result.error}", file=out)


def _print_test(out: TextIO, test: TestResult, verbose: bool) -> None:
    if test.skipped:
        print(f"--- SKIP: {test.name}", file=out)
        return
    if verbose:
        print(f"=== RUN   {test.name}", file=out)
    for case in test.cases:
        _print_case(out, case, verbose)
    status = "FAIL" if test.failed else "PASS"
    print(f"--- {status}: {test.name}\t({duration(test.seconds)})", file=out)
    if test.error:
        print(f"  {test.error}", file=out)


def _print_case(out: TextIO, case: CaseResult, verbose: bool) -> None:
    if case.skipped:
        print(f"    --- SKIP: {case.name}", file=out)
        return
    if verbose:
        print(f"    === RUN   {case.name}", file=out)
    if case.error is not None:
        print(f"    --- FAIL: {case.name}\t({duration(case.seconds)})", file=out)
        print(f"        {case.error}", file=out)
    else:
        print(f"    --- PASS: {case.name}\t({duration(case.seconds)})", file=out)
