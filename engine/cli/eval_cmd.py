"""`pathwarden eval [PATH…] [--repo DIR]…`: judge files on disk, print results, exit for CI.

PATHs are Kubernetes manifests (`k8s` targets). Each `--repo DIR` is a git checkout read in
place, never cloned or fetched: one `repo` target and one `pipeline` target per CI
configuration in it (`.github/workflows/*.yml`, `.gitlab-ci.yml`), judged by the same policy
set in the same run.

Exit codes: 0 nothing blocking; 1 a deny-level policy failed or could not be evaluated;
2 usage, configuration, policy-load or input errors (printed to stderr).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..evaluate import evaluate
from ..governance import load_governance
from ..governance.annotations import annotations_by_target
from ..k8s import build_inventory
from ..model import Enforcement, Finding, Location, Status, Target
from ..output import FORMAT_NAMES, Report, formats
from ..policyset import PolicySet
from ..settings import Settings
from ..sources import git
from ..sources.base import Collected
from ..sources.manifests import ManifestObjects, read_manifests
from .common import add_policy_options, load_or_report, report_problems


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval", help="evaluate manifests, repositories and pipelines on disk (exit code for CI)")
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="Kubernetes manifest file or directory")
    parser.add_argument("--repo", action="append", default=[], type=Path, metavar="DIR",
                        help="root of a git checkout, read in place: the repository and its "
                        "CI pipelines (repeatable)")
    parser.add_argument("--format", "-o", choices=FORMAT_NAMES, default="table")
    add_policy_options(parser)
    parser.set_defaults(run=run, usage_error=parser.error)


def run(args: argparse.Namespace) -> int:
    if not args.paths and not args.repo:
        args.usage_error("give at least one PATH or --repo DIR")
    loaded = load_or_report(args)
    if loaded is None:
        return 2
    settings, policy_set = loaded
    found = read_manifests(args.paths)
    if policy_set.needs_inventory:
        policy_set = policy_set.with_inventory(build_inventory([o for o, _ in found.objects]))
    collected = read_repositories(args.repo, settings.scan.cache_dir, found.problems)
    repo_targets = [t for c in collected for t in c.targets]
    targets, services = _with_services(settings, found.targets() + repo_targets, collected)
    findings = evaluate(targets, policy_set)
    findings = _governed(settings, args, policy_set, findings, targets, services, found)
    report = Report(findings, {p.id: p for p in policy_set.policies}, found.problems)
    sys.stdout.write(formats()[args.format](report))
    if args.format != "table":
        report_problems(found.problems)
    return exit_code(findings, bool(found.problems))


def read_repositories(dirs: list[Path], cache_dir: Path,
                      problems: list[Problem]) -> list[Collected]:
    """Each DIR that is the root of a git work tree -> its `repo` source, then its
    `pipelines` source (as the scanner collects them). Anything else is a problem naming
    the directory, and the other repositories are still read. Only work-tree roots reach
    `collect_repos`, which reads those in place: nothing is cloned or fetched."""
    from ..sources.pipelines import collect_pipelines
    from ..sources.repos import RepoSpec, collect_repos

    specs = []
    for given in dirs:
        reason = _not_a_checkout(given)
        if reason is not None:
            problems.append(Problem("repo", reason, Location(str(given))))
        else:
            specs.append(RepoSpec(str(given)))
    collected: list[Collected] = []
    for source in collect_repos(specs, cache_dir) if specs else []:
        collected.append(source)
        if source.error is not None:
            problems.append(Problem("repo", source.error))
        for target in source.targets:
            repo = target.document["repository"]
            pipelines = collect_pipelines(Path(repo["path"]),
                                          repo.get("slug") or repo.get("url") or repo["name"],
                                          repo["name"])
            if pipelines.error is not None:
                problems.append(Problem("pipelines", pipelines.error))
            problems.extend(pipelines.problems)
            collected.append(pipelines)
    return collected


def _not_a_checkout(given: Path) -> str | None:
    """Why DIR cannot be read as a repository in place, or None when it can."""
    try:
        if not given.is_dir():
            return "no such directory" if not given.exists() else "not a directory"
        path = given.resolve()
        root = git.toplevel(path)
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if root is None:
        return "not a git repository (--repo takes the root of a git checkout)"
    if root != path:
        return f"not the root of a git checkout (the checkout is {root})"
    return None


def _with_services(settings: Settings, targets: list[Target], collected: list[Collected]
                   ) -> tuple[list[Target], dict[str, dict[str, Any]]]:
    """With `scan.catalog` configured, targets get their service, so service-scoped
    waivers and campaign filters apply in CI as they do at admission. The mapping is the
    scanner's: catalog-info.yaml files of the given repositories join the catalog, and a
    pipeline belongs to its repository's service."""
    if not settings.scan.catalog:
        return targets, {}
    from ..scanner.services import configured_catalog, service_fact, with_repository_catalogs
    from ..scanner.services import with_services as assign

    catalog, _ = configured_catalog(settings)
    catalog, _ = with_repository_catalogs(catalog, settings, collected)
    mapped = assign(catalog, targets, [], {})
    return mapped, {s.ref: service_fact(s) for s in catalog.services.values()}


def _governed(settings: Settings, args: argparse.Namespace, policy_set: PolicySet,
              findings: list[Finding], targets: list[Target],
              services: dict[str, dict[str, Any]], found: ManifestObjects) -> list[Finding]:
    """Waivers and campaigns from the policy directories, as of now: a waived failure
    does not fail the build, and a campaign's phase sets what blocks."""
    now = datetime.now(UTC)
    governance, problems = load_governance(settings, now, extra_dirs=args.policies)
    found.problems.extend(problems)
    annotations = annotations_by_target(targets, settings.governance)
    if not (governance.waivers or governance.campaigns or governance.overrides
            or annotations):
        return findings
    return governance.govern(findings, policy_set.get, now, services=services,
                             annotations=annotations)


def exit_code(findings: list[Finding], had_problems: bool) -> int:
    if had_problems:
        return 2
    blocking = any(
        f.blocks or (f.status is Status.ERROR and f.enforcement is Enforcement.DENY)
        for f in findings
    )
    return 1 if blocking else 0
