"""`pathwarden policies`: list the loaded policies and their metadata."""

from __future__ import annotations

import argparse
import json

from .common import add_policy_options, load_or_report


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("policies", help="list loaded policies with their metadata")
    parser.add_argument("--format", "-o", choices=["table", "json"], default="table")
    add_policy_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_or_report(args)
    if loaded is None:
        return 2
    policies = sorted(loaded[1].policies, key=lambda p: p.id)
    if args.format == "json":
        rows = [{
            "id": p.id, "title": p.title, "description": p.description,
            "severity": p.severity.value, "enforcement": p.enforcement.value,
            "targets": list(p.targets), "kinds": list(p.kinds), "tags": list(p.tags),
            "language": p.language.value, "remediation": p.remediation, "url": p.url,
            "parameters": p.parameters, "file": p.location.file, "line": p.location.line,
        } for p in policies]
        print(json.dumps(rows, indent=2, default=str))
        return 0
    width = max((len(p.id) for p in policies), default=2)
    print(f"{'ID':<{width}}  {'LANG':<6}  {'SEVERITY':<8}  {'ENFORCE':<7}  TITLE / TAGS")
    for p in policies:
        print(f"{p.id:<{width}}  {p.language.value:<6}  {p.severity.value:<8}  "
              f"{p.enforcement.value:<7}  {p.title}  [{', '.join(p.tags)}]")
    print(f"\n{len(policies)} policies")
    return 0
