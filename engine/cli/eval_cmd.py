"""`pathwarden eval PATH…`: judge files on disk, print results, exit for CI.

Exit codes: 0 nothing blocking; 1 a deny-level policy failed or could not be evaluated;
2 usage, configuration, policy-load or input errors (printed to stderr).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..evaluate import evaluate
from ..governance import load_governance
from ..k8s import build_inventory
from ..model import Enforcement, Finding, Status, Target
from ..output import FORMAT_NAMES, Report, formats
from ..policyset import PolicySet
from ..settings import Settings
from ..sources.manifests import ManifestObjects, read_manifests
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
    settings, policy_set = loaded
    found = read_manifests(args.paths)
    if policy_set.needs_inventory:
        policy_set = policy_set.with_inventory(build_inventory([o for o, _ in found.objects]))
    targets, services = _with_services(settings, found.targets())
    findings = evaluate(targets, policy_set)
    findings = _governed(settings, args, policy_set, findings, targets, services, found)
    report = Report(findings, {p.id: p for p in policy_set.policies}, found.problems)
    sys.stdout.write(formats()[args.format](report))
    if args.format != "table":
        report_problems(found.problems)
    return exit_code(findings, bool(found.problems))


def _with_services(settings: Settings, targets: list[Target]
                   ) -> tuple[list[Target], dict[str, dict[str, Any]]]:
    """With `scan.catalog` configured, targets get their service, so service-scoped
    waivers and campaign filters apply in CI as they do at admission."""
    if not settings.scan.catalog:
        return targets, {}
    from ..catalog import assign_services, read_catalog

    catalog = read_catalog(list(settings.scan.catalog))
    owned, unowned = assign_services(catalog, targets)
    services = {s.ref: {"ref": s.ref, "name": s.name, "owner": s.owner, "type": s.type,
                        "lifecycle": s.lifecycle, "tier": s.tier, "system": s.system}
                for s in catalog.services.values()}
    return owned + unowned, services


def _governed(settings: Settings, args: argparse.Namespace, policy_set: PolicySet,
              findings: list[Finding], targets: list[Target],
              services: dict[str, dict[str, Any]], found: ManifestObjects) -> list[Finding]:
    """Waivers and campaigns from the policy directories, as of now: a waived failure
    does not fail the build, and a campaign's phase sets what blocks."""
    governance, problems = load_governance(settings, datetime.now(UTC),
                                           extra_dirs=args.policies)
    found.problems.extend(problems)
    if not governance.waivers and not governance.campaigns and not governance.overrides:
        return findings
    annotations = {t.ref.id: ((t.document.get("review") or {}).get("object") or {}).get(
        "metadata", {}).get("annotations") or {} for t in targets}
    return governance.govern(findings, policy_set.get, datetime.now(UTC), services=services,
                             annotations=annotations)


def exit_code(findings: list[Finding], had_problems: bool) -> int:
    if had_problems:
        return 2
    blocking = any(
        f.blocks or (f.status is Status.ERROR and f.enforcement is Enforcement.DENY)
        for f in findings
    )
    return 1 if blocking else 0
