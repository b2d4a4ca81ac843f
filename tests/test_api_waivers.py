"""Waivers and campaigns through the REST API, on SQLite and PostgreSQL, after a real scan of
the example estate with a reviewed waiver file and a campaign file: token roles (401 / 403 /
2xx on every endpoint), the request -> approve flow and its audit trail, self-approval,
immutable file waivers, the expiry cap, withdrawing and revoking, and campaign progress."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pathwarden.engine import load_policies
from pathwarden.engine.scanner import run_scan
from pathwarden.engine.settings import ApiSettings, Settings, load_settings
from pathwarden.engine.store import Store
from pathwarden.scorecards.api import create_api
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.definitions import load_scorecards

ROOT = Path(__file__).resolve().parents[1]
ESTATE = ROOT / "examples" / "estate"
PAYMENTS = "component:default/payments-api"
ROLES = {"alice": ["read", "waivers:request"], "bob": ["read", "waivers:approve"],
         "carol": ["read"], "root": ["admin"]}
"""Token names and their roles; each token is `<name>-token`. `ci-token` is configured as
a bare digest (read and write, named after its digest)."""


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}-token"}


def today() -> date:
    return datetime.now(UTC).date()


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


def write_estate_config(tmp_path: Path, url: str) -> Path:
    gov = tmp_path / "governance"
    gov.mkdir()
    (gov / "waivers.yaml").write_text(f"""
apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {{name: payments-probes}}
spec:
  policies: [golden-probes]
  services: [payments-api]
  reason: The payments API answers health checks through its sidecar until Q3.
  requestedBy: dana
  approvedBy: erin
  expires: "{day(30)}"
""", encoding="utf-8")
    (gov / "campaign.yaml").write_text(f"""
apiVersion: pathwarden.dev/v1
kind: Campaign
metadata: {{name: probes-everywhere}}
spec:
  title: Probes everywhere
  owner: team-platform
  goal: Every long-running service has liveness and readiness probes.
  policies: [golden-probes]
  start: "{day(-10)}"
  deadline: "{day(20)}"
  schedule:
    - {{enforcement: audit, from: "{day(-10)}"}}
    - {{enforcement: warn, from: "{day(-1)}"}}
    - {{enforcement: deny, from: "{day(20)}"}}
""", encoding="utf-8")
    tokens = "".join(
        f"    - {{digest: '{ApiSettings.digest(name + '-token')}', name: {name}, "
        f"roles: [{', '.join(roles)}]}}\n" for name, roles in ROLES.items())
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"""
store: {{url: "{url}"}}
policies:
  parameters: {{golden-allowed-registries: {{registries: [registry.acme.example/]}}}}
scan:
  catalog: [{ESTATE}/catalog]
  manifests: [{ESTATE}/manifests]
governance:
  dirs: [governance]
  waivers: {{max_days: 60}}
api:
  read: token
  tokens:
{tokens}    - '{ApiSettings.digest("ci-token")}'
""", encoding="utf-8")
    return cfg


class Estate:
    """The scanned estate, the server's context and a client of its API."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        self.tmp_path = tmp_path
        self.settings = load_settings(write_estate_config(tmp_path, url), {})
        self.policy_set = load_policies().with_parameters(
            dict(self.settings.policies.parameters))
        self.store = Store.open(url)
        self.scan()
        self.ctx = AppContext.load(self.store, self.settings, self.policy_set)
        self.client = TestClient(create_api(self.ctx))

    def scan(self) -> None:
        outcome = run_scan(self.settings, self.policy_set, self.store)
        assert outcome.status == "succeeded", outcome

    def get(self, path: str, who: str = "carol", **params: Any) -> Any:
        answer = self.client.get(f"/api/v1{path}", params=params, headers=auth(who))
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, who: str, body: Any = None) -> Any:
        return self.client.post(f"/api/v1{path}", json=body, headers=auth(who))

    def request(self, who: str = "alice", **spec: Any) -> Any:
        body = {"id": "cart-replicas", "policies": ["golden-replicas"],
                "services": ["shop-cart"], "reason": "Scaled down while the cart moves.",
                "expires": day(14), **spec}
        return self.post("/waivers", who, body)


@pytest.fixture
def estate(tmp_path, database_url):
    estate = Estate(tmp_path, database_url)
    yield estate
    estate.store.close()


# --- roles -----------------------------------------------------------------------------------

def test_every_waiver_and_campaign_endpoint_checks_the_token_and_its_role(estate):
    client = estate.client
    reads = ["/waivers", "/waivers/payments-probes", "/waivers/payments-probes/history",
             "/campaigns", "/campaigns/probes-everywhere"]
    for path in reads:
        assert client.get(f"/api/v1{path}").status_code == 401, path
        wrong = client.get(f"/api/v1{path}", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        for who in ("alice", "bob", "carol", "root", "ci"):
            assert client.get(f"/api/v1{path}", headers=auth(who)).status_code == 200, who

    # Requesting needs waivers:request (admin has every role).
    for who in ("bob", "carol", "ci"):
        refused = estate.request(who)
        assert refused.status_code == 403, who
        name = who if who != "ci" else f"token-{ApiSettings.digest('ci-token')[7:15]}"
        assert refused.json()["error"] == f"token {name} lacks the role waivers:request"
        assert refused.json()["detail"]["needs"] == ["waivers:request"]
    assert estate.post("/waivers", "nobody", {}).status_code == 401
    assert estate.request().status_code == 201
    assert estate.request("root", id="root-asks").status_code == 201

    # Deciding needs waivers:approve; the requester's role is not enough.
    for action in ("approve", "reject"):
        for who in ("alice", "carol", "ci"):
            answer = estate.post(f"/waivers/cart-replicas/{action}", who)
            assert answer.status_code == 403, (action, who)
            assert "lacks the role waivers:approve" in answer.json()["error"]
    assert client.post("/api/v1/waivers/cart-replicas/approve").status_code == 401
    for who in ("carol", "ci"):
        answer = estate.post("/waivers/cart-replicas/revoke", who)
        assert answer.status_code == 403
        assert answer.json()["error"].endswith("lacks the role waivers:approve or "
                                               "waivers:request")
    assert estate.post("/waivers/cart-replicas/approve", "bob").status_code == 200
    assert estate.post("/waivers/root-asks/reject", "root").status_code == 200
    assert estate.get("/waivers/cart-replicas")["status"] == "active"


def test_existing_writes_need_the_write_role(estate):
    run = {"repository": "acme/x", "finished_at": "2026-11-20T10:00:00Z", "result": "success"}
    for who, status in (("carol", 403), ("alice", 403), ("ci", 201), ("root", 201)):
        answer = estate.client.post("/api/v1/pipeline-runs", json=run, headers=auth(who))
        assert answer.status_code == status, who
    refused = estate.client.post("/api/v1/pipeline-runs", json=run, headers=auth("carol"))
    assert refused.json() == {"error": "token carol lacks the role write",
                              "detail": {"token": "carol", "roles": ["read"],
                                         "needs": ["write"]}}


# --- listing ---------------------------------------------------------------------------------

def test_file_waivers_are_listed_with_status_expiry_and_use(estate):
    listed = estate.get("/waivers")
    assert listed["total"] == 1 and listed["next"] is None
    waiver = listed["items"][0]
    location = waiver.pop("location")
    assert location.startswith(str(estate.tmp_path / "governance" / "waivers.yaml"))
    for key in ("requested_at", "decided_at", "updated_at", "expires_at", "days_left"):
        assert waiver.pop(key) is not None, key
    assert waiver == {
        "id": "payments-probes", "source": "file", "state": "approved", "status": "active",
        "policies": ["golden-probes"], "services": ["payments-api"], "namespaces": [],
        "objects": [], "repositories": [], "pipelines": [],
        "reason": "The payments API answers health checks through its sidecar until Q3.",
        "requested_by": "dana", "approved_by": "erin", "expires": day(30), "used": 1}
    # The scan that synced the file recorded the waived finding.
    waived = estate.client.get("/api/v1/findings", headers=auth("carol"), params={
        "service": PAYMENTS, "policy": "golden-probes"}).json()["items"]
    assert [f["status"] for f in waived] == ["waived"]
    history = estate.get("/waivers/payments-probes/history")["items"]
    assert [(e["action"], e["actor"].startswith("file:")) for e in history] == [
        ("created", True)]
    assert history[0]["detail"]["spec"]["approvedBy"] == "erin"


def test_waiver_filters(estate):
    assert estate.request().status_code == 201
    ids = lambda **params: [w["id"] for w in estate.get("/waivers", **params)["items"]]  # noqa: E731
    assert ids() == ["cart-replicas", "payments-probes"]
    assert ids(state="requested") == ["cart-replicas"]
    assert ids(state="active") == ids(state="approved") == ["payments-probes"]
    assert ids(state="revoked") == []
    assert ids(policy="golden-probes") == ["payments-probes"]
    assert ids(policy="golden-replicas") == ["cart-replicas"]
    assert ids(service="payments-api") == ids(service=PAYMENTS) == ["payments-probes"]
    assert ids(service="component:default/shop-cart") == ["cart-replicas"]
    assert ids(limit=1) == ["cart-replicas"]
    bad = estate.client.get("/api/v1/waivers", params={"state": "sleeping"},
                            headers=auth("carol"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["where"] == "query.state"
    for path in ("/waivers/nope", "/waivers/nope/history"):
        missing = estate.client.get(f"/api/v1{path}", headers=auth("carol"))
        assert missing.status_code == 404
        assert missing.json() == {"error": "unknown waiver 'nope'", "detail": None}


# --- request, approve, audit trail -----------------------------------------------------------

def test_a_request_approved_by_someone_else_applies_at_once_and_is_audited(estate):
    requested = estate.request()
    assert requested.status_code == 201, requested.text
    body = requested.json()
    assert (body["id"], body["source"], body["state"], body["status"]) == (
        "cart-replicas", "api", "requested", "requested")
    assert (body["requested_by"], body["approved_by"], body["location"]) == (
        "alice", None, None)
    assert body["expires"] == day(14) and body["days_left"] == 14 and body["used"] == 0
    applied = estate.ctx.governance.waiver("cart-replicas")
    assert applied is not None and not applied.active(datetime.now(UTC))

    approved = estate.post("/waivers/cart-replicas/approve", "bob",
                           {"comment": "Agreed until the move is done."})
    assert approved.status_code == 200, approved.text
    assert (approved.json()["state"], approved.json()["status"],
            approved.json()["approved_by"]) == ("approved", "active", "bob")
    now = datetime.now(UTC)
    applied = estate.ctx.governance.waiver("cart-replicas")
    assert applied is not None and applied.active(now) and applied.approved_by == "bob"

    history = estate.get("/waivers/cart-replicas/history")["items"]
    assert [(e["action"], e["actor"]) for e in history] == [("requested", "alice"),
                                                            ("approved", "bob")]
    assert history[0]["detail"]["spec"] == {
        "policies": ["golden-replicas"], "services": ["shop-cart"],
        "reason": "Scaled down while the cart moves.", "requestedBy": "alice",
        "expires": day(14)}
    assert history[1]["detail"] == {"comment": "Agreed until the move is done."}
    first, second = (datetime.fromisoformat(e["time"]) for e in history)
    assert first.utcoffset() == timedelta(0) and first <= second
    # The same rows in the store, and the stored waiver.
    rows = estate.store.waiver_events(waiver_id="cart-replicas")
    assert sorted((e.action, e.actor) for e in rows) == [("approved", "bob"),
                                                         ("requested", "alice")]
    row = estate.store.waiver_row("cart-replicas")
    assert row is not None
    assert (row.source, row.state, row.requested_by, row.approved_by) == (
        "api", "approved", "alice", "bob")
    assert row.spec["approvedBy"] == "bob"

    estate.scan()  # the next audit records the covered failure as waived
    assert estate.get("/waivers/cart-replicas")["used"] == 1
    # A second decision on the same waiver is refused.
    again = estate.post("/waivers/cart-replicas/reject", "bob")
    assert again.status_code == 409
    assert again.json()["error"].startswith("waiver cart-replicas is approved; it cannot be")


def test_nobody_approves_their_own_request(estate):
    assert estate.request("root", id="root-own").status_code == 201
    refused = estate.post("/waivers/root-own/approve", "root")
    assert refused.status_code == 409
    assert refused.json()["error"] == ("waiver root-own was requested by root; someone else "
                                       "must approve it")
    assert estate.get("/waivers/root-own")["state"] == "requested"
    assert estate.post("/waivers/root-own/approve", "bob").status_code == 200


def test_file_waivers_cannot_be_changed_through_the_api(estate):
    for action in ("approve", "reject", "revoke"):
        refused = estate.post(f"/waivers/payments-probes/{action}", "root")
        assert refused.status_code == 409, action
        assert "change it there (files are reviewed like code)" in refused.json()["error"]
    # One the server reads but no scan has synced yet is a file waiver all the same.
    (estate.tmp_path / "governance" / "new.yaml").write_text(f"""
apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {{name: fresh-file}}
spec: {{policies: [golden-replicas], services: [shop-cart], reason: r, requestedBy: a,
        approvedBy: b, expires: "{day(5)}"}}
""", encoding="utf-8")
    estate.ctx.refresh_governance()
    listed = {w["id"]: w for w in estate.get("/waivers")["items"]}
    assert (listed["fresh-file"]["source"], listed["fresh-file"]["status"]) == ("file",
                                                                                "active")
    refused = estate.post("/waivers/fresh-file/revoke", "bob")
    assert refused.status_code == 409 and "new.yaml" in refused.json()["error"]
    taken = estate.request(id="fresh-file")
    assert taken.status_code == 409
    assert taken.json()["error"] == "waiver fresh-file already exists"
    assert estate.request(id="payments-probes").status_code == 409
    assert estate.store.waiver_events(waiver_id="payments-probes")[0].action == "created"


def test_a_deleted_waiver_file_shows_as_removed_and_keeps_its_id(estate):
    (estate.tmp_path / "governance" / "waivers.yaml").unlink()
    estate.scan()  # the scan syncs the files into the store
    estate.ctx.refresh_governance()
    removed = estate.get("/waivers/payments-probes")
    assert (removed["source"], removed["state"], removed["status"]) == ("file", "removed",
                                                                       "removed")
    assert [e["action"] for e in estate.get("/waivers/payments-probes/history")["items"]] == [
        "created", "removed"]
    assert estate.get("/waivers", state="active")["total"] == 0
    taken = estate.request(id="payments-probes")
    assert taken.status_code == 409
    assert taken.json()["error"] == "waiver payments-probes already exists"


def test_a_request_that_expired_while_waiting_cannot_be_approved(estate):
    now = datetime.now(UTC)
    spec = {"policies": ["golden-replicas"], "services": ["shop-cart"], "reason": "r",
            "requestedBy": "alice", "expires": day(-2)}
    # `expires: <day -2>` holds all of that day: it ends at the first instant of day -1.
    ends = datetime.combine(today() - timedelta(days=1), time(0), UTC)
    estate.store.request_waiver("stale", spec, expires_at=ends,
                                requested_by="alice", actor="alice",
                                now=now - timedelta(days=5))
    estate.ctx.refresh_governance()
    stale = estate.get("/waivers/stale")
    assert (stale["state"], stale["status"], stale["days_left"]) == ("requested", "expired", -2)
    assert [w["id"] for w in estate.get("/waivers", state="expired")["items"]] == ["stale"]
    late = estate.post("/waivers/stale/approve", "bob")
    assert late.status_code == 409
    assert late.json()["error"] == ("waiver stale expired before it was approved; request a "
                                    "new one")
    assert estate.store.waiver_row("stale").state == "requested"  # type: ignore[union-attr]


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "message"), [
    ({"expires": day(61)}, f"expires {day(61)}, more than the allowed 60 days after "
                           f"{today().isoformat()} (governance.waivers.max_days)"),
    ({"expires": day(-1)}, f"waiver cart-replicas: expires {day(-1)}, which is already "
                           "past"),
    ({"expires": "soon"}, "'soon' is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"),
    ({"policies": []}, "spec.policies must name at least one policy id or tag"),
    ({"services": []}, "say what it covers"),
    ({"reason": " "}, "spec.reason is required (why the deviation is needed)"),
])
def test_invalid_requests_are_422_with_the_reason(estate, change, message):
    answer = estate.request(**change)
    assert answer.status_code == 422, answer.text
    assert message in answer.json()["error"]
    assert estate.store.waiver_row("cart-replicas") is None


def test_the_body_cannot_name_the_requester_or_a_bad_id(estate):
    for extra, where in (({"requestedBy": "bob"}, "body.requestedBy"),
                         ({"approvedBy": "bob"}, "body.approvedBy"),
                         ({"id": "Not/An/Id"}, "body.id")):
        answer = estate.request(**extra)
        assert answer.status_code == 422, extra
        assert [p["where"] for p in answer.json()["detail"]] == [where]
    # `name` is accepted for the id, as a file's metadata.name.
    body = {"name": "by-name", "policies": ["golden-replicas"], "services": ["shop-cart"],
            "reason": "r", "expires": day(3)}
    created = estate.post("/waivers", "alice", body)
    assert created.status_code == 201 and created.json()["id"] == "by-name"
    assert estate.request().status_code == 201
    assert estate.request().status_code == 409


# --- withdrawing, rejecting, revoking --------------------------------------------------------

def test_a_requester_withdraws_only_their_own_pending_request(estate):
    assert estate.request().status_code == 201
    assert estate.request("root", id="roots").status_code == 201
    foreign = estate.post("/waivers/roots/revoke", "alice")
    assert foreign.status_code == 403
    assert "may withdraw only its own waiver requests" in foreign.json()["error"]
    withdrawn = estate.post("/waivers/cart-replicas/revoke", "alice", {"comment": "not needed"})
    assert withdrawn.status_code == 200
    assert (withdrawn.json()["state"], withdrawn.json()["status"]) == ("revoked", "revoked")
    assert [(e["action"], e["actor"], e["detail"]) for e in
            estate.get("/waivers/cart-replicas/history")["items"]][1:] == [
        ("revoked", "alice", {"comment": "not needed"})]
    late = estate.post("/waivers/cart-replicas/approve", "bob")
    assert late.status_code == 409
    assert late.json()["error"] == "waiver cart-replicas is revoked; it cannot be approved"
    assert estate.post("/waivers/unknown/revoke", "alice").status_code == 404
    assert estate.post("/waivers/unknown/approve", "bob").status_code == 404


def test_an_approved_waiver_is_revoked_by_an_approver_and_stops_applying(estate):
    assert estate.request().status_code == 201
    assert estate.post("/waivers/cart-replicas/approve", "bob").status_code == 200
    own = estate.post("/waivers/cart-replicas/revoke", "alice")
    assert own.status_code == 403  # once approved, only an approver can take it back
    revoked = estate.post("/waivers/cart-replicas/revoke", "bob", {"comment": "moved"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    applied = estate.ctx.governance.waiver("cart-replicas")
    assert applied is not None and not applied.active(datetime.now(UTC))
    assert [(e["action"], e["actor"]) for e in
            estate.get("/waivers/cart-replicas/history")["items"]] == [
        ("requested", "alice"), ("approved", "bob"), ("revoked", "bob")]
    assert estate.get("/waivers", state="revoked")["items"][0]["id"] == "cart-replicas"


def test_a_rejected_request_never_applies(estate):
    assert estate.request().status_code == 201
    rejected = estate.post("/waivers/cart-replicas/reject", "bob", {"comment": "fix it"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert estate.post("/waivers/cart-replicas/approve", "root").status_code == 409
    assert estate.get("/waivers", state="rejected")["total"] == 1
    bad = estate.client.post("/api/v1/waivers/cart-replicas/revoke", headers=auth("bob"),
                             json={"comment": "x", "extra": 1})
    assert bad.status_code == 422


def test_a_rejection_is_recorded_as_rejected(estate):
    assert estate.request().status_code == 201
    assert estate.post("/waivers/cart-replicas/reject", "bob").status_code == 200
    history = estate.get("/waivers/cart-replicas/history")["items"]
    assert [(e["action"], e["actor"]) for e in history] == [("requested", "alice"),
                                                            ("rejected", "bob")]


# --- campaigns -------------------------------------------------------------------------------

def test_campaign_progress(estate):
    listed = estate.get("/campaigns")
    assert listed["total"] == 1
    campaign = listed["items"][0]
    assert campaign == estate.get("/campaigns/probes-everywhere")
    assert (campaign["id"], campaign["owner"], campaign["state"]) == (
        "probes-everywhere", "team-platform", "running")
    assert campaign["covered_policies"] == ["golden-probes"]
    assert campaign["phase"] == {"enforcement": "warn", "from": day(-1)}
    assert campaign["next_phase"] == {"enforcement": "deny", "from": day(20)}
    assert campaign["days_left"] == 20
    counts = {(svc, pol): c for (svc, pol), c in estate.store.finding_counts().items()}
    probes = {s.ref: counts.get((s.ref, "golden-probes"), {})
              for s in estate.store.services()}
    failing = sorted(ref for ref, c in probes.items() if c.get("fail"))
    assert failing and PAYMENTS not in failing
    by_ref = {s["ref"]: s for s in campaign["services"]}
    assert sorted(r for r, s in by_ref.items() if s["status"] == "failing") == failing
    assert by_ref[PAYMENTS]["status"] == "waived"
    assert by_ref[PAYMENTS]["waived"] == ["golden-probes"]
    assert campaign["counts"]["failing"] == len(failing)
    assert campaign["counts"]["waived"] == 1
    assert sum(campaign["counts"].values()) == len(probes)
    assert sum(team["failing"] for team in campaign["by_team"].values()) == len(failing)
    assert estate.get("/campaigns", state="scheduled")["total"] == 0
    missing = estate.client.get("/api/v1/campaigns/nope", headers=auth("carol"))
    assert missing.status_code == 404
    assert missing.json() == {"error": "unknown campaign 'nope'",
                              "detail": {"known": ["probes-everywhere"]}}


def test_without_campaigns_or_waivers_the_lists_are_empty(database_url):
    with Store.open(database_url) as store:
        settings = Settings(api=ApiSettings(tokens=(ApiSettings.digest("t"),)))
        ctx = AppContext(store, settings, {}, load_scorecards([]))
        client = TestClient(create_api(ctx))
        for path in ("/api/v1/waivers", "/api/v1/campaigns"):
            answer = client.get(path)  # api.read: open
            assert answer.status_code == 200
            assert answer.json() == {"items": [], "total": 0, "limit": 100, "offset": 0,
                                     "next": None}
        refused = client.post("/api/v1/waivers", json={"id": "x"},
                              headers={"Authorization": "Bearer t"})
        assert refused.status_code == 403  # a bare digest has read and write only
