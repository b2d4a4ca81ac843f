"""The dashboard's campaign and waiver pages in a real browser, with the clock fixed.

A real uvicorn server on 127.0.0.1 serves the estate of tests/governance_support.py (three
days of scans governed by waiver and campaign files, one API waiver request) with its
clock at NOW; headless Chromium reads the pages as a lead would: campaigns with their
phase, days left and progress, one campaign's teams, failing services, trend and
schedule, the waiver lists and their filters in the address, and waived rules apart from
passing and failing ones on the overview, team and service pages. No request may leave
127.0.0.1 and no page may log a console error. Plain HTTP covers 404s, empty stores, the
clock at a phase boundary and the cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pathwarden.engine.settings import load_settings
from pathwarden.engine.store import Store
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.dashboard import campaigns as campaign_pages
from pathwarden.scorecards.dashboard import dashboard_router
from pathwarden.scorecards.definitions import ScorecardSet
from playwright.sync_api import Browser, Page, expect

from .browser_support import SHOTS, served_in_browser
from .governance_support import CARD, NOW, POLICIES, governed_context, seed

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Served:
    ctx: AppContext
    base: str
    browser: Browser


def app_for(ctx: AppContext, now: datetime = NOW) -> FastAPI:
    app = FastAPI()
    app.include_router(dashboard_router(ctx, clock=lambda: now))
    return app


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    context = governed_context(tmp_path_factory.mktemp("dashboard-governance"))
    yield context
    context.store.close()


@pytest.fixture(scope="module")
def served(ctx: AppContext) -> Iterator[Served]:
    with served_in_browser(app_for(ctx)) as (base, browser):
        yield Served(ctx, base, browser)


@pytest.fixture
def page(served: Served) -> Iterator[Page]:
    """A fresh page; afterwards every request must have stayed on 127.0.0.1 and the
    console must hold no error (a missing asset or a script error shows there)."""
    context = served.browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    tab.on("request", lambda request: requests.append(request.url))
    tab.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    yield tab
    context.close()
    assert requests, "the test loaded no page"
    assert [u for u in requests if urlparse(u).hostname != "127.0.0.1"] == []
    assert problems == []


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# --- in the browser ---------------------------------------------------------------------

def test_campaigns_page_shows_phase_days_left_and_progress(page: Page, served: Served):
    page.goto(served.base + "/")
    page.locator(".topbar nav a", has_text="Campaigns").click()
    page.wait_for_url(served.base + "/campaigns")
    expect(page.locator("h1")).to_have_text("Campaigns")
    expect(page.locator(".topbar nav a[aria-current]")).to_have_text("Campaigns")
    cards = page.locator("article.campaign")
    expect(cards).to_have_count(2)
    probes = page.locator("#campaign-probes-everywhere")
    expect(probes).to_have_attribute("data-state", "running")
    expect(probes.locator(".phase-line")).to_contain_text("now warn")
    expect(probes.locator(".phase-line")).to_contain_text("deny from 2026-12-15")
    expect(probes.locator(".days-left")).to_have_text("25 days left")
    expect(probes.locator(".status-legend")).to_have_text(
        re.compile(r"compliant\s+2\s+waived\s+1\s+failing\s+1\s+no-data\s+0"))
    expect(probes.locator(".share")).to_have_text("75%")
    expect(probes.locator("svg.chart rect title").first).to_have_text("compliant: 2 (50%)")
    pinned = page.locator("#campaign-pinned-images")
    expect(pinned).to_have_attribute("data-state", "scheduled")
    expect(pinned.locator(".phase-line")).to_contain_text("starts 2026-12-01 with audit")
    expect(pinned.locator(".days-left")).to_have_text("56 days left")
    shot(page, "campaigns")


def test_a_campaign_page_shows_teams_failing_services_trend_and_schedule(page: Page,
                                                                       served: Served):
    page.goto(served.base + "/campaigns?lifecycle=production")
    page.locator("#campaign-probes-everywhere h2 a").click()
    page.wait_for_url(re.compile(r"/campaigns/probes-everywhere\?lifecycle=production$"))
    expect(page.locator("h1")).to_have_text("Probes everywhere")
    expect(page.locator("#phase-now")).to_have_text("warn since 2026-11-15")
    expect(page.locator("#phase-next")).to_have_text("deny from 2026-12-15")
    expect(page.locator("#deadline")).to_contain_text("2026-12-15 · 25 days left")
    teams = page.locator("#teams tbody tr")
    expect(teams).to_have_count(2)
    expect(teams.first).to_have_attribute("data-team", "team-payments")  # most failing first
    expect(teams.first.locator("td")).to_have_text(["team-payments", "1", "0", "1", "0", "50%"])
    expect(page.locator("#waived")).to_contain_text("shop-cart")
    schedule = page.locator("#schedule")
    expect(schedule.locator("ol.phases li.current")).to_contain_text("warn from 2026-11-15")
    expect(schedule.locator("svg.chart line.today title")).to_have_text("today 2026-11-20")
    trend = page.locator("#trend svg.chart rect title")
    expect(trend).to_have_count(8)  # three days, eight non-zero status counts
    expect(trend.first).to_have_text("2026-11-12: waived 2")
    expect(page.locator("#trend table")).to_contain_text("2026-11-16")
    shot(page, "campaign")

    failing = page.locator("#failing tbody tr")
    expect(failing).to_have_count(1)
    expect(page.locator("#failing")).to_contain_text("admission denies them from 2026-12-15")
    failing.locator("a", has_text="pay-api").click()
    page.wait_for_url(re.compile(r"/services/component:default/pay-api\?lifecycle=production$"))
    expect(page.locator("h1")).to_have_text("Pay Api")


def test_the_campaign_filter_lives_in_the_url(page: Page, served: Served):
    page.goto(served.base + "/campaigns")
    page.locator("select[name=lifecycle]").select_option("experimental")
    page.wait_for_url(re.compile(r"lifecycle=experimental"))
    assert query(page) == {"lifecycle": ["experimental"]}
    expect(page.locator("#campaign-probes-everywhere")).to_contain_text(
        "No service matching these filters is in this campaign's scope")
    expect(page.locator("#campaign-pinned-images .status-legend")).to_have_text(
        re.compile(r"compliant\s+0\s+waived\s+0\s+failing\s+1"))
    href = page.locator("#campaign-pinned-images h2 a").get_attribute("href")
    assert href == "/campaigns/pinned-images?lifecycle=experimental"


def test_the_waivers_page_lists_what_needs_attention_and_keeps_choices_in_the_url(
        page: Page, served: Served):
    page.goto(served.base + "/")
    page.locator(".topbar nav a", has_text="Waivers").click()
    page.wait_for_url(served.base + "/waivers")
    tabs = {key: page.locator(f".tabs a[data-list='{key}'] .count") for key in
            ("requested", "expiring", "active", "unused", "expired")}
    for key, count in (("requested", "1"), ("expiring", "1"), ("active", "3"),
                       ("unused", "1"), ("expired", "1")):
        expect(tabs[key]).to_have_text(count)
    expiring = page.locator("#expiring tr.waiver")
    expect(expiring).to_have_count(1)
    expect(expiring.first).to_have_attribute("data-waiver", "w-ledger-tag")
    expect(expiring.first.locator(".days-left")).to_have_text("5 days left")
    expect(expiring.first.locator(".findings")).to_have_text("2")
    expect(page.locator("#unused tr.waiver")).to_have_attribute("data-waiver", "w-etl-replicas")
    expect(page.locator("#requested")).to_contain_text("sam@acme.example")
    expired = page.locator("#expired tr.waiver")
    expect(expired).to_have_count(1)  # w-old expired 50 days ago: outside 30 days
    expect(expired.first.locator(".days-left")).to_have_text("3 days ago")
    expect(page.locator("#active tr.waiver")).to_have_count(3)
    by_team = page.locator("#by-team tbody tr")
    expect(by_team.first.locator("td")).to_have_text(["team-payments", "1", "2", "1"])
    expect(page.locator("#waived-rules tbody tr")).to_have_count(2)
    shot(page, "waivers")

    page.locator(".window a", has_text="90 days").click()
    page.wait_for_url(re.compile(r"days=90"))
    expect(page.locator("#expired tr.waiver")).to_have_count(2)
    expect(page.locator("#expired")).to_contain_text("w-old")

    page.locator(".tabs a[data-list='expiring']").click()
    page.wait_for_url(re.compile(r"show=expiring"))
    assert query(page) == {"days": ["90"], "show": ["expiring"]}
    expect(page.locator("section#active")).to_have_count(0)
    expect(page.locator("#expiring tr.waiver")).to_have_count(1)

    page.locator("select[name=team]").select_option("team-shop")
    page.wait_for_url(re.compile(r"team=team-shop"))
    assert query(page) == {"team": ["team-shop"], "days": ["90"], "show": ["expiring"]}
    expect(page.locator("#expiring")).to_contain_text("None.")
    expect(page.locator(".tabs a[data-list='active'] .count")).to_have_text("1")

    page.locator("select[name=policy]").select_option("golden-probes")
    page.wait_for_url(re.compile(r"policy=golden-probes"))
    page.locator(".tabs a", has_text="All").click()
    page.wait_for_url(re.compile(r"/waivers\?"))
    assert query(page) == {"team": ["team-shop"], "days": ["90"], "policy": ["golden-probes"]}
    expect(page.locator("#active tr.waiver")).to_have_count(1)
    expect(page.locator("#active tr.waiver")).to_have_attribute("data-waiver", "w-cart-probes")
    shot(page, "waivers-filtered")
    page.locator("a.clear").click()
    page.wait_for_url(re.compile(r"/waivers\?days=90$"))


def test_waived_rules_show_apart_on_the_overview_team_and_service_pages(page: Page,
                                                                        served: Served):
    page.goto(served.base + "/")
    rows = {name: page.locator("#teams tbody tr", has_text=name)
            for name in ("team-payments", "team-shop", "team-data")}
    expect(rows["team-payments"].locator(".waived-count")).to_have_text("~ 1")
    expect(rows["team-shop"].locator(".waived-count")).to_have_text("~ 1")
    expect(rows["team-data"].locator(".waived-count")).to_have_text("0")

    rows["team-payments"].locator("a", has_text="team-payments").click()
    page.wait_for_url(re.compile(r"/teams/team-payments$"))
    waived = page.locator("#waived tbody tr")
    expect(waived).to_have_count(1)
    expect(waived.first).to_contain_text("pay-ledger")
    expect(waived.first).to_contain_text("Pinned tags")
    expect(waived.first.locator(".badge")).to_have_text(re.compile(r"waived"))
    expect(page.locator("#blockers")).to_contain_text("Probes")  # failing, apart
    shot(page, "team-waived")

    waived.first.locator("a", has_text="pay-ledger").click()
    page.wait_for_url(re.compile(r"/services/component:default/pay-ledger$"))
    expect(page.locator("td.waived-count")).to_have_text("~ 1")
    rule = page.locator("#sc-deploy tr[data-rule='golden-image-tag']")
    expect(rule).to_have_attribute("data-status", "waived")
    expect(rule).to_contain_text("waiver w-ledger-tag")
    panel = page.locator("#waivers tr[data-waiver='w-ledger-tag']")
    expect(panel).to_have_attribute("data-status", "expiring")
    expect(panel).to_contain_text("5 days left")
    expect(panel.locator("td").last).to_have_text("2")
    expect(page.locator("#targets tr", has_text="ledger-worker")).to_contain_text(
        "golden-image-tag")
    shot(page, "service-waived")

    page.locator("#waivers a", has_text="All waivers").click()
    page.wait_for_url(served.base + "/waivers")
    expect(page.locator("h1")).to_have_text("Waivers")


# --- plain HTTP ---------------------------------------------------------------------------

def test_an_unknown_campaign_is_a_404_page(ctx: AppContext):
    answer = TestClient(app_for(ctx)).get("/campaigns/no-such-campaign")
    assert answer.status_code == 404
    assert "No campaign file has the id “no-such-campaign”" in answer.text


def test_at_the_deadline_in_the_campaigns_zone_the_pages_show_deny(ctx: AppContext):
    """00:00 on 15 Dec in Berlin is 23:00 UTC on the 14th: the deny phase has begun."""
    client = TestClient(app_for(ctx, datetime(2026, 12, 14, 23, 0, tzinfo=UTC)))
    text = client.get("/campaigns/probes-everywhere").text
    assert re.search(r'id="phase-now">\s*<span class="badge enf-deny">deny</span> since '
                     r"2026-12-15", text)
    assert "none: the last phase holds" in text and "<strong>today</strong>" in text
    waivers = client.get("/waivers?show=expired").text
    assert 'data-waiver="w-ledger-tag" data-status="expired"' in waivers
    before = TestClient(app_for(ctx, datetime(2026, 12, 14, 22, 59, tzinfo=UTC)))
    assert "1 day left" in before.get("/campaigns").text


def test_pages_say_so_when_there_are_no_campaigns_or_waivers(tmp_path: Path):
    (tmp_path / "pathwarden.yaml").write_text(
        f"store: {{url: 'sqlite:///{tmp_path / 'pw.db'}'}}\n", encoding="utf-8")
    settings = load_settings(tmp_path / "pathwarden.yaml", {})
    with Store.open(settings.store.url) as store:
        empty = AppContext(store=store, settings=settings, policies=POLICIES,
                           scorecards=ScorecardSet([CARD]))
        client = TestClient(app_for(empty))
        campaigns = client.get("/campaigns")
        waivers = client.get("/waivers?show=bogus&policy=")
    assert campaigns.status_code == waivers.status_code == 200
    assert "No campaign is defined" in campaigns.text
    assert "No waiver exists" in waivers.text and "Nothing is waived" in waivers.text


def test_campaign_numbers_are_computed_once_per_data_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    context = governed_context(tmp_path)
    calls: list[object] = []
    original = campaign_pages.campaign_inputs

    def counted(*args: object, **kwargs: object):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(campaign_pages, "campaign_inputs", counted)
    client = TestClient(app_for(context))
    try:
        for path in ("/campaigns", "/campaigns", "/campaigns/probes-everywhere",
                     "/campaigns?team=team-shop"):
            assert client.get(path).status_code == 200
        assert len(calls) == 1  # the filter narrows cached inputs; nothing is re-read
        seed(context.settings, context.store, request=False)  # a new data version
        assert "25 days left" in client.get("/campaigns").text
        assert len(calls) == 2
    finally:
        context.store.close()
