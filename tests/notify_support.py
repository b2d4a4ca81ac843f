"""What the notification tests share: an estate written through the store's own `write_scan`
(services of three teams and an unowned one, findings of a built-in policy), campaign
files in a policy directory, and a configuration that points at the stand-in receiver."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

from pathwarden.engine import load_policies
from pathwarden.engine.model import Enforcement, Finding, Severity, Status, Target, TargetRef
from pathwarden.engine.settings import Settings, load_settings
from pathwarden.engine.store import ScanResult, Store
from pathwarden.scorecards.notify import NotifyReport, notify_now

POLICIES = load_policies().policies
TEAM_A, TEAM_B, TEAM_C = (f"group:default/team-{t}" for t in "abc")
SECRET_PATH = "/services/T000/B000/s3cr3t-t0ken"
# ref -> (owner, {policy: status}): team-a has one failing and one passing service, team-b
# complies, team-c's only service errors (an error is failing too), and one has no owner.
ESTATE: dict[str, tuple[str | None, dict[str, str]]] = {
    "component:default/web": (TEAM_A, {"golden-probes": "fail", "golden-replicas": "pass"}),
    "component:default/api": (TEAM_A, {"golden-probes": "pass"}),
    "component:default/cart": (TEAM_B, {"golden-probes": "pass"}),
    "component:default/db": (TEAM_C, {"golden-probes": "error", "golden-replicas": "fail"}),
    "component:default/orphan": (None, {"golden-probes": "fail"}),
}


def seed(store: Store, estate: dict[str, tuple[str | None, dict[str, str]]] = ESTATE,
         names: dict[str, str] | None = None) -> None:
    """One ended scan with these services and findings, as the scanner writes it."""
    services, targets, findings = [], [], []
    for ref, (owner, results) in estate.items():
        name = (names or {}).get(ref, ref.rsplit("/", 1)[-1])
        services.append({"ref": ref, "name": name, "owner": owner, "system": None,
                         "lifecycle": "production", "tier": "1", "type": "service"})
        target = TargetRef(id=f"k8s:apps/v1/Deployment/shop/{name}", kind="k8s", name=name,
                           object_kind="Deployment", namespace="shop", service=ref)
        targets.append((Target(target, {}), "manifests"))
        findings += [Finding(policy, target, Status(status), Severity.MEDIUM,
                             Enforcement.AUDIT) for policy, status in results.items()]
    scan = store.start_scan("all")
    store.write_scan(scan, ScanResult(targets, findings, services, [], "succeeded"))


CAMPAIGN = """\
apiVersion: pathwarden.dev/v1
kind: Campaign
metadata:
  name: {name}
spec:
  title: {title}
  owner: group:default/platform
  goal: Every production service has probes.
  policies: [golden-probes]
  start: {start}
  deadline: {deadline}
  timezone: {timezone}
{schedule}"""


def campaign_file(directory: Path, *, name: str = "probes", start: str = "2026-11-01",
                  deadline: str = "2026-12-15", timezone: str = "UTC",
                  warn_from: str | None = "2026-12-01", title: str = "Probes everywhere"
                  ) -> Path:
    schedule = "" if warn_from is None else textwrap.indent(
        f"schedule:\n  - {{enforcement: audit, from: {start}}}\n"
        f"  - {{enforcement: warn, from: {warn_from}}}\n"
        f"  - {{enforcement: deny, from: {deadline}}}\n", "  ")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(CAMPAIGN.format(name=name, title=title, start=start, deadline=deadline,
                                    timezone=timezone, schedule=schedule), encoding="utf-8")
    return path


def config(tmp_path: Path, database_url: str, url: str | None, **notifications: Any) -> Path:
    """A configuration with the campaigns in `tmp_path/governance`; built-in policies only."""
    lines = [f"url: {url}{SECRET_PATH}"] if url else []
    notifications.setdefault("backoff_seconds", 0.5)
    lines += [f"{k}: {v}" for k, v in notifications.items()]
    body = "".join(f"\n    {line}" for line in lines)
    path = tmp_path / "pathwarden.yaml"
    path.write_text(f"store: {{url: '{database_url}'}}\n"
                    f"governance:\n  dirs: [governance]\n  notifications:{body}\n",
                    encoding="utf-8")
    return path


def settings_of(path: Path) -> Settings:
    return load_settings(path, {})


def run(settings: Settings, store: Store, now: datetime,
        sleeps: list[float] | None = None) -> NotifyReport:
    """One notification run at `now`; waits are recorded, not slept."""
    waits = sleeps if sleeps is not None else []
    return notify_now(settings, store, POLICIES, now, sleep=waits.append)


def keys(store: Store, status: str | None = None) -> list[str]:
    return [r.event_key for r in store.notifications()
            if status is None or r.status == status]
