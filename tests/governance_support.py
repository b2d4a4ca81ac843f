"""A small estate with waivers and campaigns, every date fixed, for the report and dashboard
governance tests.

Five services in three teams, scanned 8 and 4 days before NOW and at NOW (the store's
clock is set to each day, so the daily history lands on those days), each scan's raw
findings governed by the waiver and campaign files as of that day, then scored. What it
holds at NOW:

- shop-web: compliant (its probes failed 8 days ago);
- shop-cart: probes fail, waived by `w-cart-probes` (an object cover, 60 days left);
- pay-api: probes fail; `w-api-probes` excused them until it expired 3 days ago;
- pay-ledger: two Deployments on :latest, waived by `w-ledger-tag` (5 days left:
  expiring); its probes failed until today;
- data-etl (experimental): :latest, not waived; `w-etl-replicas` covers a rule it passes
  (unused); `w-old` expired 50 days ago; `w-web-tag` was requested through the API.

Campaign `probes-everywhere` (production services): audit from 2026-11-01, warn from
2026-11-15, deny from the deadline 2026-12-15. Campaign `pinned-images` starts 2026-12-01.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pathwarden.engine import load_policies
from pathwarden.engine.governance import load_governance
from pathwarden.engine.model import (
    Enforcement,
    Finding,
    Severity,
    Status,
    Target,
    TargetRef,
    Violation,
)
from pathwarden.engine.settings import Settings, load_settings
from pathwarden.engine.store import ScanResult, Store
from pathwarden.scorecards.compute import compute_scorecards
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.definitions import ScorecardSet, parse_scorecard

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
POLICY_SET = load_policies()
POLICIES = {p.id: p for p in POLICY_SET.policies}

CARD = parse_scorecard({
    "id": "deploy", "title": "Deploy path", "description": "Ship safely.",
    "levels": [
        {"name": "bronze", "rules": [{"policy": "golden-probes", "title": "Probes"},
                                     {"policy": "golden-image-tag", "title": "Pinned tags"}]},
        {"name": "silver", "rules": [{"policy": "golden-replicas", "title": "Replicas"}]},
    ]})

SERVICES = {  # name -> owner, system, lifecycle, tier, namespace, deployments
    "shop-web": ("team-shop", "shop", "production", "1", "shop", ("web",)),
    "shop-cart": ("team-shop", "shop", "production", "2", "shop", ("cart",)),
    "pay-api": ("team-payments", "payments", "production", "1", "payments", ("api",)),
    "pay-ledger": ("team-payments", "payments", "production", "1", "payments",
                   ("ledger", "ledger-worker")),
    "data-etl": ("team-data", "data", "experimental", "3", "data", ("etl",)),
}
FAILING = {  # days before NOW -> {(service, policy)} failing then (all else passes)
    8: {("shop-web", "golden-probes"), ("shop-cart", "golden-probes"),
        ("pay-api", "golden-probes"), ("pay-ledger", "golden-probes"),
        ("pay-ledger", "golden-image-tag"), ("data-etl", "golden-image-tag")},
    4: {("shop-cart", "golden-probes"), ("pay-api", "golden-probes"),
        ("pay-ledger", "golden-probes"), ("pay-ledger", "golden-image-tag"),
        ("data-etl", "golden-image-tag")},
    0: {("shop-cart", "golden-probes"), ("pay-api", "golden-probes"),
        ("pay-ledger", "golden-image-tag"), ("data-etl", "golden-image-tag")},
}
SCORED = ("golden-probes", "golden-image-tag", "golden-replicas")

WAIVERS = """
apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {name: w-cart-probes}
spec:
  policies: [golden-probes]
  objects: [Deployment/shop/cart]
  reason: The cart's health endpoint lands with the checkout rewrite.
  requestedBy: carol@acme.example
  approvedBy: platform-lead@acme.example
  requested: 2026-11-01
  expires: 2027-01-19
---
apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {name: w-api-probes}
spec:
  policies: [golden-probes]
  services: [pay-api]
  reason: Probes wait for the new load balancer.
  requestedBy: pat@acme.example
  approvedBy: platform-lead@acme.example
  requested: 2026-10-01
  expires: 2026-11-17
---
apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {name: w-ledger-tag}
spec:
  policies: [golden-image-tag]
  services: [component:default/pay-ledger]
  reason: The vendor publishes only :latest until their 4.0 release.
  requestedBy: pat@acme.example
  approvedBy: security@acme.example
  requested: 2026-10-20
  expires: 2026-11-25
---
apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {name: w-etl-replicas}
spec:
  policies: [golden-replicas]
  services: [data-etl]
  reason: A single replica is enough for a batch job.
  requestedBy: dana@acme.example
  approvedBy: platform-lead@acme.example
  requested: 2026-11-01
  expires: 2027-01-10
---
apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {name: w-old}
spec:
  policies: [golden-probes]
  namespaces: [legacy]
  reason: Old migration.
  requestedBy: someone@acme.example
  approvedBy: platform-lead@acme.example
  requested: 2026-08-01
  expires: 2026-10-01
"""

CAMPAIGNS = """
apiVersion: pathwarden.dev/v1
kind: Campaign
metadata: {name: probes-everywhere}
spec:
  title: Probes everywhere
  owner: group:default/team-platform
  goal: Every production workload has liveness and readiness probes.
  policies: [golden-probes]
  services: {lifecycle: [production]}
  start: 2026-11-01
  deadline: 2026-12-15
  schedule:
    - {enforcement: audit, from: 2026-11-01}
    - {enforcement: warn, from: 2026-11-15}
    - {enforcement: deny, from: 2026-12-15}
---
apiVersion: pathwarden.dev/v1
kind: Campaign
metadata: {name: pinned-images}
spec:
  title: Pinned images
  owner: group:default/team-platform
  goal: No workload runs a mutable tag.
  policies: [golden-image-tag]
  start: 2026-12-01
  deadline: 2027-01-15
  schedule:
    - {enforcement: audit, from: 2026-12-01}
    - {enforcement: warn, from: 2026-12-15}
    - {enforcement: deny, from: 2027-01-15}
"""


def ref(name: str) -> str:
    return f"component:default/{name}"


def _catalog() -> list[dict]:
    return [{"ref": ref(name), "name": name, "title": name.replace("-", " ").title(),
             "owner": f"group:default/{owner}", "system": f"system:default/{system}",
             "lifecycle": lifecycle, "tier": tier, "type": "service"}
            for name, (owner, system, lifecycle, tier, _, _) in SERVICES.items()]


def _targets() -> list[tuple[Target, str]]:
    out = []
    for name, (*_, namespace, deployments) in SERVICES.items():
        for deployment in deployments:
            target_ref = TargetRef(f"k8s:{namespace}/apps/v1/Deployment/{deployment}", "k8s",
                                   deployment, "Deployment", namespace, ref(name))
            out.append((Target(target_ref, {}), "manifests"))
    return out


def _findings(failing: set[tuple[str, str]]) -> list[Finding]:
    out = []
    for target, _ in _targets():
        name = target.ref.service.rsplit("/", 1)[-1]
        for policy_id in SCORED:
            bad = (name, policy_id) in failing
            out.append(Finding(
                policy_id, target.ref, Status.FAIL if bad else Status.PASS, Severity.HIGH,
                Enforcement.DENY,
                (Violation(f"{policy_id} fails on {target.ref.name}"),) if bad else ()))
    return out


def config(work: Path, url: str) -> Path:
    governance = work / "governance"
    governance.mkdir(parents=True, exist_ok=True)
    (governance / "waivers.yaml").write_text(textwrap.dedent(WAIVERS), encoding="utf-8")
    (governance / "campaigns.yaml").write_text(textwrap.dedent(CAMPAIGNS), encoding="utf-8")
    path = work / "pathwarden.yaml"
    path.write_text(f"store: {{url: '{url}'}}\n"
                    f"governance: {{dirs: [{governance}], timezone: Europe/Berlin}}\n",
                    encoding="utf-8")
    return path


@contextmanager
def store_clock(when: datetime) -> Iterator[None]:
    """The store dates scans and the daily history by its clock: set it to a seeding day."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pathwarden.engine.store.store._now", lambda: when)
        yield


def seed(settings: Settings, store: Store, *, request: bool = True) -> None:
    """The three scans; `request`: also the API waiver request (once per store)."""
    services = {row["ref"]: row for row in _catalog()}
    for ago in sorted(FAILING, reverse=True):
        when = NOW - timedelta(days=ago)
        governance, problems = load_governance(settings, when, store=store, sync=True)
        assert problems == []
        findings = governance.govern(_findings(FAILING[ago]), POLICY_SET.get, when,
                                     services=services)
        with store_clock(when):
            scan = store.start_scan("all")
            store.write_scan(scan, ScanResult(_targets(), findings, _catalog(), [],
                                              "succeeded"))
        compute_scorecards(store, ScorecardSet([CARD]), POLICY_SET.policies,
                           day=when.date(), now=when, scan_id=scan)
    if not request:
        return
    store.request_waiver(
        "w-web-tag", {"policies": ["golden-image-tag"], "services": ["shop-web"],
                      "reason": "Canary image during the migration.",
                      "requestedBy": "sam@acme.example", "expires": "2026-12-20"},
        expires_at=datetime(2026, 12, 20, 23, 0, tzinfo=UTC),
        requested_by="sam@acme.example", actor="token:sam", now=NOW)


def governed_context(work: Path, url: str | None = None) -> AppContext:
    """The seeded estate's context, with the governance as of NOW."""
    settings = load_settings(config(work, url or f"sqlite:///{work / 'pw.db'}"), {})
    store = Store.open(settings.store.url)
    seed(settings, store)
    ctx = AppContext(store=store, settings=settings, policies=POLICIES,
                     scorecards=ScorecardSet([CARD]))
    assert ctx.refresh_governance(NOW) == []
    return ctx


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)
