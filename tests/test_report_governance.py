"""The nightly report's campaigns and waivers: what a lead reads about progressive
enforcement and exceptions, in every format, with the clock fixed.

The estate (tests/governance_support.py) is scanned on three days with waiver and
campaign files next to it; `now` is injected, so the phase, the days left and whether a
waiver expired are known exactly, including at the boundaries in the campaign's zone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from pathwarden.scorecards.report import (
    build_report,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    write_report,
)
from pathwarden.scorecards.views import ServiceFilter

from .governance_support import NOW, TODAY, days_ago, governed_context, ref


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory):
    context = governed_context(tmp_path_factory.mktemp("report-governance"))
    yield context
    context.store.close()


@pytest.fixture(scope="module")
def data(ctx) -> dict:
    return json.loads(render_json(build_report(ctx, today=TODAY, now=NOW)))


def ids(items: list[dict]) -> list[str]:
    return [w["id"] for w in items]


# --- the numbers ------------------------------------------------------------------------

def test_campaigns_show_phase_next_phase_days_left_counts_teams_and_trend(data):
    probes, pinned = data["campaigns"]
    assert (probes["id"], probes["state"], probes["days_left"]) == (
        "probes-everywhere", "running", 25)
    assert probes["phase"] == {"enforcement": "warn", "from": "2026-11-15"}
    assert probes["next_phase"] == {"enforcement": "deny", "from": "2026-12-15"}
    # production services only: web and ledger comply, the cart is waived, the api fails
    assert probes["counts"] == {"compliant": 2, "waived": 1, "failing": 1, "no-data": 0}
    assert probes["compliant_share"] == 0.75
    assert probes["teams"] == [
        {"team": "team-payments", "compliant": 1, "waived": 0, "failing": 1, "no-data": 0,
         "share": 0.5},
        {"team": "team-shop", "compliant": 1, "waived": 1, "failing": 0, "no-data": 0,
         "share": 1.0}]
    failing = [s["name"] for s in probes["services"] if s["status"] == "failing"]
    assert failing == ["pay-api"]
    # 8 days ago the api and the cart were waived, web and ledger failed
    assert probes["trend"] == [
        {"day": days_ago(8).isoformat(), "compliant": 0, "waived": 2, "failing": 2,
         "no-data": 0},
        {"day": days_ago(4).isoformat(), "compliant": 1, "waived": 2, "failing": 1,
         "no-data": 0},
        {"day": TODAY.isoformat(), "compliant": 2, "waived": 1, "failing": 1, "no-data": 0}]
    assert (pinned["state"], pinned["phase"], pinned["days_left"]) == ("scheduled", None, 56)
    assert pinned["next_phase"] == {"enforcement": "audit", "from": "2026-12-01"}
    assert pinned["counts"] == {"compliant": 3, "waived": 1, "failing": 1, "no-data": 0}
    assert pinned["trend"] == []  # the trend starts a week before the campaign


def test_waivers_are_listed_by_what_they_need_with_days_left_and_use(data):
    w = data["waivers"]
    assert (w["expiring_within_days"], w["expired_within_days"]) == (14, 30)
    assert w["counts"] == {"requested": 1, "active": 3, "expiring": 1, "unused": 1,
                           "expired": 1}
    assert ids(w["active"]) == ["w-ledger-tag", "w-etl-replicas", "w-cart-probes"]
    [ledger] = w["expiring"]
    assert {k: ledger[k] for k in ("id", "status", "last_day", "days_left", "findings",
                                   "services", "teams", "excused_policies")} == {
        "id": "w-ledger-tag", "status": "expiring", "last_day": "2026-11-25",
        "days_left": 5, "findings": 2, "services": [ref("pay-ledger")],
        "teams": ["team-payments"], "excused_policies": ["golden-image-tag"]}
    assert ledger["covers"] == {"services": [ref("pay-ledger")]}
    assert (ledger["source"], ledger["approved_by"]) == ("file", "security@acme.example")
    [unused] = w["unused"]
    assert (unused["id"], unused["findings"], unused["teams"]) == (
        "w-etl-replicas", 0, ["team-data"])
    [expired] = w["expired"]  # w-old expired 50 days ago: too long to list
    assert (expired["id"], expired["days_left"], expired["status"]) == ("w-api-probes", -3,
                                                                         "expired")
    [requested] = w["requested"]
    assert (requested["id"], requested["source"], requested["approved_by"]) == (
        "w-web-tag", "api", None)
    assert sorted(ids(w["all"])) == ["w-api-probes", "w-cart-probes", "w-etl-replicas",
                                     "w-ledger-tag", "w-old", "w-web-tag"]
    cart = next(x for x in w["active"] if x["id"] == "w-cart-probes")
    assert (cart["covers"], cart["services"]) == ({"objects": ["Deployment/shop/cart"]},
                                                  [ref("shop-cart")])


def test_waived_rules_are_counted_per_team_apart_from_passing_and_failing(data):
    w = data["waivers"]
    assert (w["waived_rule_count"], w["waived_finding_count"]) == (2, 3)
    assert w["by_team"] == [
        {"team": "team-payments", "waived_rules": 1, "waived_findings": 2,
         "active_waivers": 1},
        {"team": "team-shop", "waived_rules": 1, "waived_findings": 1, "active_waivers": 1},
        {"team": "team-data", "waived_rules": 0, "waived_findings": 0, "active_waivers": 1}]
    assert [(r["name"], r["rule"], r["waivers"]) for r in w["waived_rules"]] == [
        ("pay-ledger", "golden-image-tag", ["w-ledger-tag"]),
        ("shop-cart", "golden-probes", ["w-cart-probes"])]
    services = {s["name"]: s for s in data["services"]}
    cart = services["shop-cart"]
    assert (cart["waived_rules"], cart["failing_rules"]) == (["golden-probes"], [])
    assert services["pay-api"]["waived_rules"] == []
    teams = {t["team"]: t for t in data["teams"]}
    assert teams["team-payments"]["waived_rule_count"] == 1
    assert [r["rule"] for r in teams["team-payments"]["waived_rules"]] == ["golden-image-tag"]
    assert [r["rule"] for r in teams["team-payments"]["failing_rules"]] == ["golden-probes"]
    assert teams["team-data"]["waived_rules"] == []
    # the failing-rules ranking leaves waived rules out
    assert {(r["rule"], r["services"]) for r in data["failing_rules"]} == {
        ("golden-probes", 1), ("golden-image-tag", 1)}


@pytest.mark.parametrize(("now", "phase", "days_left", "ledger"), [
    # 23:59 UTC on 14 Dec is 00:59 on 15 Dec in Berlin: the deadline day, deny
    (datetime(2026, 12, 14, 22, 59, tzinfo=UTC), "warn", 1, "expired"),
    (datetime(2026, 12, 14, 23, 0, tzinfo=UTC), "deny", 0, "expired"),
    # the ledger waiver holds through 25 Nov, Berlin time
    (datetime(2026, 11, 25, 22, 59, tzinfo=UTC), "warn", 20, "expiring"),
    (datetime(2026, 11, 25, 23, 0, tzinfo=UTC), "warn", 19, "expired"),
])
def test_phase_days_left_and_expiry_follow_the_clock_in_the_configured_zone(
        ctx, now, phase, days_left, ledger):
    data = json.loads(render_json(build_report(ctx, today=TODAY, now=now)))
    probes = data["campaigns"][0]
    assert (probes["phase"]["enforcement"], probes["days_left"]) == (phase, days_left)
    states = {w["id"]: w["status"] for w in data["waivers"]["all"]}
    assert states["w-ledger-tag"] == ledger
    assert data["generated_at"].startswith(now.isoformat()[:16])


def test_a_filter_narrows_campaigns_and_waivers_to_its_services(ctx):
    data = json.loads(render_json(build_report(ctx, today=TODAY, now=NOW,
                                               filter=ServiceFilter(team="team-payments"))))
    probes, pinned = data["campaigns"]
    assert probes["counts"] == {"compliant": 1, "waived": 0, "failing": 1, "no-data": 0}
    assert [t["team"] for t in probes["teams"]] == ["team-payments"]
    assert pinned["counts"] == {"compliant": 1, "waived": 1, "failing": 0, "no-data": 0}
    assert [p["waived"] for p in probes["trend"]] == [1, 1, 0]  # only the api was waived
    waivers = data["waivers"]
    assert sorted(ids(waivers["all"])) == ["w-api-probes", "w-ledger-tag"]
    assert [t["team"] for t in waivers["by_team"]] == ["team-payments"]
    assert waivers["waived_finding_count"] == 2


# --- the formats ------------------------------------------------------------------------

def test_html_has_campaign_and_waiver_sections_a_lead_can_read(ctx):
    page = render_html(build_report(ctx, today=TODAY, now=NOW))
    doc = lxml.html.fromstring(page)
    assert [h.text_content() for h in doc.xpath("//h2")] == [
        "Summary", "Adoption of each golden path", "Trends", "Rules failing most often",
        "Biggest improvers and regressions", "Campaigns", "Waivers", "Unowned targets",
        "Teams"]
    assert doc.xpath("//nav//a[@href='#campaigns']") and doc.xpath("//nav//a[@href='#waivers']")
    assert not doc.xpath("//script | //link | //img | //iframe | //object")
    assert all(t.xpath("./caption") for t in doc.xpath("//table"))
    for svg in doc.xpath("//svg"):
        title_id, desc_id = svg.get("aria-labelledby").split()
        assert svg.xpath(f"./title[@id='{title_id}']") and svg.xpath(f"./desc[@id='{desc_id}']")
    campaigns = doc.xpath("//section[@id='campaigns']")[0]
    row = campaigns.xpath(".//tr[@data-campaign='probes-everywhere']")[0].text_content()
    for text in ("warn since 2026-11-15", "deny from 2026-12-15", "25 days left", "75%"):
        assert text in row
    desc = doc.xpath("//svg[@aria-labelledby='chart-campaigns-title "
                     "chart-campaigns-desc']/desc")[0].text_content()
    assert "Share of services per status" in desc and "Probes everywhere: compliant 50%" in desc
    trend = doc.xpath("//svg[@aria-labelledby='chart-campaign-probes-everywhere-title "
                      "chart-campaign-probes-everywhere-desc']")[0]
    assert len(trend.xpath(".//rect[title]")) == 8  # 3 days, 8 non-zero status counts
    probes = doc.xpath("//section[@id='campaign-probes-everywhere']")[0].text_content()
    assert "warn from 2026-11-15 (now)" in probes and "pay-api" in probes
    pinned = doc.xpath("//section[@id='campaign-pinned-images']")[0].text_content()
    assert "No daily results in its period yet" in pinned

    waivers = doc.xpath("//section[@id='waivers']")[0]
    expiring = waivers.xpath(".//table[@id='waivers-expiring']//tr[@data-waiver]")
    assert [r.get("data-waiver") for r in expiring] == ["w-ledger-tag"]
    assert "5 days left" in expiring[0].text_content()
    expired = waivers.xpath(".//table[@id='waivers-expired']")[0].text_content()
    assert "w-api-probes" in expired and "expired 3 days ago" in expired
    assert "w-old" not in waivers.text_content()
    assert "w-etl-replicas" in waivers.xpath(".//table[@id='waivers-unused']")[0].text_content()
    assert "w-web-tag" in waivers.xpath(".//table[@id='waivers-requested']")[0].text_content()
    by_team = [[c.text_content() for c in tr.xpath("./*")]
               for tr in waivers.xpath(".//table[@id='waived-by-team']/tbody/tr")]
    assert by_team[0] == ["team-payments", "1", "2", "1"]
    team = doc.xpath("//section[@id='team-team-payments']")[0].text_content()
    assert "1 waived rule" in team and "w-ledger-tag" in team


def test_markdown_carries_the_same_campaigns_and_waivers(ctx):
    text = render_markdown(build_report(ctx, today=TODAY, now=NOW))
    for heading in ("## Campaigns", "### Probes everywhere", "### Pinned images",
                    "## Waivers", "### Expiring within 14 days",
                    "### Expired in the last 30 days", "### Unused", "### Requested",
                    "### Active", "### Waived rules"):
        assert re.search(rf"^{re.escape(heading)}$", text, re.M), heading
    assert ("| Probes everywhere | warn since 2026-11-15 | deny from 2026-12-15 | "
            "2026-12-15 (25 days left) | 2 | 1 | 1 | 0 | 75% |") in text
    assert "| team-payments | 1 | 0 | 1 | 0 | 50% |" in text
    assert f"| {TODAY.isoformat()} | 2 | 1 | 1 | 0 |" in text
    assert "| team-payments | 1 | 2 | 1 |" in text
    assert "2026-11-25 (5 days left)" in text and "2026-11-17 (expired 3 days ago)" in text
    assert "| pay-ledger | team-payments | Deploy path | Pinned tags (bronze) | " \
           "`w-ledger-tag` |" in text
    for line in text.splitlines():
        if line.startswith("|"):
            assert line.endswith("|"), line


def test_csv_files_hold_campaign_counts_every_waiver_and_waived_rules(ctx, tmp_path: Path):
    report = build_report(ctx, today=TODAY, now=NOW)
    files = render_csv(report)
    campaigns = list(csv.DictReader(io.StringIO(files["campaigns.csv"])))
    overall = {(r["campaign"], r["status"]): r["services"] for r in campaigns
               if r["group_by"] == "all"}
    assert overall[("probes-everywhere", "failing")] == "1"
    assert overall[("pinned-images", "compliant")] == "3"
    api_team = [r for r in campaigns if r["campaign"] == "probes-everywhere"
                and r["group"] == "team-payments" and r["status"] == "failing"]
    assert [(r["phase"], r["next_phase"], r["next_phase_from"], r["days_left"])
            for r in api_team] == [("warn", "deny", "2026-12-15", "25")]
    waivers = {r["waiver"]: r for r in csv.DictReader(io.StringIO(files["waivers.csv"]))}
    assert set(waivers) == {"w-api-probes", "w-cart-probes", "w-etl-replicas",
                            "w-ledger-tag", "w-old", "w-web-tag"}
    assert (waivers["w-old"]["status"], waivers["w-old"]["days_left"]) == ("expired", "-50")
    assert (waivers["w-ledger-tag"]["findings"], waivers["w-ledger-tag"]["teams"]) == (
        "2", "team-payments")
    assert waivers["w-cart-probes"]["objects"] == "Deployment/shop/cart"
    services = {r["name"]: r for r in csv.DictReader(io.StringIO(files["services.csv"]))}
    assert services["shop-cart"]["waived_rules"] == "golden-probes"
    written = write_report(ctx, tmp_path, ["csv"], report=report)
    assert {p.name for p in written} >= {"campaigns.csv", "waivers.csv"}


def test_sqlite_and_postgresql_give_the_same_campaigns_and_waivers(tmp_path: Path,
                                                                    database_url: str):
    context = governed_context(tmp_path, database_url)
    try:
        data = json.loads(render_json(build_report(context, today=TODAY, now=NOW)))
    finally:
        context.store.close()
    probes = data["campaigns"][0]
    assert probes["counts"] == {"compliant": 2, "waived": 1, "failing": 1, "no-data": 0}
    assert [p["day"] for p in probes["trend"]] == [
        (TODAY - timedelta(days=n)).isoformat() for n in (8, 4, 0)]
    assert data["waivers"]["counts"] == {"requested": 1, "active": 3, "expiring": 1,
                                         "unused": 1, "expired": 1}
    assert data["waivers"]["waived_finding_count"] == 3
