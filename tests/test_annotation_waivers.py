"""Self-service waivers from workload annotations are recorded like file waivers: listed
by the API with their reason and expiry, used counts, an audit trail that follows the
annotation on and off the object, and no approval through the API. SQLite and
PostgreSQL; real scans of manifest files."""

from __future__ import annotations

import textwrap
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pathwarden.engine.cli.main import main
from pathwarden.engine.loading.configured import configured_policy_set
from pathwarden.engine.settings import ApiSettings, load_settings
from pathwarden.engine.store import Store
from pathwarden.scorecards.api import create_api
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.dashboard import dashboard_router

from .test_scanner_governance import day, setup

WAIVER = "annotation:Deployment:jobs:batch"


def batch(annotated: bool = True, reason: str = "queue worker without an HTTP endpoint",
          replicas: int = 1) -> str:
    annotations = f"""
          annotations:
            pathwarden.dev/waive: golden-probes
            pathwarden.dev/waive-reason: {reason}
            pathwarden.dev/waive-expires: "{day(20)}"
            pathwarden.dev/waive-requested-by: dana""" if annotated else ""
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: batch
          namespace: jobs{annotations}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: batch}}}}
          template:
            metadata: {{labels: {{app: batch}}}}
            spec:
              containers: [{{name: w, image: registry.acme.example/batch:1.0}}]
        """)


def scanned(tmp_path: Path, url: str) -> tuple[Path, Path]:
    """A configuration scanning one manifest directory, golden-probes open to annotations."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config, _ = setup(tmp_path, url, annotation_policies="[golden-probes]")
    estate = tmp_path / "estate"
    estate.mkdir()
    text = config.read_text(encoding="utf-8").replace(
        str(Path(__file__).resolve().parents[1] / "examples/estate/manifests"), str(estate))
    token = ApiSettings.digest("root-token")
    text += f"api:\n  tokens:\n    - {{digest: '{token}', name: root, roles: [admin]}}\n"
    config.write_text(text, encoding="utf-8")
    return config, estate


def test_annotation_waivers_are_recorded_listed_and_follow_the_object(tmp_path,
                                                                      database_url):
    config, estate = scanned(tmp_path, database_url)
    (estate / "batch.yaml").write_text(batch(), encoding="utf-8")
    main(["scan", "--config", str(config)])
    (estate / "batch.yaml").write_text(batch(reason="still no endpoint"), encoding="utf-8")
    main(["scan", "--config", str(config)])
    main(["scan", "--config", str(config)])  # unchanged: no event

    settings = load_settings(config, {})
    with Store.open(database_url) as store:
        ctx = AppContext.load(store, settings, configured_policy_set(settings))
        client = TestClient(create_api(ctx))
        listed = client.get(f"/api/v1/waivers/{WAIVER}").json()
        assert listed["source"] == "annotation" and listed["status"] == "active"
        assert listed["policies"] == ["golden-probes"]
        assert listed["objects"] == ["Deployment/jobs/batch"]
        assert listed["reason"] == "still no endpoint" and listed["requested_by"] == "dana"
        assert listed["expires"] == day(20) and listed["used"] == 1
        assert WAIVER in {w["id"] for w in client.get("/api/v1/waivers").json()["items"]}

        # The dashboard's waiver pages show it too (the pages' behaviour in a browser is
        # tested in test_dashboard_waiver_page.py).
        app = FastAPI()
        app.include_router(dashboard_router(ctx))
        pages = TestClient(app)
        listing = pages.get("/waivers")
        assert listing.status_code == 200 and WAIVER in listing.text
        page = pages.get(f"/waivers/{WAIVER}")
        assert page.status_code == 200 and "still no endpoint" in page.text

        history = client.get(f"/api/v1/waivers/{WAIVER}/history").json()["items"]
        assert [e["action"] for e in history] == ["created", "changed"]
        assert {e["actor"] for e in history} == {"annotation:Deployment/jobs/batch"}

        # Nobody approves or revokes it through the API: it lives on the object.
        refused = client.post(f"/api/v1/waivers/{WAIVER}/revoke",
                              headers={"Authorization": "Bearer root-token"})
        assert refused.status_code == 409
        assert "comes from the annotations of Deployment/jobs/batch" in \
            refused.json()["error"]

    # A scan that does not read the object (another directory) leaves it alone ...
    other, _ = scanned(tmp_path / "other", database_url)
    main(["scan", "--config", str(other)])
    with Store.open(database_url) as store:
        assert store.waiver_row(WAIVER).state == "approved"
    # ... and one that reads it without the annotation removes it.
    (estate / "batch.yaml").write_text(batch(annotated=False), encoding="utf-8")
    main(["scan", "--config", str(config)])
    with Store.open(database_url) as store:
        assert store.waiver_row(WAIVER).state == "removed"
        actions = [e.action for e in reversed(store.waiver_events(waiver_id=WAIVER))]
        assert actions == ["created", "changed", "removed"]


def test_the_store_refuses_to_decide_an_annotation_waiver(tmp_path, database_url):
    config, estate = scanned(tmp_path, database_url)
    (estate / "batch.yaml").write_text(batch(), encoding="utf-8")
    main(["scan", "--config", str(config)])
    from datetime import UTC, datetime

    from pathwarden.engine.store.governance import WaiverStateError

    with Store.open(database_url) as store:
        try:
            store.decide_waiver(WAIVER, "revoke", actor="bob", now=datetime.now(UTC))
        except WaiverStateError as exc:
            assert "comes from the annotations of Deployment/jobs/batch" in str(exc)
        else:
            raise AssertionError("an annotation waiver was revoked through the store")
        assert store.waiver_row(WAIVER).state == "approved"
