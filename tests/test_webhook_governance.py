"""Waivers and campaigns at admission, over real HTTPS with AdmissionReview v1 bodies.

The webhook's clock is injected, so each phase of a campaign and each side of a waiver's
expiry is exercised without waiting; files are edited while it runs to show that a new
waiver or campaign applies without a restart."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pathwarden.engine.settings import load_settings
from pathwarden.webhook.governance import GovernanceHolder, governance_loader

from .webhook_support import MemorySink, make_certs, pod, review, running_webhook, wait_for

ROOT = Path(__file__).resolve().parents[1]

WAIVER = """\
apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {name: legacy-privileged}
spec:
  policies: [pss-baseline-privileged]
  namespaces: [legacy-*]
  reason: vendor agent needs privileged mode until the 2027 upgrade
  requestedBy: dev@acme.example
  approvedBy: platform-lead@acme.example
  requested: 2026-11-20
  expires: 2026-12-31
"""

CAMPAIGN = """\
apiVersion: pathwarden.dev/v1
kind: Campaign
metadata: {name: resources-everywhere}
spec:
  owner: group:default/platform
  goal: every container declares requests and limits
  policies: [golden-resources]
  start: 2026-12-01
  deadline: 2027-01-15
  timezone: Europe/Berlin
  schedule:
    - {enforcement: audit, from: 2026-12-01}
    - {enforcement: warn, from: 2026-12-15}
    - {enforcement: deny, from: 2027-01-15}
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, text: str) -> None:
        self.now = datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, certs: Path):
    root = tmp_path_factory.mktemp("governance")
    org = root / "org"
    org.mkdir()
    (org / "waivers.yaml").write_text(WAIVER, encoding="utf-8")
    (org / "campaign.yaml").write_text(CAMPAIGN, encoding="utf-8")
    config = root / "pathwarden.yaml"
    config.write_text(textwrap.dedent(f"""\
        policies: {{dirs: [org]}}
        scan: {{catalog: [{ROOT}/examples/estate/catalog]}}
        """), encoding="utf-8")
    settings = load_settings(config, {})
    clock, sink = Clock(), MemorySink()
    holder = GovernanceHolder(governance_loader(settings, store_url=None, clock=clock),
                              refresh_seconds=0)
    with running_webhook(certs, sink_factory=sink.factory, governance=holder,
                         governance_paths=[org], clock=clock) as running:
        yield running, clock, org, sink, holder


def unprivileged_resources_missing(name: str = "shop-web", namespace: str = "shop-prod"):
    obj = pod(name, namespace)
    del obj["spec"]["containers"][0]["resources"]
    return obj


def privileged(namespace: str) -> dict:
    """Compliant but for the one control the waiver is about."""
    obj = pod("agent", namespace)
    obj["spec"]["containers"][0]["securityContext"]["privileged"] = True
    return obj


def test_a_valid_waiver_admits_with_a_warning_naming_it_and_its_expiry(setup):
    running, clock, _, sink, _ = setup
    clock.set("2026-12-20T12:00:00+00:00")
    answer = running.admit(review(privileged("legacy-billing")))
    assert answer["allowed"] is True, answer
    assert any(w.startswith("[pss-baseline-privileged] waived by legacy-privileged until "
                            "2026-12-31") and "vendor agent" in w for w in answer["warnings"])
    assert wait_for(lambda: [r for r in sink.records if r["uid"] == answer["uid"]],
                    "the decision log")[0]["waived"] == ["pss-baseline-privileged"]
    # the waiver covers legacy-* namespaces only
    denied = running.admit(review(privileged("shop-prod")))
    assert denied["allowed"] is False and "pss-baseline-privileged" in denied["status"][
        "message"]


def test_an_expired_waiver_stops_applying_at_once(setup):
    running, clock, *_ = setup
    clock.set("2026-12-31T23:59:59+00:00")
    assert running.admit(review(privileged("legacy-billing")))["allowed"] is True
    clock.set("2027-01-01T00:00:00+00:00")
    answer = running.admit(review(privileged("legacy-billing")))
    assert answer["allowed"] is False
    assert "pss-baseline-privileged" in answer["status"]["message"]


@pytest.mark.parametrize(("instant", "allowed", "warning"), [
    # before the start (midnight 1 Dec in Berlin is 23:00 UTC on 30 Nov): the policy's
    # own enforcement (golden-resources denies by default)
    ("2026-11-30T22:59:59+00:00", False, None),
    ("2026-11-30T23:00:00+00:00", True, None),        # audit: recorded, not shown
    ("2026-12-14T22:59:59+00:00", True, None),
    ("2026-12-14T23:00:00+00:00", True, "campaign resources-everywhere: denies from "
                                        "2027-01-15"),
    ("2027-01-14T23:00:00+00:00", False, None),       # the deadline: denied
])
def test_a_campaign_moves_a_rule_from_audit_to_warn_to_deny_by_the_clock(
        setup, instant, allowed, warning):
    running, clock, *_ = setup
    clock.set(instant)
    answer = running.admit(review(unprivileged_resources_missing()))
    assert answer["allowed"] is allowed
    warnings = answer.get("warnings") or []
    if warning:
        assert any(w.startswith(f"[golden-resources] ({warning})") for w in warnings)
    else:
        assert not any("golden-resources" in w for w in warnings)
    if not allowed:
        assert "[golden-resources]" in answer["status"]["message"]


def test_a_waiver_beats_the_campaigns_deny_phase(setup):
    running, clock, org, _, holder = setup
    clock.set("2027-01-20T10:00:00+00:00")
    (org / "web.yaml").write_text(textwrap.dedent("""\
        apiVersion: pathwarden.dev/v1
        kind: Waiver
        metadata: {name: shop-web-resources}
        spec:
          policies: [golden-resources]
          services: [shop-web]
          reason: sizing study running
          requestedBy: dev@acme.example
          approvedBy: lead@acme.example
          requested: 2027-01-10
          expires: 2027-02-01
        """), encoding="utf-8")
    try:
        # the file is picked up by the watcher, without a restart
        wait_for(lambda: holder.current.governance.waiver("shop-web-resources"),
                 "the new waiver to load")
        answer = running.admit(review(unprivileged_resources_missing()))
        assert answer["allowed"] is True
        assert any("waived by shop-web-resources until 2027-02-01" in w
                   for w in answer["warnings"])
        # the waiver names the service (from the catalog): another service is denied
        other = running.admit(review(unprivileged_resources_missing("shop-cart")))
        assert other["allowed"] is False
    finally:
        (org / "web.yaml").unlink()
        wait_for(lambda: holder.current.governance.waiver("shop-web-resources") is None,
                 "the waiver to go")


def test_an_annotation_on_the_object_waives_nothing_by_default(setup):
    running, clock, *_ = setup
    clock.set("2027-01-20T10:00:00+00:00")
    obj = unprivileged_resources_missing()
    obj["metadata"]["annotations"] = {
        "pathwarden.dev/waive": "golden-resources",
        "pathwarden.dev/waive-reason": "trust me",
        "pathwarden.dev/waive-expires": "2027-01-31"}
    answer = running.admit(review(obj))
    assert answer["allowed"] is False


def test_the_periodic_refresh_reads_api_waivers_and_keeps_the_files_read(tmp_path):
    from pathwarden.engine.store import Store

    org = tmp_path / "org"
    org.mkdir()
    (org / "waivers.yaml").write_text(WAIVER, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'pathwarden.db'}"
    config = tmp_path / "pathwarden.yaml"
    config.write_text(f'policies: {{dirs: [org]}}\nstore: {{url: "{url}"}}\n', encoding="utf-8")
    clock = Clock()
    clock.set("2026-12-01T00:00:00+00:00")
    load = governance_loader(load_settings(config, {}), store_url=url, clock=clock)
    with Store.open(url) as store:
        assert [w.id for w in load().governance.waivers] == ["legacy-privileged"]
        spec = {"policies": ["golden-probes"], "namespaces": ["batch"], "reason": "r",
                "expires": "2026-12-20"}
        store.request_waiver("api-one", spec, expires_at=clock.now.replace(day=21),
                             requested_by="alice", actor="alice", now=clock.now)
        store.decide_waiver("api-one", "approve", actor="bob", now=clock.now)
    (org / "more.yaml").write_text(WAIVER.replace("legacy-privileged", "from-a-new-file"),
                                   encoding="utf-8")
    refreshed = load(files=False).governance
    assert sorted(w.id for w in refreshed.waivers) == ["api-one", "legacy-privileged"]
    assert sorted(w.id for w in load().governance.waivers) == [
        "api-one", "from-a-new-file", "legacy-privileged"]
