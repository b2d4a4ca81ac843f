"""`serve` re-reads waiver and campaign files and API waivers every 30 s (a deploy that
changes the governance ConfigMap, an approval made on another replica), on SQLite and
PostgreSQL. The refresher runs here with a short period; nothing asserts how fast."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pathwarden.scorecards.api import create_api
from pathwarden.scorecards.context import AppContext, GovernanceRefresher

from .test_api_waivers import Estate, auth, day
from .webhook_support import wait_for

CAMPAIGN = """
apiVersion: pathwarden.dev/v1
kind: Campaign
metadata: {{name: replicas-everywhere}}
spec:
  title: Two replicas everywhere
  owner: team-platform
  goal: Production services survive a node drain.
  policies: [golden-replicas]
  start: "{start}"
  deadline: "{deadline}"
"""


def campaigns(client: TestClient) -> set[str]:
    answer = client.get("/api/v1/campaigns", headers=auth("carol"))
    assert answer.status_code == 200, answer.text
    return {c["id"] for c in answer.json()["items"]}


def test_a_replica_sees_file_changes_and_other_replicas_approvals(tmp_path, database_url):
    estate = Estate(tmp_path, database_url)
    other = AppContext.load(estate.store, estate.settings, estate.policy_set)
    other_client = TestClient(create_api(other))
    refresher = GovernanceRefresher(other.refresh_governance, seconds=0.05).start()
    try:
        assert campaigns(other_client) == {"probes-everywhere"}
        (tmp_path / "governance" / "replicas.yaml").write_text(
            CAMPAIGN.format(start=day(-1), deadline=day(30)), encoding="utf-8")
        wait_for(lambda: campaigns(other_client) == {"probes-everywhere",
                                                     "replicas-everywhere"},
                 "the new campaign file")

        # Approved through the first replica's API: in force on the other one too.
        assert estate.request().status_code == 201
        assert estate.post("/waivers/cart-replicas/approve", "bob").status_code == 200
        wait_for(lambda: other.governance.waiver("cart-replicas") is not None,
                 "the approval made on the other replica")

        # A broken file is reported and the rest keeps applying.
        (tmp_path / "governance" / "replicas.yaml").write_text("kind: [", encoding="utf-8")
        wait_for(lambda: campaigns(other_client) == {"probes-everywhere"},
                 "the broken file to drop out")
        assert other.governance.waiver("payments-probes") is not None
    finally:
        refresher.stop()
        estate.store.close()


def test_a_failing_refresh_keeps_the_last_view(caplog):
    calls: list[int] = []

    def refresh() -> None:
        calls.append(1)
        raise ConnectionError("the store is down")

    refresher = GovernanceRefresher(refresh, seconds=0.01).start()
    try:
        wait_for(lambda: len(calls) >= 2, "a second try after the first failure")
    finally:
        refresher.stop()
    assert "re-reading waivers and campaigns failed; keeping the last" in caplog.text
