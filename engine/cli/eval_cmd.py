"""`pathwarden eval PATH…`: judge files on disk, print results, exit for CI.

Exit codes: 0 nothing blocking; 1 a deny-level policy failed or could not be evaluated;
2 usage, configuration, policy-load or input errors (printed to stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..evaluate import evaluate
from ..k8s import build_inventory
from ..model import Enforcement, Finding, Status
from ..output import FORMAT_NAMES, Report, formats
from ..sources.manifests import read_manifests
from .common import add_policy_options, load_or_report, report_problems


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate manifests on disk (exit code for CI)")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--format", "-o", choices=FORMAT_NAMES, default="table")
    add_policy_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_or_report(args)
    if loaded is None:
        return 2
    _, policy_set = loaded
    found = read_manifests(args.paths)
    if policy_set.needs_inventory:
        policy_set = policy_set.with_inventory(build_inventory([o for o, _ in found.objects]))
    findings = evaluate(found.targets(), policy_set)
    report = Report(findings, {p.id: p for p in policy_set.policies}, found.problems)
    sys.stdout.write(formats()[args.format](report))
    if args.format != "table":
        report_problems(found.problems)
    return exit_code(findings, bool(found.problems))


def exit_code(findings: list[Finding], had_problems: bool) -> int:
    if had_problems:
        return 2
    blocking = any(
        f.blocks or (f.status is Status.ERROR and f.enforcement is Enforcement.DENY)
        for f in findings
    )
    return 1 if blocking else 0
