"""The REST API of `pathwarden serve`: token-protected writes, scans on demand, pipeline
runs and the delivery metrics computed from them, and the scan schedule."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pathwarden.engine import load_policies
from pathwarden.engine.scanner.schedule import Scanner
from pathwarden.engine.settings import ApiSettings, load_settings
from pathwarden.engine.store import Store
from pathwarden.scorecards.api import create_api

from .webhook_support import wait_for

ESTATE = Path(__file__).resolve().parents[1] / "examples" / "estate" / "manifests"
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def server(tmp_path, database_url):
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"store:\n  url: {database_url}\nscan:\n  manifests: [{ESTATE}]\n"
                   "  schedule: '30 2 * * *'\n  timezone: Europe/Berlin\n", encoding="utf-8")
    settings = load_settings(cfg, {"PATHWARDEN_API_TOKEN": TOKEN})
    store = Store.open(database_url)
    scanner = Scanner(settings, load_policies(), store)
    client = TestClient(create_api(store, scanner, settings.api))
    yield client, store, scanner
    scanner.shutdown()
    store.close()


def test_writes_need_a_valid_token(server):
    client, _, _ = server
    run = {"repository": "acme/shop-web", "finished_at": "2026-11-20T10:00:00Z",
           "result": "success"}
    assert client.post("/api/v1/pipeline-runs", json=run).status_code == 401
    wrong = client.post("/api/v1/pipeline-runs", json=run,
                        headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/v1/scans").status_code == 401
    assert client.post("/api/v1/pipeline-runs", json=run, headers=AUTH).status_code == 201


def test_without_a_configured_token_writes_are_refused(database_url):
    with Store.open(database_url) as store:
        client = TestClient(create_api(store, None, ApiSettings(tokens=())))
        answer = client.post("/api/v1/scans", headers=AUTH)
        assert answer.status_code == 403
        assert "no API token is configured" in answer.json()["detail"]


def test_pipeline_runs_give_delivery_metrics(server):
    client, _, _ = server
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


def test_bad_runs_are_rejected_with_the_reason(server):
    client, _, _ = server
    bad = client.post("/api/v1/pipeline-runs", headers=AUTH, json={
        "repository": "acme/x", "finished_at": "2026-11-20T10:00:00", "result": "success"})
    assert bad.status_code == 422 and "needs a time zone" in bad.json()["detail"]
    bad = client.post("/api/v1/pipeline-runs", headers=AUTH, json={
        "repository": "acme/x", "finished_at": "2026-11-20T10:00:00Z", "result": "green"})
    assert bad.status_code == 422


def test_a_scan_can_be_started_now_and_a_second_is_refused_while_it_runs(server):
    client, store, _ = server
    started = client.post("/api/v1/scans", headers=AUTH)
    assert started.status_code == 202
    scan_id = started.json()["scan_id"]
    wait_for(lambda: store.scans()[0].status != "running", "the scan to end")
    scans = client.get("/api/v1/scans").json()
    assert scans[0]["id"] == scan_id and scans[0]["status"] == "succeeded"
    assert scans[0]["trigger"] == "api"
    findings = client.get("/api/v1/findings", params={"status": "fail"}).json()
    assert findings and all(f["scan_id"] == scan_id for f in findings)
    assert {"target_id", "kind", "name"} <= set(findings[0]["target"])

    running = store.start_scan("all")
    busy = client.post("/api/v1/scans", headers=AUTH)
    assert busy.status_code == 409 and f"scan {running}" in busy.json()["detail"]


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
