"""The REST API of `pathwarden serve`, on a store filled by a real scan of the example estate
(catalog and manifests) followed by the scorecards, on SQLite and PostgreSQL: paged lists
and their next links, filters, JSON errors, hashed tokens, read protection, OpenAPI; and the
writes: pipeline runs and delivery metrics, scans on demand, the scan schedule."""

from __future__ import annotations

import hashlib
import io
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pathwarden.engine import load_policies
from pathwarden.engine.cli.main import main
from pathwarden.engine.errors import ConfigError
from pathwarden.engine.scanner import run_scan
from pathwarden.engine.scanner.schedule import Scanner
from pathwarden.engine.settings import ApiSettings, Settings, load_settings
from pathwarden.engine.store import DecisionLogEntry, Store
from pathwarden.scorecards.api import create_api
from pathwarden.scorecards.compute import after_scan
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.definitions import load_scorecards

from .webhook_support import wait_for

ROOT = Path(__file__).resolve().parents[1]
ESTATE = ROOT / "examples" / "estate"
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WEB = "component:default/shop-web"


def write_config(tmp_path: Path, url: str, api: str = "") -> Path:
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"""
store: {{url: "{url}"}}
policies:
  parameters: {{golden-allowed-registries: {{registries: [registry.acme.example/]}}}}
scan:
  catalog: [{ESTATE}/catalog]
  manifests: [{ESTATE}/manifests]
  schedule: '30 2 * * *'
  timezone: Europe/Berlin
{api}""", encoding="utf-8")
    return cfg


def context(settings: Settings, store: Store, scanner: Scanner | None = None) -> AppContext:
    policies = load_policies().with_parameters(dict(settings.policies.parameters)).policies
    return AppContext(store, settings, {p.id: p for p in policies},
                      load_scorecards(settings.scorecards.dirs,
                                      builtin=settings.scorecards.builtin), scanner)


@pytest.fixture
def estate(tmp_path, database_url):
    """Settings and a store holding one scan of the example estate and its scorecards."""
    settings = load_settings(write_config(tmp_path, database_url),
                             {"PATHWARDEN_API_TOKEN": TOKEN})
    policy_set = load_policies().with_parameters(dict(settings.policies.parameters))
    store = Store.open(database_url)
    outcome = run_scan(settings, policy_set, store)
    assert outcome.status == "succeeded"
    after_scan(settings, store, policy_set.policies, scan_id=outcome.scan_id)
    yield settings, store
    store.close()


@pytest.fixture
def server(estate):
    settings, store = estate
    scanner = Scanner(settings, load_policies(), store)
    yield TestClient(create_api(context(settings, store, scanner))), store, scanner
    scanner.shutdown()


@pytest.fixture
def client(server) -> TestClient:
    return server[0]


def walk(client: TestClient, url: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following `next` links."""
    items: list[dict[str, Any]] = []
    start = None
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) >= {"items", "total", "limit", "offset", "next"}
        assert len(body["items"]) <= body["limit"]
        start = body["offset"] if start is None else start
        items += body["items"]
        url = body["next"]
    assert len(items) == body["total"] - start
    return items


# --- reads ---------------------------------------------------------------------------------

def test_services_are_paged_with_next_links(server):
    client, store, _ = server
    refs = [s.ref for s in store.services()]
    assert len(refs) > 5
    first = client.get("/api/v1/services", params={"limit": 5}).json()
    assert (first["total"], first["limit"], first["offset"]) == (len(refs), 5, 0)
    assert [s["ref"] for s in first["items"]] == refs[:5]
    assert first["next"] == "/api/v1/services?limit=5&offset=5"
    assert "id" not in first["items"][0] and first["items"][0]["owner"]
    assert [s["ref"] for s in walk(client, "/api/v1/services?limit=5")] == refs
    last = client.get("/api/v1/services", params={"offset": len(refs) - 1}).json()
    assert len(last["items"]) == 1 and last["next"] is None
    beyond = client.get("/api/v1/services", params={"offset": 1000}).json()
    assert beyond["items"] == [] and beyond["total"] == len(refs)


def test_services_filters_take_refs_or_names_and_keep_the_filter_in_next_links(server):
    client, store, _ = server
    services = store.services()
    shop = [s.ref for s in services if s.owner == "group:default/team-shop"]
    assert shop
    for team in ("team-shop", "group:default/team-shop"):
        answer = client.get("/api/v1/services", params={"team": team}).json()
        assert [s["ref"] for s in answer["items"]] == shop and answer["total"] == len(shop)
    paged = client.get("/api/v1/services", params={"team": "team-shop", "limit": 1}).json()
    assert paged["next"] == "/api/v1/services?team=team-shop&limit=1&offset=1"
    assert [s["ref"] for s in walk(client, paged["next"])] == shop[1:]
    for key, attr, value in (("system", "system", "system:default/shop"),
                             ("lifecycle", "lifecycle", "experimental"),
                             ("tier", "tier", "1"), ("type", "type", "batch")):
        expected = [s.ref for s in services if getattr(s, attr) == value]
        got = client.get("/api/v1/services", params={key: value}).json()["items"]
        assert expected and [s["ref"] for s in got] == expected, key
    by_name = client.get("/api/v1/services", params={"system": "shop"}).json()
    assert by_name["total"] == sum(s.system == "system:default/shop" for s in services)
    none = client.get("/api/v1/services", params={"team": "team_%"}).json()
    assert none["total"] == 0  # LIKE wildcards are taken literally


def test_a_service_with_its_scorecards_blockers_and_findings(server):
    client, store, _ = server
    detail = client.get(f"/api/v1/services/{WEB}").json()
    assert detail["service"]["ref"] == WEB
    cards = {c["scorecard"]: c for c in detail["scorecards"]}
    assert cards["secure-workloads"]["level"] == "gold"
    assert cards["secure-workloads"]["next_level"] is None
    assert set(cards) == {r.scorecard for r in store.scorecard_results(service=WEB)}
    expected = Counter(f.status for f, _ in store.current_findings(service=WEB))
    assert detail["findings"] == dict(expected) and expected["pass"]
    assert client.get("/api/v1/services/shop-web").json() == detail  # by name
    payments = client.get("/api/v1/services/component:default/payments-api").json()
    secure = next(c for c in payments["scorecards"] if c["scorecard"] == "secure-workloads")
    assert secure["level"] is None and secure["next_level"] == "bronze"
    assert "pss-baseline" in {r["id"] for r in secure["blocking"]}
    missing = client.get("/api/v1/services/component:default/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "unknown service 'component:default/nope'",
                              "detail": None}


def test_scorecard_definitions(client):
    cards = client.get("/api/v1/scorecards").json()
    ids = {c["id"] for c in cards["items"]}
    assert ids == {"secure-workloads", "production-readiness", "repository-hygiene",
                   "supply-chain-ci"} and cards["total"] == 4 and cards["next"] is None
    secure = client.get("/api/v1/scorecards/secure-workloads").json()
    assert secure in cards["items"] and secure["golden_path"]
    assert [lvl["name"] for lvl in secure["levels"]][:1] == ["bronze"]
    rule = secure["levels"][0]["rules"][0]
    assert {"id", "title", "kind", "target", "weight"} <= set(rule)
    missing = client.get("/api/v1/scorecards/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown scorecard 'nope'"
    assert "secure-workloads" in missing.json()["detail"]["known"]


def test_scorecard_results_of_a_day_filtered_and_paged(server):
    client, store, _ = server
    stored = store.scorecard_results(scorecard="secure-workloads")
    day = stored[0].day
    url = "/api/v1/scorecards/secure-workloads/results"
    first = client.get(url, params={"limit": 3}).json()
    assert (first["scorecard"], first["day"], first["total"]) == (
        "secure-workloads", day.isoformat(), len(stored))
    assert first["next"] == f"{url}?limit=3&offset=3"
    everything = walk(client, f"{url}?limit=3")
    assert [r["service"] for r in everything] == [r.service for r in stored]
    assert everything[0]["rules"] and everything[0]["day"] == day.isoformat()
    for level in ("gold", "none"):
        got = client.get(url, params={"level": level}).json()["items"]
        want = [r.service for r in stored if (r.level or "none") == level]
        assert want and [r["service"] for r in got] == want, level
    team = client.get(url, params={"team": "team-payments", "level": "none"}).json()
    assert team["items"] and all(r["owner"] == "group:default/team-payments"
                                 and r["level"] is None for r in team["items"])
    same_day = client.get(url, params={"day": day.isoformat()}).json()
    assert same_day["total"] == len(stored)
    other_day = client.get(url, params={"day": "2001-01-01"}).json()
    assert (other_day["total"], other_day["items"]) == (0, [])
    bad = client.get(url, params={"level": "platinum"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "scorecard secure-workloads has no level 'platinum'",
                          "detail": {"levels": ["none", "bronze", "silver", "gold"]}}
    assert client.get("/api/v1/scorecards/nope/results").status_code == 404


def test_scorecard_history_per_day(server):
    client, store, _ = server
    today = store.scorecard_results(scorecard="secure-workloads")
    yesterday = today[0].day - timedelta(days=1)
    earlier = [{**r.model_dump(exclude={"id", "day", "computed_at"}), "level": None,
                "level_index": -1, "score": 0.5} for r in today]
    store.write_scorecard_results(yesterday, earlier)
    url = "/api/v1/scorecards/secure-workloads/history"
    history = client.get(url, params={"since": yesterday.isoformat()}).json()
    assert history["since"] == yesterday.isoformat() and history["service"] is None
    before, now = history["days"]
    assert before == {"day": yesterday.isoformat(), "services": len(today),
                      "levels": {"none": len(today)}, "average_score": 0.5}
    assert now["services"] == len(today)
    assert now["levels"] == dict(Counter(r.level or "none" for r in today))
    scores = [r.score for r in today if r.score is not None]
    assert now["average_score"] == round(sum(scores) / len(scores), 4)
    web = client.get(url, params={"service": "shop-web",
                                  "since": yesterday.isoformat()}).json()
    assert web["service"] == WEB
    assert [(d["levels"], d["services"]) for d in web["days"]] == [
        ({"none": 1}, 1), ({"gold": 1}, 1)]
    assert client.get(url).json()["days"][-1] == now  # default: the last 30 days
    assert client.get(url, params={"service": "nope"}).status_code == 404


def test_findings_are_filtered_and_paged(server):
    client, store, _ = server
    current = store.current_findings()
    everything = walk(client, "/api/v1/findings?limit=100")
    assert len(everything) == len(current) > 100
    assert len({(f["target"]["target_id"], f["policy_id"]) for f in everything}) == len(
        current)
    failing = client.get("/api/v1/findings", params={"status": "fail", "limit": 1000}).json()
    assert failing["total"] == sum(f.status == "fail" for f, _ in current) > 0
    assert all(f["status"] == "fail" and f["violations"] for f in failing["items"])
    assert {"target_id", "kind", "name"} <= set(failing["items"][0]["target"])
    policy = failing["items"][0]["policy_id"]
    mine = client.get("/api/v1/findings", params={"service": "shop-web", "policy": policy,
                                                  "kind": "k8s"}).json()
    want = [(t.target_id, f.status) for f, t in store.current_findings(service=WEB,
                                                                       policy=policy)]
    assert sorted((f["target"]["target_id"], f["status"]) for f in mine["items"]) == \
        sorted(want)
    assert client.get("/api/v1/findings", params={"kind": "repo"}).json()["total"] == 0
    assert client.get("/api/v1/findings", params={"kind": "k8s"}).json()["total"] == len(
        current)  # the example estate is manifests only
    scan_id = store.scans()[0].id
    of_scan = client.get("/api/v1/findings", params={"scan": scan_id, "limit": 1}).json()
    assert of_scan["total"] == len(current)
    assert client.get("/api/v1/findings", params={"scan": 999999}).status_code == 404


@pytest.mark.parametrize(("query", "where"), [
    ({"status": "bogus"}, "query.status"), ({"limit": 0}, "query.limit"),
    ({"limit": 1001}, "query.limit"), ({"offset": -1}, "query.offset"),
    ({"kind": "vm"}, "query.kind"),
])
def test_invalid_parameters_are_json_errors(client, query, where):
    answer = client.get("/api/v1/findings", params=query)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"].startswith(f"invalid request: {where}: ")
    assert body["detail"][0]["where"] == where


def test_scans_paged_and_one_by_id(server):
    client, store, _ = server
    scan = store.scans()[0]
    listed = client.get("/api/v1/scans").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == scan.id
    assert listed["items"][0]["counts"]["findings"] == len(store.current_findings())
    assert client.get(f"/api/v1/scans/{scan.id}").json() == listed["items"][0]
    missing = client.get("/api/v1/scans/999999")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown scan 999999"


def test_decisions_paged_and_filtered(server):
    client, store, _ = server
    now = datetime.now(UTC)
    store.add_decisions([DecisionLogEntry(
        uid=f"u{i}", time=now - timedelta(minutes=i), operation="CREATE", kind="Pod",
        namespace="shop" if i % 2 else "data", name=f"p{i}", user="alice",
        allowed=i % 3 != 0, denied=["pss-privileged"] if i % 3 == 0 else [],
        latency_ms=1.0) for i in range(7)])
    first = client.get("/api/v1/decisions", params={"limit": 3}).json()
    assert [d["uid"] for d in first["items"]] == ["u0", "u1", "u2"]
    assert (first["total"], first["next"]) == (7, "/api/v1/decisions?limit=3&offset=3")
    assert [d["uid"] for d in walk(client, first["next"])] == ["u3", "u4", "u5", "u6"]
    denied = client.get("/api/v1/decisions", params={"policy": "pss-privileged",
                                                     "allowed": "false"}).json()
    assert [d["uid"] for d in denied["items"]] == ["u0", "u3", "u6"]
    shop = client.get("/api/v1/decisions", params={
        "namespace": "shop", "since": (now - timedelta(minutes=3, seconds=30)).isoformat()})
    assert [d["uid"] for d in shop.json()["items"]] == ["u1", "u3"]
    naive = client.get("/api/v1/decisions", params={"since": "2026-11-20T10:00:00"})
    assert naive.status_code == 422 and "needs a time zone" in naive.json()["error"]


def test_policies_metadata(client):
    policies = load_policies().policies
    listed = walk(client, "/api/v1/policies?limit=10")
    assert [p["id"] for p in listed] == sorted(p.id for p in policies)
    one = client.get("/api/v1/policies/pss-baseline-privileged").json()
    assert one in listed and one["severity"] and one["tags"] and one["remediation"]
    tagged = client.get("/api/v1/policies", params={"tag": "pss:baseline"}).json()
    assert tagged["items"] and all("pss:baseline" in p["tags"] for p in tagged["items"])
    repo = client.get("/api/v1/policies", params={"target": "repo", "limit": 1000}).json()
    assert repo["total"] == sum("repo" in p.targets for p in policies) > 0
    missing = client.get("/api/v1/policies/nope")
    assert missing.status_code == 404 and missing.json() == {
        "error": "unknown policy 'nope'", "detail": None}


def test_openapi_and_docs_are_served_and_unknown_routes_are_json(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/services", "/api/v1/services/{ref}", "/api/v1/findings",
            "/api/v1/scorecards/{scorecard_id}/results", "/api/v1/scorecards/{scorecard_id}"
            "/history", "/api/v1/decisions", "/api/v1/policies/{policy_id}",
            "/api/v1/pipeline-runs"} <= set(schema["paths"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    unknown = client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json() == {"error": "Not Found",
                                                             "detail": None}
    elsewhere = client.get("/not-the-api")  # e.g. the dashboard's: FastAPI's own answer
    assert elsewhere.status_code == 404 and elsewhere.json() == {"detail": "Not Found"}


# --- tokens --------------------------------------------------------------------------------

def test_config_tokens_are_digests_and_plain_ones_are_refused(tmp_path, estate):
    _, store = estate
    digest = "sha256:" + hashlib.sha256(b"from-the-config").hexdigest()
    cfg = write_config(tmp_path, "sqlite:///unused.db", f"api:\n  tokens: ['{digest}']\n")
    settings = load_settings(cfg, {"PATHWARDEN_API_TOKEN": f" {TOKEN} , other"})
    assert settings.api.tokens == (digest, ApiSettings.digest(TOKEN),
                                   ApiSettings.digest("other"))
    assert TOKEN not in repr(settings.api)  # only digests are kept
    client = TestClient(create_api(context(settings, store)))
    run = {"repository": "acme/x", "finished_at": "2026-11-20T10:00:00Z", "result": "success"}
    for token in ("from-the-config", TOKEN, "other"):
        answer = client.post("/api/v1/pipeline-runs", json=run,
                             headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 201, token
    wrong = client.post("/api/v1/pipeline-runs", json=run,
                        headers={"Authorization": f"Bearer {digest}"})  # the digest itself
    assert wrong.status_code == 401

    plain = write_config(tmp_path, "sqlite:///unused.db", "api:\n  tokens: [hunter2]\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(plain, {})
    message = str(refused.value)
    assert "api.tokens[0] is not a token digest" in message
    assert "pathwarden token hash" in message and "hunter2" not in message
    bad_read = write_config(tmp_path, "sqlite:///unused.db", "api:\n  read: sso\n")
    with pytest.raises(ConfigError, match=r"api\.read is 'sso'; use open or token"):
        load_settings(bad_read, {})


def test_token_commands_make_and_hash_tokens(capsys, monkeypatch):
    assert main(["token", "new"]) == 0
    out = capsys.readouterr().out.splitlines()
    token, digest = out[0].removeprefix("token: "), out[1].removeprefix("hash:  ")
    assert token.startswith("pwt_") and len(token) > 40
    assert digest == "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{token}\n"))
    assert main(["token", "hash"]) == 0
    assert capsys.readouterr().out == f"{digest}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["token", "hash"]) == 2
    assert "no token on stdin" in capsys.readouterr().err


def test_reads_can_require_a_token(tmp_path, estate):
    _, store = estate
    cfg = write_config(tmp_path, "sqlite:///unused.db", "api:\n  read: token\n")
    client = TestClient(create_api(context(load_settings(
        cfg, {"PATHWARDEN_API_TOKEN": TOKEN}), store)))
    for path in ("/api/v1/services", f"/api/v1/services/{WEB}", "/api/v1/findings",
                 "/api/v1/scorecards", "/api/v1/scans", "/api/v1/policies",
                 "/api/v1/delivery?repository=x"):
        refused = client.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"] == "a valid bearer token is required"
        assert client.get(path, headers=AUTH).status_code == 200, path
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    without = TestClient(create_api(context(load_settings(cfg, {}), store)))
    closed = without.get("/api/v1/services", headers=AUTH)
    assert closed.status_code == 403 and "no API token is configured" in closed.json()["error"]


def test_writes_need_a_valid_token(client):
    run = {"repository": "acme/shop-web", "finished_at": "2026-11-20T10:00:00Z",
           "result": "success"}
    assert client.post("/api/v1/pipeline-runs", json=run).status_code == 401
    wrong = client.post("/api/v1/pipeline-runs", json=run,
                        headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert wrong.json() == {"error": "a valid bearer token is required", "detail": None}
    basic = client.post("/api/v1/pipeline-runs", json=run,
                        headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    assert client.post("/api/v1/scans").status_code == 401
    assert client.post("/api/v1/pipeline-runs", json=run, headers=AUTH).status_code == 201
    assert client.get("/api/v1/services").status_code == 200  # reads are open by default


def test_without_a_configured_token_writes_are_refused(database_url):
    with Store.open(database_url) as store:
        ctx = AppContext(store, Settings(api=ApiSettings(tokens=())), {}, load_scorecards([]))
        answer = TestClient(create_api(ctx)).post("/api/v1/scans", headers=AUTH)
        assert answer.status_code == 403
        assert answer.json()["error"] == ("write endpoints are disabled: no API token is "
                                          "configured (api.tokens or PATHWARDEN_API_TOKEN)")


# --- writes --------------------------------------------------------------------------------

def test_pipeline_runs_give_delivery_metrics(client):
    now = datetime.now(UTC)
    runs = []
    for day in range(10):  # ten deployments, two of them failed, 4 h lead time each
        finished = now - timedelta(days=day, hours=1)
        runs.append({"repository": "acme/shop-web", "pipeline": "deploy.yml",
                     "commit_sha": f"{day:040x}",
                     "commit_time": (finished - timedelta(hours=4)).isoformat(),
                     "finished_at": finished.isoformat(),
                     "result": "failure" if day in (3, 7) else "success",
                     "deployment": True, "environment": "production"})
    runs.append({"repository": "acme/shop-web", "finished_at": now.isoformat(),
                 "result": "success"})  # a CI run, not a deployment
    assert client.post("/api/v1/pipeline-runs", json=runs, headers=AUTH).json() == {
        "stored": 11}
    metrics = client.get("/api/v1/delivery", params={"repository": "acme/shop-web"}).json()
    assert metrics["deployments"] == 10
    assert metrics["change_failure_rate"] == 0.2
    assert metrics["lead_time_hours_median"] == 4.0
    assert metrics["deployment_frequency_per_day"] == round(8 / 30, 3)
    other = client.get("/api/v1/delivery", params={"repository": "acme/other"}).json()
    assert other["deployments"] == 0 and other["change_failure_rate"] is None


def test_bad_runs_are_rejected_with_the_reason(client):
    bad = client.post("/api/v1/pipeline-runs", headers=AUTH, json={
        "repository": "acme/x", "finished_at": "2026-11-20T10:00:00", "result": "success"})
    assert bad.status_code == 422
    assert bad.json() == {"error": "finished_at needs a time zone (e.g. 2026-11-24T10:00:00Z)",
                          "detail": None}
    bad = client.post("/api/v1/pipeline-runs", headers=AUTH, json={
        "repository": "acme/x", "finished_at": "2026-11-20T10:00:00Z", "result": "green"})
    assert bad.status_code == 422 and "result" in bad.json()["error"]


def test_a_scan_can_be_started_now_and_a_second_is_refused_while_it_runs(server):
    client, store, _ = server
    started = client.post("/api/v1/scans", headers=AUTH)
    assert started.status_code == 202
    scan_id = started.json()["scan_id"]
    wait_for(lambda: store.scans()[0].status != "running", "the scan to end")
    scans = client.get("/api/v1/scans").json()["items"]
    assert scans[0]["id"] == scan_id and scans[0]["status"] == "succeeded"
    assert scans[0]["trigger"] == "api" and len(scans) == 2
    findings = client.get("/api/v1/findings", params={"status": "fail"}).json()["items"]
    assert findings and all(f["scan_id"] == scan_id for f in findings)

    running = store.start_scan("all")
    busy = client.post("/api/v1/scans", headers=AUTH)
    assert busy.status_code == 409 and f"scan {running}" in busy.json()["error"]


def test_the_schedule_is_cron_in_the_configured_time_zone(server, caplog):
    client, store, scanner = server
    scanner.schedule()
    next_run = datetime.fromisoformat(client.get("/api/v1/schedule").json()["next_run"])
    assert (next_run.hour, next_run.minute) == (2, 30)
    assert next_run.utcoffset() in (timedelta(hours=1), timedelta(hours=2))  # Berlin
    running = store.start_scan("all")
    with caplog.at_level(logging.INFO, logger="pathwarden.scan"):
        scanner.run_scheduled()  # another replica's scan is running: skip, do not fail
    assert f"scheduled scan skipped: scan {running}" in caplog.text
