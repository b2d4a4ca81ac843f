"""The dashboard in a real browser: a real uvicorn server on 127.0.0.1 serves the pages over a
store filled by real scans of the example estate (as it is today, and as it was 4 and 8 days
ago), and headless Chromium reads them like a lead would: adoption, teams, regressions,
failing rules, a team's blockers, a service's rules with messages and fixes, a policy's
offenders and admission denials. No request may leave 127.0.0.1. Plain HTTP tests cover the
404 pages, the empty store and a store that cannot be read."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pathwarden.engine.cli.demo_cmd import manifests_as_of
from pathwarden.engine.errors import StoreError
from pathwarden.engine.loading.configured import configured_policy_set
from pathwarden.engine.scanner import run_scan
from pathwarden.engine.settings import load_settings
from pathwarden.engine.store import DecisionLogEntry, FindingDay, Store
from pathwarden.scorecards.compute import after_scan
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.dashboard import dashboard_router
from pathwarden.scorecards.dashboard.data import trend_counts
from pathwarden.scorecards.definitions import load_scorecards
from pathwarden.scorecards.views import (
    ServiceFilter,
    denials_per_day,
    failing_streaks,
    trend,
    trend_from_counts,
)
from playwright.sync_api import Browser, Page, expect

from .browser_support import SHOTS, served_in_browser

ROOT = Path(__file__).resolve().parents[1]
ESTATE = ROOT / "examples" / "estate"
TODAY = datetime.now(UTC).date()
EIGHT_DAYS_AGO = TODAY - timedelta(days=8)
FOUR_DAYS_AGO = TODAY - timedelta(days=4)
PAYMENTS_API = "component:default/payments-api"

# Eight days ago the payments ledger was on the golden path; four days ago it had regressed
# to today's state (privileged, host network, :latest), so its failures date from then.
GOOD_LEDGER = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "apps/v1", "kind": "StatefulSet",
     "metadata": {"name": "ledger", "namespace": "payments",
                  "labels": {"app.kubernetes.io/name": "ledger",
                             "backstage.io/kubernetes-id": "payments-api"}},
     "spec": {"replicas": 2, "serviceName": "ledger",
              "selector": {"matchLabels": {"app": "ledger"}},
              "template": {"metadata": {"labels": {"app": "ledger"}}, "spec": {
                  "automountServiceAccountToken": False,
                  "securityContext": {"runAsNonRoot": True,
                                      "seccompProfile": {"type": "RuntimeDefault"}},
                  "containers": [{
                      "name": "ledger", "image": "registry.acme.example/payments/ledger:3.1.0",
                      "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                    "limits": {"cpu": "1", "memory": "1Gi"}},
                      "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                      "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                      "securityContext": {"allowPrivilegeEscalation": False,
                                          "capabilities": {"drop": ["ALL"]}}}]}}}},
    {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
     "metadata": {"name": "ledger", "namespace": "payments"},
     "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "ledger"}}}},
]}


@dataclass
class Estate:
    ctx: AppContext
    base: str
    browser: Browser


def _config(work: Path) -> Path:
    config = {
        "store": {"url": f"sqlite:///{work / 'pathwarden.db'}"},
        "policies": {"parameters": {"golden-allowed-registries": {
            "registries": ["registry.acme.example/"]}}},
        "scan": {"catalog": [str(ESTATE / "catalog")], "manifests": [str(work / "manifests")]},
    }
    path = work / "pathwarden.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _decisions() -> list[DecisionLogEntry]:
    """Five denials on golden-image-tag in payments (three today, two two days ago), one
    warning there, and 25 quiet admissions in shop-prod (more than a service page lists)."""
    now = datetime.now(UTC)

    def entry(minutes: float, **kw: object) -> DecisionLogEntry:
        base = {"uid": str(uuid.uuid4()), "time": now - timedelta(minutes=minutes),
                "operation": "CREATE", "kind": "Pod", "user": "alice@acme.example",
                "allowed": True, "latency_ms": 1.5}
        return DecisionLogEntry(**{**base, **kw})

    denials = [entry(m, namespace="payments", name=f"ledger-{i}", allowed=False,
                     denied=["golden-image-tag"], reason="[golden-image-tag] container "
                     "\"ledger\" image \"docker.io/acme/ledger:latest\" uses the :latest tag")
               for i, m in enumerate((5, 10, 15, 2 * 1440, 2 * 1440 + 30))]
    warning = entry(20, namespace="payments", name="ledger-w", warned=["golden-probes"])
    quiet = [entry(30 + i, namespace="shop-prod", name=f"web-{i}") for i in range(25)]
    return [*denials, warning, *quiet]


def build_estate(work: Path) -> AppContext:
    """Scan the estate as of 8 and 4 days ago and today, each followed by its scorecards."""
    settings = load_settings(_config(work), {})
    policy_set = configured_policy_set(settings)
    history = yaml.safe_load((ESTATE / "history.yaml").read_text(encoding="utf-8"))
    store = Store.open(settings.store.url)
    states = [(EIGHT_DAYS_AGO, {"payments/api.json": json.dumps(GOOD_LEDGER)}),
              (FOUR_DAYS_AGO, {"shop/cart.yaml": history[3]["shop/cart.yaml"]}),
              (TODAY, {})]
    for day, changed in states:
        manifests_as_of(ESTATE, work / "manifests", changed)
        outcome = run_scan(settings, policy_set, store)
        assert outcome.status == "succeeded", outcome.errors
        after_scan(settings, store, policy_set.policies, scan_id=outcome.scan_id, day=day)
    store.add_decisions(_decisions())
    return AppContext(store=store, settings=settings,
                      policies={p.id: p for p in policy_set.policies},
                      scorecards=load_scorecards(settings.scorecards.dirs))


def app_for(ctx: AppContext) -> FastAPI:
    app = FastAPI()
    app.include_router(dashboard_router(ctx))
    return app


@pytest.fixture(scope="module")
def estate_ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    ctx = build_estate(tmp_path_factory.mktemp("dashboard"))
    yield ctx
    ctx.store.close()


@pytest.fixture(scope="module")
def estate(estate_ctx: AppContext) -> Iterator[Estate]:
    with served_in_browser(app_for(estate_ctx)) as (base, browser):
        yield Estate(estate_ctx, base, browser)


@pytest.fixture
def page(estate: Estate) -> Iterator[Page]:
    """A fresh page; after the test, every request it made must have stayed on 127.0.0.1."""
    context = estate.browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    requests: list[str] = []
    tab.on("request", lambda request: requests.append(request.url))
    yield tab
    context.close()
    assert requests, "the test loaded no page"
    outside = [u for u in requests if urlparse(u).hostname != "127.0.0.1"]
    assert outside == [], f"requests left 127.0.0.1: {outside}"


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# --- in the browser ---------------------------------------------------------------------

def test_the_overview_shows_adoption_trends_teams_regressions_and_failing_rules(
        page: Page, estate: Estate):
    response = page.goto(estate.base + "/")
    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text("Golden-path adoption")
    for title in ("Production readiness", "Repository hygiene", "Secure workloads",
                  "Supply chain & CI"):
        expect(page.locator(".card h2", has_text=title)).to_be_visible()
    secure = page.locator("#card-secure-workloads")
    expect(secure).to_contain_text("12 services")
    for level in ("gold", "silver", "bronze", "none"):
        expect(secure.locator("table.levels")).to_contain_text(level)
    # a trend chart per scorecard, drawn on the server, with three days of history
    expect(secure.locator("svg.chart")).to_have_count(2)
    assert secure.locator("svg.chart circle").count() >= 3
    # the stylesheet came from the router's /static/
    assert page.locator(".topbar").evaluate(
        "e => getComputedStyle(e).backgroundColor") == "rgb(15, 23, 42)"

    teams = page.locator("#teams tbody tr")
    expect(teams).to_have_count(4)
    expect(teams.first).to_contain_text("team-shop")
    regressions = page.locator("#regressions")
    expect(regressions).to_contain_text(f"compared with {EIGHT_DAYS_AGO.isoformat()}")
    expect(regressions.locator("tr.regression", has_text="payments-api").first).to_contain_text(
        "gold → none")
    failing = page.locator("#failing tbody tr")
    assert failing.count() == 10
    expect(page.locator("#failing")).to_contain_text("Liveness and readiness probes")
    shot(page, "overview")


def test_the_trend_window_is_chosen_in_the_url(page: Page, estate: Estate):
    page.goto(estate.base + "/")
    page.locator(".window a", has_text="7 days").first.click()
    page.wait_for_url(re.compile(r"days=7"))
    expect(page.locator("#card-secure-workloads")).to_contain_text("Trend, last 7 days")
    expect(page.locator(".window a.on")).to_have_text("7 days")
    shot(page, "overview-7-days")


def test_the_filter_form_narrows_the_overview_and_the_url_carries_it(page: Page,
                                                                     estate: Estate):
    page.goto(estate.base + "/")
    expect(page.locator("#teams tbody tr")).to_have_count(4)
    page.locator("select[name=team]").select_option("team-shop")  # submits on change
    page.wait_for_url(re.compile(r"team=team-shop"))
    assert query(page) == {"team": ["team-shop"]}  # empty choices stay out of the link
    expect(page.locator("#teams tbody tr")).to_have_count(1)
    expect(page.locator("#card-secure-workloads")).to_contain_text("4 services")
    expect(page.locator("#regressions")).not_to_contain_text("payments-api")
    expect(page.locator("select[name=team]")).to_have_value("team-shop")
    # links to other pages keep the filter
    href = page.locator("#failing a[href^='/services/']").first.get_attribute("href")
    assert href is not None and "team=team-shop" in href
    shot(page, "overview-filtered")

    page.locator("select[name=lifecycle]").select_option("experimental")
    page.wait_for_url(re.compile(r"lifecycle=experimental"))
    assert query(page) == {"team": ["team-shop"], "lifecycle": ["experimental"]}
    expect(page.locator("#card-secure-workloads")).to_contain_text("1 services")
    page.locator("a.clear").click()
    page.wait_for_url(estate.base + "/")
    expect(page.locator("#teams tbody tr")).to_have_count(4)


def test_a_lead_follows_links_from_overview_to_team_service_and_policy(page: Page,
                                                                      estate: Estate):
    page.goto(estate.base + "/?lifecycle=production")
    page.locator("#teams a", has_text="team-payments").click()
    page.wait_for_url(re.compile(r"/teams/team-payments\?lifecycle=production$"))
    expect(page.locator("h1")).to_have_text("Team team-payments")
    services = page.locator("table.services tbody tr")
    expect(services).to_have_count(3)
    api_row = services.filter(has_text="payments-api")
    cells = api_row.locator("td")
    expect(cells.nth(4)).to_have_text("none 50%")  # production readiness
    expect(cells.nth(5)).to_have_text("no rule applies")  # no repository was scanned
    blockers = page.locator("#blockers")
    expect(blockers).to_contain_text("Liveness and readiness probes")
    expect(blockers).to_contain_text(f"failing since {FOUR_DAYS_AGO.isoformat()}")
    shot(page, "team")

    api_row.locator("a", has_text="payments-api").click()
    page.wait_for_url(re.compile(r"/services/component:default/payments-api\?"
                                 r"lifecycle=production$"))
    expect(page.locator("h1")).to_have_text("Payments API and ledger")
    facts = page.locator(".facts")
    for fact in ("team-payments", "system:default/payments", "production", "acme/payments-api"):
        expect(facts).to_contain_text(fact)
    secure = page.locator("#sc-secure-workloads")
    baseline = secure.locator("tr[data-rule='pss-baseline']")
    expect(baseline).to_have_attribute("data-status", "fail")
    expect(baseline.locator(".badge")).to_have_text(re.compile(r"fail"))
    expect(baseline).to_contain_text('container "ledger" sets securityContext.privileged: true')
    expect(baseline).to_contain_text("Remove securityContext.privileged")
    expect(baseline).to_contain_text(f"since {FOUR_DAYS_AGO.isoformat()}")
    expect(baseline).to_contain_text("blocks bronze")
    hygiene = page.locator("#sc-repository-hygiene tr[data-rule='repo-readme']")
    expect(hygiene).to_have_attribute("data-status", "n/a")  # no repository was scanned
    expect(page.locator("#sc-production-readiness tr[data-rule='deploys-weekly']")
           ).to_contain_text("No data for delivery.deployment_frequency_per_day")
    shot(page, "service")

    page.locator("#sc-secure-workloads a", has_text="golden-image-tag").first.click()
    page.wait_for_url(re.compile(r"/policies/golden-image-tag\?lifecycle=production$"))
    expect(page.locator("h1")).to_have_text("Pinned image tags")
    expect(page.locator(".remediation")).to_contain_text("never :latest")
    expect(page.locator("#failing .filter-note")).to_contain_text("lifecycle production")
    expect(page.locator("#failing")).not_to_contain_text("data-etl")  # experimental
    offender = page.locator("#failing tr", has_text="payments-api")
    expect(offender).to_contain_text(FOUR_DAYS_AGO.isoformat())
    expect(offender).to_contain_text("docker.io/acme/ledger:latest")
    denials = page.locator("#denials")
    expect(denials.locator(".denial-total")).to_have_text("5")
    expect(denials.locator("svg.chart rect[fill='#dc2626']")).to_have_count(2)
    expect(denials.locator("tbody tr")).to_have_count(5)
    shot(page, "policy")
    page.locator("#failing .filter-note a", has_text="show all").click()
    page.wait_for_url(estate.base + "/policies/golden-image-tag")
    expect(page.locator("#failing tr", has_text="data-etl")).to_contain_text(
        EIGHT_DAYS_AGO.isoformat())


def test_the_service_page_lists_targets_history_and_recent_decisions(page: Page,
                                                                     estate: Estate):
    page.goto(estate.base + "/services/component:default/shop-cart")
    cart = page.locator("#sc-secure-workloads tr[data-rule='pss-baseline']")
    expect(cart).to_have_attribute("data-status", "pass")
    expect(cart).to_contain_text(f"fixed {TODAY.isoformat()}")
    history = page.locator("svg.chart").first
    assert history.locator("circle").count() >= 3 * 2  # three days, several scorecards
    expect(page.locator("#targets")).to_contain_text("Deployment shop-prod/cart")
    decisions = page.locator("#decisions tbody tr")
    expect(decisions).to_have_count(20)  # the last 20 of 25
    expect(page.locator("#decisions")).to_contain_text("shop-prod/web-0")
    shot(page, "service-shop-cart")

    page.goto(estate.base + "/services/component:default/payments-api")
    expect(page.locator("#decisions tbody tr", has_text="denied")).to_have_count(5)
    expect(page.locator("#decisions")).to_contain_text("golden-probes")


def test_unknown_pages_answer_404_with_a_clear_message_in_the_browser(page: Page,
                                                                      estate: Estate):
    response = page.goto(estate.base + "/teams/team-nobody")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("No team called “team-nobody”")
    expect(page.locator(".problem a")).to_have_text("Back to the overview")
    shot(page, "not-found")


# --- plain HTTP ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(estate_ctx: AppContext) -> TestClient:
    return TestClient(app_for(estate_ctx))


@pytest.mark.parametrize(("path", "message"), [
    ("/teams/team-nobody", "No service in the catalog is owned by “team-nobody”"),
    ("/services/component:default/nope", "The catalog has no service “component:default/nope”"),
    ("/policies/no-such-policy", "No loaded policy has the id “no-such-policy”"),
])
def test_unknown_team_service_or_policy_is_a_404_page(client: TestClient, path: str,
                                                      message: str):
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert message in answer.text


def test_a_bare_service_name_redirects_to_its_ref_and_keeps_the_query(client: TestClient):
    answer = client.get("/services/shop-web?tier=1", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/services/component:default/shop-web?tier=1"


def test_odd_query_values_fall_back_instead_of_failing(client: TestClient):
    answer = client.get("/?days=100000&team=")
    assert answer.status_code == 200
    assert "Trend, last 30 days" in answer.text


def test_static_files_are_served_and_nothing_else(client: TestClient):
    css = client.get("/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/..%2Fviews.py").status_code == 404
    assert client.get("/static/nope.css").status_code == 404


def test_pages_reference_no_other_host(client: TestClient):
    for path in ("/", "/teams/team-shop", f"/services/{PAYMENTS_API}",
                 "/policies/golden-image-tag"):
        text = client.get(path).text
        # links a lead may click (docs, repositories) may point elsewhere; nothing is loaded
        assert not re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(?:https?:)?//',
                              text), path


@pytest.fixture
def empty_ctx(tmp_path: Path) -> Iterator[AppContext]:
    settings = load_settings(_config(tmp_path), {})
    store = Store.open(settings.store.url)
    yield AppContext(store=store, settings=settings,
                     policies={p.id: p for p in configured_policy_set(settings).policies},
                     scorecards=load_scorecards([]))
    store.close()


@pytest.fixture
def empty_client(empty_ctx: AppContext) -> TestClient:
    return TestClient(app_for(empty_ctx))


def test_an_empty_store_renders_pages_that_say_to_run_a_scan(empty_client: TestClient):
    overview = empty_client.get("/")
    assert overview.status_code == 200
    assert "No scan yet: run `pathwarden scan`" in overview.text
    policy = empty_client.get("/policies/golden-image-tag")
    assert policy.status_code == 200
    assert "Pinned image tags" in policy.text and "No scan yet" in policy.text
    team = empty_client.get("/teams/team-shop")
    assert team.status_code == 404 and "No scan yet" in team.text
    assert empty_client.get("/services/component:default/shop-web").status_code == 404


def test_a_store_that_cannot_be_read_is_a_503_page_and_the_cause_goes_to_the_log(
        estate_ctx: AppContext, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture):
    def down(**_: object) -> None:
        raise StoreError("database sqlite:///x: cannot read scorecard results: disk I/O error")

    monkeypatch.setattr(estate_ctx.store, "scans", down)
    answer = TestClient(app_for(estate_ctx)).get("/")
    assert answer.status_code == 503
    assert "The store cannot be read" in answer.text and "server log" in answer.text
    assert "disk I/O error" not in answer.text
    assert "disk I/O error" in caplog.text


def test_the_scorecard_days_the_pages_rely_on_exist(estate_ctx: AppContext):
    days = sorted({r.day for r in estate_ctx.store.scorecard_results(since=date.min)})
    assert days == [EIGHT_DAYS_AGO, FOUR_DAYS_AGO, TODAY]
    before = {(r.scorecard, r.service): r
              for r in estate_ctx.store.scorecard_results(day=EIGHT_DAYS_AGO)}
    assert before["secure-workloads", PAYMENTS_API].level == "gold"


# --- the aggregations the policy page added to views ------------------------------------

def _day_row(day: date, service: str, **counts: int) -> FindingDay:
    return FindingDay(day=day, scope="all#0/1", service=service, policy_id="p", counts=counts)


def test_failing_streaks_start_where_the_last_unbroken_run_of_failing_days_starts():
    d = date(2026, 11, 1)
    rows = [_day_row(d, "a", fail=1), _day_row(d + timedelta(1), "a", passed=1),
            _day_row(d + timedelta(2), "a", fail=2), _day_row(d + timedelta(3), "a", error=1),
            _day_row(d, "b", fail=1), _day_row(d + timedelta(3), "b", fail=1),
            _day_row(d + timedelta(3), "c", fail=0)]
    assert failing_streaks(rows, "p") == {"a": d + timedelta(2), "b": d}
    assert failing_streaks(rows, "other") == {}


def test_denials_per_day_counts_only_denials_on_the_policy_and_fills_quiet_days():
    today = date(2026, 11, 24)
    at = datetime(2026, 11, 24, 9, tzinfo=UTC)

    def entry(when: datetime, allowed: bool, denied: list[str]) -> DecisionLogEntry:
        return DecisionLogEntry(uid="u", time=when, operation="CREATE", kind="Pod", user="x",
                                allowed=allowed, denied=denied, latency_ms=1.0)

    entries = [entry(at, False, ["p"]), entry(at, False, ["p", "q"]), entry(at, False, ["q"]),
               entry(at - timedelta(days=2), False, ["p"]), entry(at, True, []),
               entry(at - timedelta(days=9), False, ["p"])]
    assert denials_per_day(entries, "p", days=3, today=today) == [
        (date(2026, 11, 22), 1), (date(2026, 11, 23), 0), (date(2026, 11, 24), 2)]


def test_a_scan_after_the_server_started_shows_up_on_the_next_request(
        tmp_path: Path, empty_ctx: AppContext, empty_client: TestClient):
    assert "No scan yet" in empty_client.get("/").text  # cached until the data changes
    manifests_as_of(ESTATE, tmp_path / "manifests", {})
    policy_set = configured_policy_set(empty_ctx.settings)
    outcome = run_scan(empty_ctx.settings, policy_set, empty_ctx.store)
    after_scan(empty_ctx.settings, empty_ctx.store, policy_set.policies,
               scan_id=outcome.scan_id)
    page = empty_client.get("/").text
    assert "No scan yet" not in page and "12</strong> services" in page
    assert empty_client.get("/teams/team-shop").status_code == 200


def test_trend_from_counts_equals_trend_over_the_rows(estate_ctx: AppContext):
    history = estate_ctx.store.scorecard_results(since=date.min)
    counts = trend_counts(estate_ctx.store, date.min, ServiceFilter(), {})
    shop = {s.ref: s for s in estate_ctx.store.services()}
    narrowed = ServiceFilter(team="team-payments", lifecycle="production")
    some = trend_counts(estate_ctx.store, date.min, narrowed, shop)
    for card in estate_ctx.cards:
        for days in (7, 30):
            assert trend_from_counts(counts, card, days=days, today=TODAY) == trend(
                history, card, days=days, today=TODAY)
            assert trend_from_counts(some, card, days=days, today=TODAY) == trend(
                narrowed.apply(history, shop), card, days=days, today=TODAY)
