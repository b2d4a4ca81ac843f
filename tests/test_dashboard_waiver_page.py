"""One waiver's page (`/waivers/{id}`) in a real browser, with the clock fixed.

The estate of tests/governance_support.py is served on 127.0.0.1 with its clock at NOW.
Chromium follows the links a lead would (waivers list → waiver → service → back), and
reads the waiver's facts, the findings and services it excuses now, and its audit trail:
a file waiver's creation, an edit to its file shown as a diff of the spec fields, an API
request approved with a comment, a file waiver taken away. The trail is read fresh on
every request while what the waiver excuses is computed once per data version. No
request may leave 127.0.0.1 and no page may log a console error.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pathwarden.engine.governance import load_governance
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.dashboard import dashboard_router
from pathwarden.scorecards.dashboard import waiver as waiver_pages
from playwright.sync_api import Browser, Page, expect

from .browser_support import SHOTS, local_page, served_in_browser
from .governance_support import NOW, governed_context, seed


def app_for(ctx: AppContext) -> FastAPI:
    app = FastAPI()
    app.include_router(dashboard_router(ctx, clock=lambda: NOW))
    return app


@contextlib.contextmanager
def tab(browser: Browser) -> Iterator[Page]:
    """A fresh page; afterwards every request must have stayed on 127.0.0.1 and the
    console must hold no error."""
    with local_page(browser) as (_, page):
        yield page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    """Each test its own estate: some change waivers, files and the trail."""
    context = governed_context(tmp_path)
    yield context
    context.store.close()


def edit_waivers(ctx: AppContext, old: str, new: str, *, hours: int) -> None:
    """Edit the waiver file and let a load (as a scan does) record it in the trail."""
    path = ctx.settings.governance.dirs[0] / "waivers.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    _, problems = load_governance(ctx.settings, NOW + timedelta(hours=hours), store=ctx.store,
                                  sync=True)
    assert problems == []
    assert ctx.refresh_governance(NOW) == []


# --- in the browser ---------------------------------------------------------------------

def test_a_file_waiver_shows_its_facts_what_it_excuses_and_its_trail(ctx: AppContext):
    with served_in_browser(app_for(ctx)) as (base, browser), tab(browser) as page:
        page.goto(base + "/waivers?team=team-payments")
        page.locator("#expiring tr[data-waiver='w-ledger-tag'] a.waiver-link").click()
        page.wait_for_url(re.compile(r"/waivers/w-ledger-tag\?team=team-payments$"))
        expect(page.locator("h1")).to_contain_text("w-ledger-tag")
        expect(page.locator("h1 .badge")).to_have_text("expiring")
        expect(page.locator(".topbar nav a[aria-current]")).to_have_text("Waivers")
        expect(page.locator("#reason")).to_have_text(
            "The vendor publishes only :latest until their 4.0 release.")
        expect(page.locator("#status-now")).to_contain_text("active, expiring soon")
        expect(page.locator("#policies a")).to_have_attribute(
            "href", "/policies/golden-image-tag?team=team-payments")
        expect(page.locator("#covers")).to_have_text(
            "services: component:default/pay-ledger")
        expect(page.locator("#requested-by")).to_contain_text("pat@acme.example")
        expect(page.locator("#requested-by")).to_contain_text("on 2026-10-20")  # Berlin day
        expect(page.locator("#approved-by")).to_have_text("security@acme.example")
        expect(page.locator("#expires")).to_contain_text("last day 2026-11-25")
        expect(page.locator("#expires .days-left")).to_have_text("5 days left")
        expect(page.locator("#source")).to_have_text(re.compile(r"file .*waivers\.yaml:\d+$"))
        expect(page.locator("#excuses")).to_have_text("2 findings in 1 service")

        services = page.locator("#services tbody tr")
        expect(services).to_have_count(1)
        expect(services.first.locator("td")).to_have_text(
            ["pay-ledger", "team-payments", "golden-image-tag", "2"])
        findings = page.locator("#findings tbody tr")
        expect(findings).to_have_count(2)
        expect(findings.nth(0)).to_contain_text("Deployment payments/ledger")
        expect(findings.nth(1)).to_contain_text("golden-image-tag fails on ledger-worker")

        trail = page.locator("#trail tr.event")
        expect(trail).to_have_count(1)
        expect(trail.first).to_have_attribute("data-action", "created")
        expect(trail.first.locator("time")).to_have_text("2026-11-12 09:00:00 UTC")
        expect(trail.first.locator(".actor")).to_have_text(re.compile(r"^file .*waivers\.yaml"))
        expect(trail.first.locator(".detail")).to_contain_text("expires: 2026-11-25")
        shot(page, "waiver")

        services.first.locator("a", has_text="pay-ledger").click()
        page.wait_for_url(re.compile(r"/services/component:default/pay-ledger\?"))
        panel = page.locator("#waivers tr[data-waiver='w-ledger-tag']")
        panel.locator("a.waiver-link").click()
        page.wait_for_url(re.compile(r"/waivers/w-ledger-tag\?team=team-payments$"))
        page.goto(base + "/services/component:default/pay-ledger")
        message_link = page.locator("#sc-deploy tr[data-rule='golden-image-tag'] a.waiver-link")
        expect(message_link.first).to_have_attribute("href", "/waivers/w-ledger-tag")


def test_the_trail_shows_edits_as_a_diff_decisions_with_comments_and_stays_fresh(
        ctx: AppContext):
    with served_in_browser(app_for(ctx)) as (base, browser), tab(browser) as page:
        page.goto(base + "/waivers?show=requested")
        page.locator("#requested a.waiver-link", has_text="w-web-tag").click()
        page.wait_for_url(base + "/waivers/w-web-tag")
        expect(page.locator("h1 .badge")).to_have_text("requested")
        expect(page.locator("#source")).to_have_text("API request")
        expect(page.locator("#approved-by")).to_have_text("nobody yet")
        expect(page.locator("#trail tr.event")).to_have_count(1)
        expect(page.locator("#trail tr.event .detail")).to_contain_text(
            "reason: Canary image during the migration.")

        # An approval through the API lands in the store; no scan, no new data version.
        ctx.store.decide_waiver("w-web-tag", "approve", actor="platform-leads",
                                now=NOW + timedelta(hours=2),
                                comment="Until the move is done.")
        page.reload()
        expect(page.locator("h1 .badge")).to_have_text("active")
        expect(page.locator("#approved-by")).to_contain_text("platform-leads")
        events = page.locator("#trail tr.event")
        expect(events).to_have_count(2)
        expect(events.nth(1).locator("td")).to_have_text(
            ["2026-11-20 11:00:00 UTC", "platform-leads", "approved",
             "Until the move is done."])
        expect(events.nth(1).locator("blockquote.comment")).to_have_count(1)
        expect(page.locator("#excuses")).to_have_text("nothing: unused")
        shot(page, "waiver-api")

        edit_waivers(ctx, "  objects: [Deployment/shop/cart]\n",
                     "  objects: [Deployment/shop/cart, Deployment/shop/cart-worker]\n",
                     hours=3)
        edit_waivers(ctx, "expires: 2027-01-19", "expires: 2027-01-26", hours=4)
        page.goto(base + "/waivers/w-cart-probes")
        expect(page.locator("#expires")).to_contain_text("last day 2027-01-26")
        changed = page.locator("#trail tr.event[data-action='changed']")
        expect(changed).to_have_count(2)
        expect(changed.nth(0).locator("li[data-field='objects']")).to_have_text(
            "objects: + Deployment/shop/cart-worker")
        expect(changed.nth(0).locator("ins")).to_have_text("+ Deployment/shop/cart-worker")
        expect(changed.nth(1).locator("li[data-field='expires']")).to_have_text(
            "expires: 2027-01-19 → 2027-01-26")
        expect(changed.nth(1).locator("del")).to_have_text("2027-01-19")
        expect(changed.nth(1).locator("li")).to_have_count(1)  # only what changed
        expect(changed.nth(1).locator(".actor")).to_have_text(
            re.compile(r"^file .*waivers\.yaml:\d+$"))
        shot(page, "waiver-changed")


def test_a_waiver_taken_out_of_its_file_stays_readable_as_removed(ctx: AppContext):
    with served_in_browser(app_for(ctx)) as (base, browser), tab(browser) as page:
        start = ctx.settings.governance.dirs[0] / "waivers.yaml"
        text = start.read_text(encoding="utf-8")
        edit_waivers(ctx, text[text.index("---\napiVersion: pathwarden.dev/v1\nkind: Waiver\n"
                                          "metadata: {name: w-old}"):], "", hours=1)
        page.goto(base + "/waivers/w-old")
        expect(page.locator("h1 .badge")).to_have_text("removed")
        expect(page.locator("#status-now")).to_contain_text("no file holds it any more")
        events = page.locator("#trail tr.event")
        expect(events).to_have_count(2)
        expect(events.nth(1)).to_have_attribute("data-action", "removed")
        expect(events.nth(1).locator(".detail")).to_have_text("no file holds it any more")


# --- plain HTTP ---------------------------------------------------------------------------

def test_an_unknown_waiver_is_a_404_page(ctx: AppContext):
    answer = TestClient(app_for(ctx)).get("/waivers/no-such-waiver")
    assert answer.status_code == 404
    assert "No waiver file or API request has the id “no-such-waiver”" in answer.text


def test_what_a_waiver_excuses_is_read_once_per_data_version_and_its_trail_every_time(
        ctx: AppContext, monkeypatch: pytest.MonkeyPatch):
    calls: list[str] = []
    original = waiver_pages.excused_by

    def counted(store, waiver_id, limit):
        calls.append(waiver_id)
        return original(store, waiver_id, limit)

    monkeypatch.setattr(waiver_pages, "excused_by", counted)
    client = TestClient(app_for(ctx))
    first = client.get("/waivers/w-cart-probes")
    assert first.status_code == 200 and first.text.count('class="event"') == 1
    ctx.store.sync_file_waivers([], NOW + timedelta(hours=1))  # a trail event, same data
    second = client.get("/waivers/w-cart-probes")
    assert second.text.count('class="event"') == 2 and "removed from its file" in second.text
    assert calls == ["w-cart-probes"]
    seed(ctx.settings, ctx.store, request=False)  # new scans: a new data version
    assert client.get("/waivers/w-cart-probes").status_code == 200
    assert calls == ["w-cart-probes", "w-cart-probes"]


def test_every_waiver_on_the_waivers_page_links_to_its_page(ctx: AppContext):
    text = TestClient(app_for(ctx)).get("/waivers").text
    for waiver_id in ("w-cart-probes", "w-api-probes", "w-ledger-tag", "w-etl-replicas",
                      "w-web-tag"):
        assert f'href="/waivers/{waiver_id}" class="waiver-link"' in text
