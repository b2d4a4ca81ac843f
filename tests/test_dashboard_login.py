"""Logging in to the dashboard with an API token when `api.read: token`.

The governed estate of tests/governance_support.py is served on 127.0.0.1 with the REST
API and the dashboard mounted as `pathwarden serve` mounts them, and headless Chromium
goes through the login as a person would: a page redirects to the login, a token with
`read` returns to the page asked for, a wrong token gets a 401 page, a tampered, expired
or foreign cookie is refused, logging out ends the session, and with `api.read: open`
nothing asks for a token. Plain HTTP checks what the browser cannot show: the cookie
holds neither the token nor its digest, the login refuses other origins, `next` cannot
lead away from the server, and /api/v1 still wants bearer tokens.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pathwarden.engine.api_settings import ApiSettings, TokenIdentity
from pathwarden.engine.errors import ConfigError
from pathwarden.engine.settings import load_settings
from pathwarden.scorecards.api import create_api
from pathwarden.scorecards.context import AppContext
from pathwarden.scorecards.dashboard import dashboard_router
from pathwarden.scorecards.dashboard.session import COOKIE, MAX_AGE, Sessions
from playwright.sync_api import Browser, BrowserContext, Page, expect

from .browser_support import SHOTS, local_page, served_in_browser, serving
from .governance_support import NOW, governed_context

READER = "pwt_reader-7Qf2kV9xLm3N"
WRITER = "pwt_writer-only-8Hd4Rt6Z"
SECRET = "s" * 40
READER_NAME = "dana@acme.example"  # `@` makes the cookie value quoted: it must round-trip
IDENTITIES = (
    TokenIdentity(ApiSettings.digest(READER), READER_NAME, frozenset({"read"})),
    TokenIdentity(ApiSettings.digest(WRITER), "ci", frozenset({"write"})),
)


def api_settings(read: str = "token", secret: str | None = SECRET) -> ApiSettings:
    return ApiSettings(read=read, tokens=tuple(i.digest for i in IDENTITIES),
                       identities=IDENTITIES, session_secret=secret)


def app_for(ctx: AppContext, api: ApiSettings) -> FastAPI:
    """As `scorecards.server.create_app`, with the pages' clock at NOW."""
    ctx = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, api=api))
    app = create_api(ctx)
    app.include_router(dashboard_router(ctx, clock=lambda: NOW))
    return app


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    context = governed_context(tmp_path_factory.mktemp("dashboard-login"))
    yield context
    context.store.close()


@pytest.fixture(scope="module")
def served(ctx: AppContext) -> Iterator[tuple[str, Browser]]:
    with served_in_browser(app_for(ctx, api_settings())) as running:
        yield running


@contextlib.contextmanager
def browsing(browser: Browser) -> Iterator[tuple[BrowserContext, Page]]:
    """A fresh browser profile (no cookies); afterwards every request must have stayed on
    127.0.0.1 and the console must hold no error but the 401/403 answers asked for."""
    with local_page(browser, allowed_errors=r"status of 40[13]") as opened:
        yield opened


def log_in(page: Page, token: str) -> int:
    """Paste `token` into the login form; the status of the form's answer."""
    page.locator("#token").fill(token)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.locator(".login-form button").click()
    page.wait_for_load_state()
    return answer.value.status


def session_cookie(context: BrowserContext) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


# --- in the browser ---------------------------------------------------------------------

def test_a_page_redirects_to_the_login_and_a_good_token_returns_to_it(
        served: tuple[str, Browser]):
    base, browser = served
    with browsing(browser) as (context, page):
        page.goto(base + "/waivers?show=expiring&days=90")
        page.wait_for_url(re.compile(r"/login\?next="))
        assert urlparse(page.url).query == "next=%2Fwaivers%3Fshow%3Dexpiring%26days%3D90"
        expect(page.locator("h1")).to_have_text("Log in")
        expect(page.locator(".topbar nav")).to_have_count(0)  # nothing read before login
        expect(page.locator("body")).not_to_contain_text("team-shop")
        expect(page.locator("#token")).to_have_attribute("type", "password")
        shot(page, "login")

        assert log_in(page, READER) == 303
        page.wait_for_url(base + "/waivers?show=expiring&days=90")
        expect(page.locator("h1")).to_have_text("Waivers")
        expect(page.locator(".topbar .viewer")).to_have_text(READER_NAME)
        cookie = session_cookie(context)
        assert cookie is not None
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
        assert cookie["path"] == "/"
        assert READER not in cookie["value"] and IDENTITIES[0].digest[7:] not in cookie["value"]
        assert abs(cookie["expires"] - (time.time() + MAX_AGE)) < 120
        assert COOKIE not in page.evaluate("document.cookie")  # HttpOnly: not for scripts

        page.locator("#expiring a.waiver-link").first.click()  # other pages need no login
        page.wait_for_url(re.compile(r"/waivers/w-ledger-tag\?days=90$"))
        expect(page.locator(".topbar .viewer")).to_have_text(READER_NAME)
        shot(page, "logged-in")


def test_a_wrong_token_gets_a_401_page_and_no_cookie(served: tuple[str, Browser]):
    base, browser = served
    with browsing(browser) as (context, page):
        page.goto(base + "/campaigns")
        page.wait_for_url(re.compile(r"/login\?next=%2Fcampaigns$"))
        assert log_in(page, "pwt_not-a-token") == 401
        expect(page.locator(".problem-code")).to_have_text("401")
        expect(page.locator(".login-error")).to_have_text(
            "That token is not valid. Paste the whole token, or ask whoever gave it to "
            "you for a new one.")
        expect(page.locator("input[name=next]")).to_have_value("/campaigns")
        shot(page, "login-refused")
        assert log_in(page, WRITER) == 403  # a real token, without the role read
        expect(page.locator(".login-error")).to_contain_text("lacks the role read")
        assert session_cookie(context) is None
        page.goto(base + "/campaigns")
        page.wait_for_url(re.compile(r"/login\?next=%2Fcampaigns$"))


def test_a_tampered_expired_or_foreign_cookie_is_refused(served: tuple[str, Browser]):
    base, browser = served
    with browsing(browser) as (context, page):
        page.goto(base + "/login")
        assert log_in(page, READER) == 303
        good = session_cookie(context)
        assert good is not None
        name, expiry, signature = good["value"].strip('"').split("|")
        ours = Sessions(api_settings())
        forged = {
            "another name": f"ci|{expiry}|{signature}",
            "a later expiry": f"{name}|{int(expiry) + 3600}|{signature}",
            "another signature": f"{name}|{expiry}|{signature[:-2]}AA",
            "expired": ours.issue(READER_NAME, now=time.time() - MAX_AGE - 5),
            "another key": Sessions(api_settings(secret="t" * 40)).issue(READER_NAME),
            "not read": ours.issue("ci"),
            "garbage": "x",
        }
        for why, value in forged.items():
            context.clear_cookies()
            context.add_cookies([{"name": COOKIE, "value": value, "url": base}])
            page.goto(base + "/teams/team-shop")
            assert re.search(r"/login\?next=%2Fteams%2Fteam-shop$", page.url), why
            assert session_cookie(context) is None, why  # the bad cookie is dropped
        context.add_cookies([good])  # the real one still works
        page.goto(base + "/teams/team-shop")
        expect(page.locator(".topbar .viewer")).to_have_text(READER_NAME)


def test_logging_out_ends_the_session(served: tuple[str, Browser]):
    base, browser = served
    with browsing(browser) as (context, page):
        page.goto(base + "/")
        assert log_in(page, READER) == 303
        page.wait_for_url(base + "/")
        page.locator(".topbar .session button", has_text="Log out").click()
        page.wait_for_url(base + "/login?out=1")
        expect(page.locator(".login-note")).to_have_text("You are logged out.")
        assert session_cookie(context) is None
        page.goto(base + "/")
        page.wait_for_url(re.compile(r"/login\?next=%2F$"))


def test_with_read_open_the_pages_stay_open(ctx: AppContext, served: tuple[str, Browser]):
    # A second server for the module's browser (Playwright's sync API runs once per
    # thread, so a second `served_in_browser` cannot start while the first runs).
    with serving(app_for(ctx, api_settings(read="open"))) as base, \
            browsing(served[1]) as (context, page):
        page.goto(base + "/waivers/w-cart-probes")
        expect(page.locator("h1")).to_contain_text("w-cart-probes")
        expect(page.locator(".topbar .session")).to_have_count(0)
        page.goto(base + "/login?next=/campaigns")
        page.wait_for_url(base + "/campaigns")
        assert session_cookie(context) is None


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# --- plain HTTP ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(ctx: AppContext) -> TestClient:
    return TestClient(app_for(ctx, api_settings()), follow_redirects=False)


ORIGIN = {"Origin": "http://testserver"}


def test_the_cookie_holds_neither_the_token_nor_its_digest(client: TestClient):
    answer = client.post("/login", data={"token": f"  {READER}\n", "next": "/waivers"},
                         headers=ORIGIN)
    assert answer.status_code == 303 and answer.headers["location"] == "/waivers"
    header = answer.headers["set-cookie"]
    digest = IDENTITIES[0].digest
    for secret in (READER, digest, digest.removeprefix("sha256:"), SECRET):
        assert secret not in header
    value = client.cookies[COOKIE].strip('"')
    name, expiry, signature = value.split("|")
    assert name == READER_NAME and abs(int(expiry) - time.time() - MAX_AGE) < 60
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", signature)
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert f"Max-Age={MAX_AGE}" in header and "Secure" not in header
    page = client.get("/waivers")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert READER not in page.text and READER_NAME in page.text
    behind_tls = client.post("/login", data={"token": READER},
                             headers={**ORIGIN, "X-Forwarded-Proto": "https"})
    assert "Secure" in behind_tls.headers["set-cookie"]
    client.cookies.clear()


def test_the_login_refuses_other_origins(client: TestClient):
    def post(headers: dict[str, str]) -> int:
        return client.post("/login", data={"token": READER}, headers=headers).status_code

    assert post({"Origin": "http://evil.example"}) == 403
    assert post({"Origin": "null"}) == 403
    assert post({}) == 403  # neither Origin nor Referer
    assert post({"Referer": "http://evil.example/testserver"}) == 403
    assert "set-cookie" not in client.post("/login", data={"token": READER},
                                           headers={"Origin": "http://evil.example"}).headers
    assert post({"Referer": "http://testserver/login?next=/"}) == 303
    assert post({"Origin": "https://dash.example", "X-Forwarded-Host": "dash.example"}) == 303
    client.cookies.clear()


@pytest.mark.parametrize("target, lands", [
    ("/policies/golden-probes?team=team-shop", "/policies/golden-probes?team=team-shop"),
    ("//evil.example/", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"), ("", "/")])
def test_next_never_leads_off_the_server(client: TestClient, target: str, lands: str):
    answer = client.post("/login", data={"token": READER, "next": target}, headers=ORIGIN)
    assert answer.headers["location"] == lands
    client.cookies.clear()


def test_open_paths_and_the_api_keep_their_own_rules(client: TestClient):
    assert client.get("/static/dashboard.css").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    for path in ("/", "/waivers/w-old", "/services/shop-web", "/no-such-page-under/waivers"):
        answer = client.get(path)
        assert answer.status_code in (303, 404), path
        if answer.status_code == 303:
            assert answer.headers["location"].startswith("/login?next=")
    client.post("/login", data={"token": READER}, headers=ORIGIN)
    assert COOKIE in client.cookies
    assert client.get("/api/v1/waivers").status_code == 401  # the cookie is not a token
    bearer = {"Authorization": f"Bearer {READER}"}
    assert client.get("/api/v1/waivers", headers=bearer).status_code == 200
    assert client.get("/logout").status_code == 303
    assert COOKIE not in client.cookies
    assert client.get("/").status_code == 303


def test_replicas_sharing_the_secret_accept_each_others_sessions():
    one, other = Sessions(api_settings()), Sessions(api_settings())
    assert other.viewer(one.issue(READER_NAME)) == READER_NAME
    random_one, random_other = Sessions(api_settings(secret=None)), \
        Sessions(api_settings(secret=None))
    assert random_one.viewer(random_one.issue(READER_NAME)) == READER_NAME
    assert random_other.viewer(random_one.issue(READER_NAME)) is None


def test_the_session_secret_setting(tmp_path: Path):
    path = tmp_path / "pathwarden.yaml"
    path.write_text(f"api: {{read: token, session_secret: '{SECRET}'}}\n", encoding="utf-8")
    settings = load_settings(path, {})
    assert settings.api.session_secret == SECRET and SECRET not in repr(settings)
    env = "e" * 32
    assert load_settings(path, {"PATHWARDEN_SESSION_SECRET": env}).api.session_secret == env
    path.write_text("api: {session_secret: short-secret}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(path, {})
    assert "at least 32 characters" in str(refused.value)
    assert "short-secret" not in str(refused.value)
    assert load_settings(None, {}).api.session_secret is None


def test_without_any_token_configured_the_login_says_so(ctx: AppContext):
    bare = ApiSettings(read="token", session_secret=SECRET)
    client = TestClient(app_for(ctx, bare), follow_redirects=False)
    assert client.get("/campaigns").headers["location"] == "/login?next=%2Fcampaigns"
    form = client.get("/login?next=/campaigns")
    assert form.status_code == 403 and "no token is configured" in form.text
    answer = client.post("/login", data={"token": READER}, headers=ORIGIN)
    assert answer.status_code == 403 and COOKIE not in client.cookies
