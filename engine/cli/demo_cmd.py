"""`pathwarden demo`: the whole product on embedded defaults, over the bundled example estate.

It creates the estate's repositories as real git repositories, posts a month of deployment
runs, scans the estate as it was three, two and one days ago and as it is now (manifests
stand in for the cluster), computes the scorecards of each day, writes the report and
serves the dashboard. Everything lives under one work directory; nothing to install.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GIT = ["git", "-c", "user.name=pathwarden demo", "-c", "user.email=demo@acme.example",
       "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="scan the bundled example estate, compute scorecards, "
                            "write the report and serve the dashboard")
    parser.add_argument("--estate", type=Path, default=EXAMPLES / "estate",
                        help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, default=Path(".pathwarden/demo"),
                        help="where the demo's repositories, store and report go "
                        "(default .pathwarden/demo; replaced on every run)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--no-serve", action="store_true",
                        help="stop after writing the report instead of serving the dashboard")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    estate: Path = args.estate
    if not (estate / "manifests").is_dir() or not (estate / "repos.yaml").is_file():
        print(f"error: demo: example estate not found at {estate} "
              "(run from a source checkout: pip install -e .)", file=sys.stderr)
        return 2
    if shutil.which("git") is None:
        print("error: demo: git is needed to create the example repositories", file=sys.stderr)
        return 2
    work: Path = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    print(f"pathwarden demo: example estate {estate}, work directory {work}")
    repos = create_repositories(estate, work / "repos")
    print(f"  created {len(repos)} git repositories")
    governance = write_governance(estate, work / "governance", datetime.now(UTC).date())
    config = write_config(estate, work, repos, governance)

    from ...scorecards.compute import after_scan
    from ..loading.configured import configured_policy_set
    from ..scanner import run_scan
    from ..settings import load_settings
    from ..store import Store

    settings = load_settings(config, os.environ)
    policy_set = configured_policy_set(settings)
    today = datetime.now(UTC).date()
    with Store.open(settings.store.url) as store:
        post_deployments(store, estate)
        history = yaml.safe_load((estate / "history.yaml").read_text(encoding="utf-8")) or {}
        for days_ago in sorted(history, reverse=True):
            manifests_as_of(estate, work / "manifests", history[days_ago])
            outcome = run_scan(settings, policy_set, store, trigger="demo")
            after_scan(settings, store, policy_set.policies, scan_id=outcome.scan_id,
                       day=today - timedelta(days=int(days_ago)))
            print(f"  scanned the estate as of {days_ago} day(s) ago: {outcome.status}, "
                  f"{len(outcome.findings)} findings")
        manifests_as_of(estate, work / "manifests", {})
        outcome = run_scan(settings, policy_set, store, trigger="demo")
        after_scan(settings, store, policy_set.policies, scan_id=outcome.scan_id, day=today)
        print(f"  scanned the estate today: {outcome.status}, {outcome.targets} targets, "
              f"{len(outcome.findings)} findings, {len(outcome.unowned)} unowned")
        for error in outcome.errors:
            print(f"    {error.get('source')}: {error.get('error') or error.get('problem')}")
        context = app_context(store, settings, policy_set)
        print_adoption(context)
        print_governance(context)
        print_notifications(context)
        report = write_report(context, work / "report")
        if report:
            print(f"\nreport: {report}")
        if args.no_serve:
            print("\ndemo finished (--no-serve). `pathwarden demo` without it serves the "
                  "dashboard.")
            return 0
        return serve(context, args.host, args.port)


def create_repositories(estate: Path, root: Path) -> list[Path]:
    spec = yaml.safe_load((estate / "repos.yaml").read_text(encoding="utf-8"))
    created = []
    for name, repo in spec["repos"].items():
        files = {**spec["profiles"][repo["profile"]], **(repo.get("files") or {})}
        path = root / name
        for rel, text in files.items():
            if text is None:
                continue
            target = path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_fill(str(text), name=name, team=repo["team"],
                                    system=repo["system"]), encoding="utf-8")
        env = {**os.environ, "GIT_AUTHOR_DATE": "2026-11-01T10:00:00Z",
               "GIT_COMMITTER_DATE": "2026-11-01T10:00:00Z"}
        for git_args in (["init", "-q"], ["remote", "add", "origin",
                                          f"https://github.com/acme/{name}.git"],
                         ["add", "-A"], ["commit", "-q", "-m", "Initial import"]):
            subprocess.run([*GIT, "-C", str(path), *git_args], check=True, env=env)
        created.append(path)
    return created


def _fill(text: str, **values: str) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def write_governance(estate: Path, out: Path, today: date) -> Path:
    """The estate's waivers and campaigns with `{today+N}` / `{today-N}` filled in, so the
    demo shows active, expiring and expired waivers and running campaigns on any day."""
    out.mkdir(parents=True, exist_ok=True)
    for source in sorted((estate / "governance").glob("*.yaml")):
        text = re.sub(r"\{today([+-]\d+)\}",
                      lambda m: (today + timedelta(days=int(m.group(1)))).isoformat(),
                      source.read_text(encoding="utf-8"))
        (out / source.name).write_text(text, encoding="utf-8")
    return out


def write_config(estate: Path, work: Path, repos: list[Path], governance: Path) -> Path:
    source = yaml.safe_load((estate / "pathwarden.yaml").read_text(encoding="utf-8")) or {}
    policies = source.get("policies") or {}
    policies["dirs"] = [str((estate / d).resolve()) for d in policies.get("dirs") or []]
    config = {
        "policies": policies,
        "store": {"url": f"sqlite:///{work / 'pathwarden.db'}"},
        "scan": {"scope": "demo", "catalog": [str(estate / "catalog")],
                 "manifests": [str(work / "manifests")],
                 "repositories": [{"path": str(p)} for p in repos],
                 "cache_dir": str(work / "cache")},
        "scorecards": {"report_dir": str(work / "report")},
        "governance": {"dirs": [str(governance)]},
    }
    path = work / "pathwarden.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def manifests_as_of(estate: Path, target: Path, changed: dict[str, str]) -> None:
    """Today's manifests, with the files that were different on that day put back."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(estate / "manifests", target)
    for rel, text in changed.items():
        (target / rel).write_text(text, encoding="utf-8")


def post_deployments(store: Any, estate: Path) -> None:
    """A month of deployment runs, as CI would have posted them to /api/v1/pipeline-runs."""
    from ..store import PipelineRun

    spec = yaml.safe_load((estate / "repos.yaml").read_text(encoding="utf-8"))
    rng = random.Random(42)
    now = datetime.now(UTC)
    runs = []
    for name, cadence in (spec.get("deployments") or {}).items():
        count = round(cadence["per_week"] * 30 / 7)
        failures = set(rng.sample(range(count), min(cadence.get("failures", 0), count)))
        for i in range(count):
            finished = now - timedelta(days=30 * (i + 0.5) / max(count, 1))
            runs.append(PipelineRun(
                repository=f"acme/{name}", pipeline="deploy.yml", run_id=f"{name}-{i}",
                commit_sha=f"{rng.getrandbits(160):040x}",
                commit_time=finished - timedelta(hours=rng.uniform(1, 30)),
                finished_at=finished, result="failure" if i in failures else "success",
                deployment=True, environment="production"))
    store.add_pipeline_runs(runs)


def app_context(store: Any, settings: Any, policy_set: Any) -> Any:
    from ...scorecards.context import AppContext

    return AppContext.load(store, settings, policy_set)


def print_adoption(context: Any) -> None:
    from ...scorecards.views import adoption

    results = context.store.scorecard_results()
    print("\ngolden-path adoption today (services per level):")
    for item in adoption(results, context.cards):
        levels = ", ".join(f"{name} {item.levels.get(name, 0)}" for name in item.level_names)
        score = f"{item.average_score:.0%}" if item.average_score is not None else "n/a"
        print(f"  {item.scorecard.title:<22} {item.services:>2} services: {levels}; "
              f"average score {score}")


def print_governance(context: Any) -> None:
    """The estate's campaigns and waivers, as a lead would want them summed up."""
    from ...scorecards.campaigns import campaigns_progress

    now = datetime.now(UTC)
    governance = context.governance
    progress = campaigns_progress(context.store, governance, context.policies.values(), now)
    if progress:
        print("\ncampaigns:")
    for p in progress:
        counts = ", ".join(f"{n} {status}" for status, n in p.counts.items() if n)
        phase = p.phase.enforcement.value if p.phase else f"starts {p.campaign.start}"
        print(f"  {p.campaign.title:<40} {phase}, {p.days_left} days to the deadline; "
              f"{counts}")
    used = context.store.waiver_usage()
    soon = context.settings.governance.waivers.expiring_within_days
    active = [w for w in governance.waivers if w.active(now)]
    zone = context.settings.governance.zone
    expiring = [w for w in active if w.days_left(now, zone) <= soon]
    unused = [w for w in active if not used.get(w.id)]
    expired = [w for w in governance.waivers if w.state == "approved" and not w.active(now)]
    if governance.waivers:
        print(f"waivers: {len(active)} active ({len(expiring)} expiring within {soon} days, "
              f"{len(unused)} unused), {len(expired)} expired")


def print_notifications(context: Any) -> None:
    """The campaign notifications due now, through the product's own outbox: recorded in
    the store, and sent when `PATHWARDEN_NOTIFY_URL` (or governance.notifications.url)
    names a receiver, as `pathwarden serve` does after a scan."""
    from ...scorecards.notify import notify_now
    from .notify_cmd import SHOWN

    report = notify_now(context.settings, context.store, context.policies.values())
    if not report.outcomes:
        return
    if context.settings.governance.notifications.url:
        print(f"\ncampaign notifications to {report.destination}:")
        for outcome in report.outcomes:
            print(f"  {SHOWN.get(outcome.status, outcome.status)}: {outcome.summary}")
        return
    print("\ncampaign notifications due (recorded in the store; "
          "PATHWARDEN_NOTIFY_URL=<a Slack incoming webhook or JSON receiver> sends them):")
    for outcome in report.outcomes:
        print(f"  {outcome.summary}")


def write_report(context: Any, out: Path) -> Path | None:
    try:
        from ...scorecards.report import write_report as write
    except ImportError:
        return None
    paths = write(context, out, ["html", "md", "json", "csv"])
    return next((p for p in paths if p.suffix == ".html"), paths[0] if paths else None)


def serve(context: Any, host: str, port: int) -> int:
    import uvicorn

    from ...scorecards.server import create_app

    url = f"http://{host}:{port}/"
    print(f"\ndashboard: {url}  (API: {url}api/v1/services, docs: {url}docs; Ctrl-C stops)")
    sys.stdout.flush()
    uvicorn.run(create_app(context), host=host, port=port, log_level="warning")
    return 0
