"""The dashboard's routes: server-rendered pages for engineering leads.

Handlers only read the request, gather data through the page modules (which take every
number from `views`) and render a template; a store that cannot be read becomes a 503 page
that says so, and unknown teams, services or policies a 404 page, never a traceback.

With `api.read: token` the pages show what only token holders may read through the API,
so every page route is guarded (`guarded_route`): without a valid session cookie it
redirects to `/login`. Only the login itself, logging out and the static files stay open.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from ...engine.errors import StoreError
from ..context import AppContext
from .campaigns import campaign_page, campaigns_page
from .common import Snapshot, snapshot
from .data import DataCache
from .overview import overview_page
from .policy import policy_page
from .query import WINDOWS, Links, filter_options, read_days, read_filter
from .render import STATIC, render
from .service import service_page
from .session import (
    COOKIE,
    MAX_AGE,
    NO_TOKENS,
    Sessions,
    is_https,
    read_form,
    safe_next,
    same_origin,
)
from .team import known_team, team_page
from .waiver import find_waiver, waiver_page
from .waivers import waivers_page

log = logging.getLogger("pathwarden.dashboard")
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(css|js|svg|png|ico)$")


def dashboard_router(ctx: AppContext, *,
                     clock: Callable[[], datetime] | None = None) -> APIRouter:
    """Mounted at `/` by `pathwarden serve` and `demo`, next to the REST API.

    `clock` gives "now" for what follows the calendar (a campaign's phase and days left,
    whether a waiver expired); tests pass a fixed one. Sessions follow the real clock:
    a login lasts eight hours of wall time whatever day the pages are told it is."""
    router = APIRouter(include_in_schema=False)
    sessions = Sessions(ctx.settings.api)
    # Page routes go on `pages`, whose route class checks the session first; the login,
    # logout and static files on `router`. New pages are guarded by being added here.
    pages = APIRouter(include_in_schema=False, route_class=guarded_route(sessions))
    data = DataCache(ctx.store)

    def now() -> datetime:
        return clock() if clock is not None else datetime.now(UTC)

    def page(request: Request, template: str, build: Callable[[Snapshot, dict[str, Any]],
                                                             dict[str, Any] | None],
             *, title: str, status: int = 200) -> Response:
        params = dict(request.query_params)
        flt, days = read_filter(params), read_days(params)
        base: dict[str, Any] = {"flt": flt, "days": days, "windows": WINDOWS,
                                "links": Links.of(flt, days), "path": request.url.path,
                                "title": title, "cards_defined": ctx.cards,
                                "viewer": getattr(request.state, "viewer", None),
                                "api_needs_token": sessions.required}
        try:
            snap = snapshot(data)
            base.update(snap=snap, scan=snap.last_scan,
                        options=filter_options(snap.services.values()))
            extra = build(snap, base)
        except StoreError as exc:
            log.error("%s %s: %s", request.method, request.url.path, exc)
            return problem(base, 503, "The store cannot be read",
                           "The database does not answer right now; the server log has the "
                           "cause. The dashboard shows data again once it answers.")
        if extra is None:
            return problem(base, 404, base.get("missing_title", "Not found"),
                           base.get("missing", "There is nothing at this address."))
        if "redirect" in extra:
            return RedirectResponse(extra["redirect"], status_code=307)
        return HTMLResponse(render(template, **base, **extra), status_code=status)

    def problem(base: dict[str, Any], status: int, heading: str, message: str) -> Response:
        base.setdefault("snap", None)
        base.setdefault("scan", None)
        base.setdefault("options", None)
        return HTMLResponse(render("dashboard_problem.html.j2", **{
            **base, "title": heading, "heading": heading, "message": message,
            "status": status}), status_code=status)

    @pages.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        return page(request, "dashboard_overview.html.j2",
                    lambda snap, base: overview_page(ctx, data, snap, base["flt"],
                                                     base["days"]),
                    title="Golden-path adoption")

    @pages.get("/teams/{team}", response_class=HTMLResponse)
    def team(request: Request, team: str) -> Response:
        def build(snap: Snapshot, base: dict[str, Any]) -> dict[str, Any] | None:
            if not known_team(snap, team):
                base["missing_title"] = f"No team called “{team}”"
                base["missing"] = _unknown(snap, f"No service in the catalog is owned by "
                                                 f"“{team}”.")
                return None
            return team_page(ctx, data, snap, team, base["flt"], base["days"])

        return page(request, "dashboard_team.html.j2", build, title=f"Team {team}")

    @pages.get("/services/{ref:path}", response_class=HTMLResponse)
    def service(request: Request, ref: str) -> Response:
        ref = unquote(ref)

        def build(snap: Snapshot, base: dict[str, Any]) -> dict[str, Any] | None:
            row = snap.services.get(ref)
            if row is None:
                named = [s for s in snap.services.values() if s.name == ref]
                if len(named) == 1:
                    return {"redirect": base["links"].service(named[0].ref)}
                base["missing_title"] = f"No service “{ref}”"
                base["missing"] = _unknown(snap, f"The catalog has no service “{ref}”; refs "
                                                 "look like component:default/shop-web.")
                return None
            return service_page(ctx, snap, row, base["days"], now())

        return page(request, "dashboard_service.html.j2", build, title=ref)

    @pages.get("/policies/{policy_id}", response_class=HTMLResponse)
    def policy(request: Request, policy_id: str) -> Response:
        def build(snap: Snapshot, base: dict[str, Any]) -> dict[str, Any] | None:
            found = ctx.policies.get(policy_id)
            if found is None:
                base["missing_title"] = f"No policy “{policy_id}”"
                base["missing"] = (f"No loaded policy has the id “{policy_id}”. "
                                   "`pathwarden policies` lists them.")
                return None
            return policy_page(ctx, data, snap, found, base["flt"], base["days"])

        return page(request, "dashboard_policy.html.j2", build, title=policy_id)

    @pages.get("/campaigns", response_class=HTMLResponse)
    def campaigns(request: Request) -> Response:
        return page(request, "dashboard_campaigns.html.j2",
                    lambda snap, base: campaigns_page(ctx, data, snap, base["flt"], now()),
                    title="Campaigns")

    @pages.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
    def campaign(request: Request, campaign_id: str) -> Response:
        def build(snap: Snapshot, base: dict[str, Any]) -> dict[str, Any] | None:
            found = ctx.governance.campaign(campaign_id)
            if found is None:
                base["missing_title"] = f"No campaign “{campaign_id}”"
                base["missing"] = (f"No campaign file has the id “{campaign_id}”; "
                                   "/campaigns lists the campaigns loaded.")
                return None
            return campaign_page(ctx, data, snap, found, base["flt"], now())

        found = ctx.governance.campaign(campaign_id)
        return page(request, "dashboard_campaign.html.j2", build,
                    title=found.title if found else campaign_id)

    @pages.get("/waivers", response_class=HTMLResponse)
    def waivers(request: Request) -> Response:
        return page(request, "dashboard_waivers.html.j2",
                    lambda snap, base: waivers_page(ctx, data, snap, base["flt"],
                                                    base["days"], now(),
                                                    dict(request.query_params),
                                                    base["links"]),
                    title="Waivers")

    @pages.get("/waivers/{waiver_id}", response_class=HTMLResponse)
    def waiver(request: Request, waiver_id: str) -> Response:
        def build(snap: Snapshot, base: dict[str, Any]) -> dict[str, Any] | None:
            found = find_waiver(ctx, waiver_id)
            if found is None:
                base["missing_title"] = f"No waiver “{waiver_id}”"
                base["missing"] = (f"No waiver file or API request has the id "
                                   f"“{waiver_id}”; /waivers lists them.")
                return None
            return waiver_page(ctx, data, snap, found, now())

        return page(request, "dashboard_waiver.html.j2", build, title=waiver_id)

    login_routes(router, sessions)

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        path = STATIC / name
        if not STATIC_NAME.match(name) or not path.is_file():
            return Response("not found", status_code=404, media_type="text/plain")
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media,
                            headers={"Cache-Control": "public, max-age=300"})

    router.include_router(pages)
    return router


def guarded_route(sessions: Sessions) -> type[APIRoute]:
    """A route class that lets a request through only with a valid session cookie (when
    `api.read: token`), and tells the page who is logged in (`request.state.viewer`).

    A route class rather than a dependency: a dependency can only raise, and the answer
    here is a redirect to the login page, which must not depend on the app's exception
    handlers (tests and `serve` mount this router on different apps)."""

    class Guarded(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Any]:
            handler = super().get_route_handler()
            if not sessions.required:
                return handler

            async def guarded(request: Request) -> Response:
                value = request.cookies.get(COOKIE)
                name = sessions.viewer(value)
                if name is None:
                    return to_login(request, clear=value is not None)
                request.state.viewer = name
                response: Response = await handler(request)
                # What a token holder may read must not sit in a shared cache.
                response.headers["Cache-Control"] = "private, no-store"
                return response

            return guarded

    return Guarded


def to_login(request: Request, *, clear: bool = False) -> Response:
    """303 to `/login?next=<this page>`; a cookie that did not verify is dropped."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse("/login?" + urlencode({"next": safe_next(target)}),
                                status_code=303, headers={"Cache-Control": "no-store"})
    if clear:
        _drop_cookie(response, request)
    return response


def _drop_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=is_https(request))


def login_routes(router: APIRouter, sessions: Sessions) -> None:
    """`/login` (the form, and the pasted token) and `/logout`, open to everyone."""

    def login_page(request: Request, target: str, status: int = 200,
                   message: str | None = None, note: str | None = None) -> Response:
        headers = {"Cache-Control": "no-store"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="pathwarden dashboard"'
        return HTMLResponse(render(
            "dashboard_login.html.j2", links=Links({}), path=request.url.path,
            title="Log in", snap=None, scan=None, options=None, viewer=None, bare=True,
            next=target, message=message, note=note, status=status),
            status_code=status, headers=headers)

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        if not sessions.required or sessions.viewer(request.cookies.get(COOKIE)):
            return RedirectResponse(target, status_code=303)
        if not sessions.configured:  # say so before anyone pastes anything
            return login_page(request, target, 403, NO_TOKENS)
        note = "You are logged out." if request.query_params.get("out") else None
        return login_page(request, target, note=note)

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        if not sessions.required:
            return RedirectResponse("/", status_code=303)
        if not same_origin(request):
            log.warning("dashboard login refused: Origin/Referer is not this host")
            return login_page(request, "/", 403, "This login was not sent from this "
                              "server's own login page, so it was refused. Open the "
                              "dashboard's address and log in there.")
        form = await read_form(request)
        if form is None:
            return login_page(request, "/", 413, "That is far too long for a token.")
        target = safe_next(form.get("next"))
        result = sessions.login(form.get("token", ""))
        if result.identity is None:
            log.info("dashboard login refused (%d)", result.status)
            return login_page(request, target, result.status, result.message)
        response = RedirectResponse(target, status_code=303,
                                    headers={"Cache-Control": "no-store"})
        response.set_cookie(COOKIE, sessions.issue(result.identity.name), max_age=MAX_AGE,
                            path="/", httponly=True, samesite="lax",
                            secure=is_https(request))
        log.info("dashboard login: %s", result.identity.name)
        return response

    @router.api_route("/logout", methods=["GET", "POST"], response_class=HTMLResponse)
    def logout(request: Request) -> Response:
        """GET too: ending one's own session needs no protection (anyone can drop a
        cookie), and a typed /logout should work."""
        response = RedirectResponse("/login?out=1" if sessions.required else "/",
                                    status_code=303, headers={"Cache-Control": "no-store"})
        _drop_cookie(response, request)
        return response


def _unknown(snap: Snapshot, message: str) -> str:
    if snap.empty_message and not snap.services:
        return f"{message} {snap.empty_message}"
    return message

