"""Waivers and campaigns: dates (time-zone correct), expiry at the boundary, validation,
what a waiver covers, and the precedence between a waiver, a campaign and configuration."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pathwarden.engine.errors import ConfigError
from pathwarden.engine.governance import Governance, GovernanceSettings
from pathwarden.engine.governance.campaigns import CampaignError, campaign_from_document
from pathwarden.engine.governance.config import WaiverRules, parse_governance
from pathwarden.engine.governance.loading import read_governance_files
from pathwarden.engine.governance.waivers import WaiverError, waiver_from_document
from pathwarden.engine.model import (
    Enforcement,
    Finding,
    Language,
    Location,
    Policy,
    Severity,
    Status,
    TargetRef,
    Violation,
)

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def policy(pid: str = "golden-probes", tags: tuple[str, ...] = ("golden-path:run",),
           enforcement: Enforcement = Enforcement.DENY) -> Policy:
    return Policy(pid, pid, "", Severity.HIGH, ("k8s",), ("Pod",), enforcement, "add probes",
                  None, tags, Language.PYTHON, Location("x.py"))


REF = TargetRef("k8s:shop/apps/v1/Deployment/web", "k8s", "web", "Deployment", "shop",
                "component:default/shop-web")


def waiver_doc(**spec: object) -> dict:
    base = {"policies": ["golden-probes"], "services": ["shop-web"], "reason": "migrating",
            "requestedBy": "alice", "approvedBy": "bob", "expires": "2026-12-31"}
    base.update(spec)
    return {"apiVersion": "pathwarden.dev/v1", "kind": "Waiver",
            "metadata": {"name": "w-1"}, "spec": {k: v for k, v in base.items()
                                                   if v is not None}}


def make_waiver(zone=UTC_ZONE, today=date(2026, 11, 24), max_days=90, **spec):
    return waiver_from_document(waiver_doc(**spec), zone=zone, max_days=max_days,
                                today=today)


def campaign_doc(**spec: object) -> dict:
    base = {"owner": "group:default/platform", "goal": "probes everywhere",
            "policies": ["golden-probes"], "start": "2026-11-01", "deadline": "2027-01-15",
            "schedule": [{"enforcement": "audit", "from": "2026-11-01"},
                         {"enforcement": "warn", "from": "2026-12-01"},
                         {"enforcement": "deny", "from": "2027-01-15"}]}
    base.update(spec)
    return {"apiVersion": "pathwarden.dev/v1", "kind": "Campaign",
            "metadata": {"name": "probes"}, "spec": {k: v for k, v in base.items()
                                                     if v is not None}}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- campaign dates ---------------------------------------------------------------------

@pytest.mark.parametrize(("instant", "phase"), [
    ("2026-10-31T22:59:59+00:00", None),          # 23:59:59 in Berlin: not started
    ("2026-10-31T23:00:00+00:00", "audit"),       # midnight 1 Nov in Berlin (UTC+1)
    ("2026-11-30T22:59:59+00:00", "audit"),
    ("2026-11-30T23:00:00+00:00", "warn"),        # midnight 1 Dec in Berlin
    ("2027-01-14T22:59:59+00:00", "warn"),
    ("2027-01-14T23:00:00+00:00", "deny"),        # the deadline's first instant
    ("2030-01-01T00:00:00+00:00", "deny"),        # the last phase holds after it
])
def test_phases_start_at_midnight_in_the_campaigns_time_zone(instant, phase):
    campaign = campaign_from_document(campaign_doc(timezone="Europe/Berlin"),
                                      default_timezone="UTC")
    found = campaign.phase_at(at(instant))
    assert (found.enforcement.value if found else None) == phase


def test_the_same_instant_is_in_different_phases_in_different_zones():
    instant = at("2026-11-30T23:30:00+00:00")
    berlin = campaign_from_document(campaign_doc(), default_timezone="Europe/Berlin")
    utc = campaign_from_document(campaign_doc(), default_timezone="UTC")
    assert berlin.phase_at(instant).enforcement is Enforcement.WARN
    assert utc.phase_at(instant).enforcement is Enforcement.AUDIT
    assert utc.next_phase(instant).starts == "2026-12-01"
    assert utc.denies_from().starts == "2027-01-15"
    assert utc.state(at("2026-10-01T00:00:00+00:00")) == "scheduled"
    assert utc.state(instant) == "running"
    assert utc.state(at("2027-02-01T00:00:00+00:00")) == "past-deadline"


def test_the_default_schedule_audits_from_the_start_and_denies_from_the_deadline():
    campaign = campaign_from_document(campaign_doc(schedule=None), default_timezone="UTC")
    assert [(p.enforcement.value, p.starts) for p in campaign.phases] == [
        ("audit", "2026-11-01"), ("deny", "2027-01-15")]


@pytest.mark.parametrize(("change", "message"), [
    ({"deadline": "2026-10-01"}, "must come after the start"),
    ({"schedule": [{"enforcement": "warn", "from": "2026-12-01"},
                   {"enforcement": "deny", "from": "2026-11-15"}]}, "in date order"),
    ({"schedule": [{"enforcement": "block", "from": "2026-12-01"}]}, "audit, warn or deny"),
    ({"schedule": [{"enforcement": "warn", "from": "2026-10-01"}]}, "starts before"),
    ({"goal": None}, "spec.goal is required"),
    ({"policies": []}, "at least one policy"),
    ({"start": "next monday"}, "not a date"),
    ({"services": {"colour": "red"}}, "unknown filter key(s) ['colour']"),
    ({"timezone": "Mars/Olympus"}, "not a time zone"),
])
def test_invalid_campaigns_say_what_is_wrong(change, message):
    with pytest.raises(CampaignError, match="campaign probes") as err:
        campaign_from_document(campaign_doc(**change), default_timezone="UTC")
    assert message in str(err.value)


# --- waiver expiry ------------------------------------------------------------------------

@pytest.mark.parametrize(("zone", "last_valid", "first_expired"), [
    (UTC_ZONE, "2026-12-31T23:59:59+00:00", "2027-01-01T00:00:00+00:00"),
    # the end of 31 December in Auckland (UTC+13 in summer) is 11:00 UTC that day
    (AUCKLAND, "2026-12-31T10:59:59+00:00", "2026-12-31T11:00:00+00:00"),
])
def test_a_waiver_holds_through_its_expiry_day_and_stops_at_once(zone, last_valid,
                                                                 first_expired):
    waiver = make_waiver(zone=zone)
    assert waiver.active(at(last_valid))
    assert not waiver.active(at(first_expired))
    governance = Governance(waivers=[waiver])
    assert governance.waiver_for(policy(), REF, at(last_valid)) is waiver
    assert governance.waiver_for(policy(), REF, at(first_expired)) is None


def test_a_timestamp_expiry_is_exact():
    waiver = make_waiver(expires="2026-12-01T12:00:00+01:00")
    assert waiver.active(at("2026-12-01T10:59:59+00:00"))
    assert not waiver.active(at("2026-12-01T11:00:00+00:00"))


def test_expiry_is_capped_by_configuration():
    make_waiver(expires="2027-02-21")  # 89 days after 2026-11-24, within 90
    with pytest.raises(WaiverError, match=r"expires 2027-03-01, more than the allowed 90 "
                       r"days after 2026-11-24 \(governance.waivers.max_days\)"):
        make_waiver(expires="2027-03-01")
    with pytest.raises(WaiverError, match="more than the allowed 30 days"):
        make_waiver(expires="2027-01-01", max_days=30)
    # measured from when it was requested, when the file says so
    with pytest.raises(WaiverError, match="after 2026-08-01"):
        make_waiver(requested="2026-08-01", expires="2026-12-31")


@pytest.mark.parametrize(("change", "message"), [
    ({"expires": None}, "spec.expires is required"),
    ({"reason": None}, "spec.reason is required"),
    ({"requestedBy": "  "}, "spec.requestedBy is required"),
    ({"approvedBy": None}, "spec.approvedBy is required in a waiver file"),
    ({"services": None}, "say what it covers"),
    ({"policies": []}, "at least one policy"),
    ({"expires": "soon"}, "not a date"),
    ({"owner": "x"}, "unknown field(s) ['owner']"),
])
def test_invalid_waivers_say_what_is_wrong(change, message):
    with pytest.raises(WaiverError, match="waiver w-1") as err:
        make_waiver(**change)
    assert message in str(err.value)


# --- what a waiver covers ---------------------------------------------------------------

@pytest.mark.parametrize(("cover", "covered"), [
    ({"services": ["shop-web"]}, True),
    ({"services": ["component:default/shop-web"]}, True),
    ({"services": ["shop-*"]}, True),
    ({"services": ["billing"]}, False),
    ({"services": None, "namespaces": ["sho*"]}, True),
    ({"services": None, "namespaces": ["billing"]}, False),
    ({"services": None, "objects": ["Deployment/shop/web"]}, True),
    ({"services": None, "objects": ["Deployment/shop/api-*"]}, False),
    ({"services": None, "objects": ["StatefulSet/shop/web"]}, False),
    ({"services": None, "repositories": ["shop-web"]}, False),  # a k8s object is no repo
    # several kinds of cover narrow each other
    ({"services": ["shop-web"], "namespaces": ["billing"]}, False),
    ({"services": ["shop-web"], "namespaces": ["shop"]}, True),
])
def test_what_a_waiver_covers(cover, covered):
    assert make_waiver(**cover).covers(REF) is covered


def test_repositories_and_pipelines_are_covered_by_name():
    repo = TargetRef("repo:shop-web", "repo", "shop-web", service="component:default/x")
    pipe = TargetRef("pipeline:shop-web/.github/workflows/ci.yml", "pipeline",
                     "shop-web/.github/workflows/ci.yml")
    assert make_waiver(services=None, repositories=["shop-*"]).covers(repo)
    assert not make_waiver(services=None, repositories=["billing"]).covers(repo)
    assert make_waiver(services=None, pipelines=["shop-web/*"]).covers(pipe)


def test_a_waiver_names_policies_by_id_or_tag():
    assert make_waiver(policies=["golden-path:*"]).covers_policy(policy())
    assert not make_waiver(policies=["pss:*"]).covers_policy(policy())


# --- precedence ----------------------------------------------------------------------------

def finding(status: Status = Status.FAIL, p: Policy | None = None) -> Finding:
    p = p or policy()
    return Finding(p.id, REF, status, p.severity, p.enforcement,
                   violations=(Violation("no probe"),) if status is Status.FAIL else ())


SERVICES = {"component:default/shop-web": {"ref": "component:default/shop-web",
                                            "name": "shop-web", "tier": "1",
                                            "owner": "group:default/team-shop",
                                            "lifecycle": "production"}}


def govern(governance: Governance, findings: list[Finding], when: str,
           p: Policy | None = None) -> list[Finding]:
    p = p or policy()
    return governance.govern(findings, {p.id: p}.get, at(when), services=SERVICES)


def test_a_waiver_beats_a_campaign_in_its_deny_phase():
    campaign = campaign_from_document(campaign_doc(), default_timezone="UTC")
    governance = Governance(waivers=[make_waiver(expires="2027-02-01")],
                            campaigns=[campaign])
    [waived] = govern(governance, [finding()], "2027-01-20T00:00:00+00:00")
    assert (waived.status, waived.waiver, waived.enforcement) == (
        Status.WAIVED, "w-1", Enforcement.DENY)
    # once the waiver expires, the campaign's deny applies
    [failing] = govern(governance, [finding()], "2027-02-02T00:00:00+00:00")
    assert (failing.status, failing.waiver, failing.enforcement) == (
        Status.FAIL, None, Enforcement.DENY)


def test_passes_and_errors_are_never_waived():
    governance = Governance(waivers=[make_waiver()])
    out = govern(governance, [finding(Status.PASS), finding(Status.ERROR)],
                 "2026-12-01T00:00:00+00:00")
    assert [f.status for f in out] == [Status.PASS, Status.ERROR]


def test_a_campaign_beats_configuration_and_configuration_beats_the_default():
    campaign = campaign_from_document(campaign_doc(), default_timezone="UTC")
    governance = Governance(campaigns=[campaign], overrides={"golden-path:*": "warn"})
    p = policy()
    assert governance.enforcement(p, SERVICES[REF.service], at(
        "2026-10-01T00:00:00+00:00")).enforcement is Enforcement.WARN  # before the start
    effective = governance.enforcement(p, SERVICES[REF.service],
                                       at("2026-11-10T00:00:00+00:00"))
    assert (effective.enforcement, effective.campaign.id) == (Enforcement.AUDIT, "probes")
    warn = governance.enforcement(p, SERVICES[REF.service], at("2026-12-10T00:00:00+00:00"))
    assert warn.note() == "campaign probes: denies from 2027-01-15"
    assert Governance().enforcement(p, None, at("2026-12-10T00:00:00+00:00")).enforcement \
        is Enforcement.DENY


def test_the_strictest_campaign_wins_and_filters_pick_services():
    slow = campaign_from_document(campaign_doc(), default_timezone="UTC")
    tier1 = campaign_doc(services={"tier": [1]}, schedule=[
        {"enforcement": "deny", "from": "2026-11-01"}])
    tier1["metadata"]["name"] = "tier1-now"
    fast = campaign_from_document(tier1, default_timezone="UTC")
    governance = Governance(campaigns=[slow, fast])
    now = at("2026-11-10T00:00:00+00:00")
    assert governance.enforcement(policy(), SERVICES[REF.service], now).campaign.id == \
        "tier1-now"
    tier2 = {**SERVICES[REF.service], "tier": "2"}
    assert governance.enforcement(policy(), tier2, now).campaign.id == "probes"
    # a filtered campaign never applies to an unowned target
    assert governance.enforcement(policy(), None, now).enforcement is Enforcement.AUDIT


def test_of_two_covering_waivers_the_longer_one_is_named():
    short = make_waiver(expires="2026-12-10")
    long_doc = waiver_doc(expires="2027-01-31")
    long_doc["metadata"]["name"] = "w-long"
    long = waiver_from_document(long_doc, zone=UTC_ZONE, max_days=90,
                                today=date(2026, 11, 24))
    governance = Governance(waivers=[short, long])
    assert governance.waiver_for(policy(), REF, at("2026-12-01T00:00:00+00:00")).id == "w-long"


# --- annotations: never self-service unless configured --------------------------------------

ANNOTATIONS = {"pathwarden.dev/waive": "golden-probes",
               "pathwarden.dev/waive-reason": "batch worker, nothing to probe",
               "pathwarden.dev/waive-expires": "2026-12-31"}


def test_an_annotation_waives_nothing_unless_configuration_allows_it_for_that_policy():
    now = at("2026-12-01T00:00:00+00:00")
    assert Governance().waiver_for(policy(), REF, now, annotations=ANNOTATIONS) is None
    allowed = Governance(GovernanceSettings(waivers=WaiverRules(
        annotation_policies=("golden-probes",))))
    own = allowed.waiver_for(policy(), REF, now, annotations=ANNOTATIONS)
    assert own is not None and own.id == "annotation:Deployment:shop:web"
    assert own.source == "annotation"
    # another policy is not opened to self-service, even if the annotation names it
    other = policy("pss-baseline-privileged", tags=("pss:baseline",))
    named = {**ANNOTATIONS, "pathwarden.dev/waive": "golden-probes,pss-baseline-privileged"}
    assert allowed.waiver_for(other, REF, now, annotations=named) is None
    # a reason and an expiry within the cap are still required
    for missing in ("pathwarden.dev/waive-reason", "pathwarden.dev/waive-expires"):
        partial = {k: v for k, v in ANNOTATIONS.items() if k != missing}
        assert allowed.waiver_for(policy(), REF, now, annotations=partial) is None
    late = {**ANNOTATIONS, "pathwarden.dev/waive-expires": "2027-12-31"}
    assert allowed.waiver_for(policy(), REF, now, annotations=late) is None
    assert allowed.waiver_for(policy(), REF, at("2027-01-01T00:00:00+00:00"),
                              annotations=ANNOTATIONS) is None


# --- files and configuration ----------------------------------------------------------------

def test_files_are_read_next_to_policies_with_problems_named_by_file_and_line(tmp_path: Path):
    (tmp_path / "waivers.yaml").write_text(textwrap.dedent("""\
        apiVersion: pathwarden.dev/v1
        kind: Waiver
        metadata: {name: ok}
        spec: {policies: [golden-probes], services: [shop-web], reason: r,
               requestedBy: a, approvedBy: b, expires: 2026-12-31}
        ---
        apiVersion: pathwarden.dev/v1
        kind: Waiver
        metadata: {name: no-expiry}
        spec: {policies: [golden-probes], services: [shop-web], reason: r,
               requestedBy: a, approvedBy: b}
        ---
        apiVersion: pathwarden.dev/v1
        kind: Waiver
        metadata: {name: ok}
        spec: {policies: [x], services: [y], reason: r, requestedBy: a, approvedBy: b,
               expires: 2026-12-01}
        ---
        apiVersion: pathwarden.dev/v1
        kind: Exemption
        metadata: {name: what}
        """), encoding="utf-8")
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "probes.yaml").write_text(
        "apiVersion: pathwarden.dev/v1\nkind: Campaign\nmetadata: {name: probes}\n"
        "spec: {owner: platform, goal: g, policies: [golden-probes], start: 2026-11-01,\n"
        "       deadline: 2027-01-15}\n", encoding="utf-8")
    (tmp_path / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n",
                                              encoding="utf-8")
    found = read_governance_files([tmp_path], GovernanceSettings(), today=date(2026, 11, 24))
    assert [w.id for w in found.waivers] == ["ok"]
    assert [c.id for c in found.campaigns] == ["probes"]
    problems = sorted((Path(p.location.file).name, p.location.line, p.message)
                      for p in found.problems)
    assert problems == [
        ("waivers.yaml", 7, "waiver no-expiry: spec.expires is required (a date, at most 90 "
                            "days ahead)"),
        ("waivers.yaml", 13, f"duplicate waiver id 'ok' (first in {tmp_path}/waivers.yaml:1)"),
        ("waivers.yaml", 19, "unknown kind 'Exemption' for pathwarden.dev/v1; use one of "
                             "['Waiver', 'Campaign']"),
    ]


def test_the_governance_section_is_checked():
    parsed = parse_governance({"timezone": "Europe/Berlin", "waivers": {"max_days": 30},
                               "notifications": {"format": "slack"}}, Path("/etc"),
                              {"PATHWARDEN_NOTIFY_URL": "https://hooks.example/T0/B0/x"},
                              None)
    assert (parsed.zone, parsed.waivers.max_days, parsed.notifications.url) == (
        BERLIN, 30, "https://hooks.example/T0/B0/x")
    for raw, message in (({"timezone": "Nowhere/City"}, "not a time zone"),
                         ({"waivers": {"max_days": 0}}, "max_days must be a whole number"),
                         ({"notifications": {"format": "xml"}}, "format is 'xml'"),
                         ({"notifications": {"days_before_deadline": [0]}}, "positive"),
                         ({"waiver": {}}, "unknown key(s) ['waiver']")):
        with pytest.raises(ConfigError, match="governance") as err:
            parse_governance(raw, Path("/etc"), {}, Path("/etc/pathwarden.yaml"))
        assert message in str(err.value)


def test_expiry_counts_from_today_when_no_request_date_is_given():
    today = datetime.now(UTC).date()
    make_waiver(today=today, expires=(today + timedelta(days=90)).isoformat())
    with pytest.raises(WaiverError):
        make_waiver(today=today, expires=(today + timedelta(days=91)).isoformat())


# --- `pathwarden eval` applies them too -------------------------------------------------------

def test_eval_applies_waivers_from_the_policy_directories(tmp_path: Path, capsys):
    import json

    from pathwarden.engine.cli.main import main
    from pathwarden.engine.testing import pod

    manifest = tmp_path / "pod.json"
    obj = pod(name="agent", namespace="legacy")
    obj["spec"]["hostNetwork"] = True
    manifest.write_text(json.dumps(obj), encoding="utf-8")
    org = tmp_path / "org"
    org.mkdir()
    args = ["eval", str(manifest), "--policies", str(org), "--select",
            "pss-baseline-host-namespaces", "--format", "json"]
    assert main(args) == 1
    capsys.readouterr()
    today = datetime.now(UTC).date()
    (org / "waiver.yaml").write_text(
        "apiVersion: pathwarden.dev/v1\nkind: Waiver\nmetadata: {name: legacy-host}\n"
        "spec: {policies: [pss-baseline-host-namespaces], namespaces: [legacy],\n"
        "       reason: node agent, requestedBy: a, approvedBy: b,\n"
        f"       expires: {today + timedelta(days=10)}}}\n", encoding="utf-8")
    assert main(args) == 0
    [record] = json.loads(capsys.readouterr().out)["results"]
    assert (record["status"], record["waiver"], record["blocking"]) == (
        "waived", "legacy-host", False)
    (org / "waiver.yaml").write_text(
        "apiVersion: pathwarden.dev/v1\nkind: Waiver\nmetadata: {name: legacy-host}\n"
        "spec: {policies: [pss-baseline-host-namespaces], namespaces: [legacy]}\n",
        encoding="utf-8")
    assert main(args) == 2
    assert f"{org / 'waiver.yaml'}:1" in capsys.readouterr().err


def test_an_audit_checks_object_covers_per_target_within_one_namespace():
    """govern() keeps the waivers that fit a namespace once; names still decide."""
    other = TargetRef("k8s:shop/apps/v1/Deployment/api", "k8s", "api", "Deployment", "shop",
                      "component:default/shop-web")
    waiver = make_waiver(services=None, namespaces=["shop"], objects=["Deployment/shop/web"])
    p = policy()
    findings = [finding(), Finding(p.id, other, Status.FAIL, p.severity, p.enforcement)]
    out = Governance(waivers=[waiver]).govern(findings, {p.id: p}.get,
                                              at("2026-12-01T00:00:00+00:00"),
                                              services=SERVICES)
    assert [(f.target.name, f.status) for f in out] == [("web", Status.WAIVED),
                                                         ("api", Status.FAIL)]


def test_owners_and_systems_match_by_ref_or_by_name():
    from pathwarden.engine.catalog.service_filter import parse_service_filter

    facts = {"owner": "group:default/team-shop", "system": "system:default/shop"}
    for raw in ({"system": "shop"}, {"system": "system:default/shop"}, {"team": "team-shop"},
                {"owner": "group:default/team-shop"}):
        assert parse_service_filter(raw).matches(facts), raw
    assert not parse_service_filter({"system": "payments"}).matches(facts)
