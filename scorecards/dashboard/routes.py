"""The dashboard's routes: server-rendered pages for engineering leads.

Handlers only read the request, gather data through the page modules (which take every
number from `views`) and render a template; a store that cannot be read becomes a 503 page
that says so, and unknown teams, services or policies a 404 page, never a traceback.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

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
from .team import known_team, team_page
from .waivers import waivers_page

log = logging.getLogger("pathwarden.dashboard")
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(css|js|svg|png|ico)$")


def dashboard_router(ctx: AppContext, *,
                     clock: Callable[[], datetime] | None = None) -> APIRouter:
    """Mounted at `/` by `pathwarden serve` and `demo`, next to the REST API.

    `clock` gives "now" for what follows the calendar (a campaign's phase and days left,
    whether a waiver expired); tests pass a fixed one."""
    router = APIRouter(include_in_schema=False)
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
                                "title": title, "cards_defined": ctx.cards}
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

    @router.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        return page(request, "dashboard_overview.html.j2",
                    lambda snap, base: overview_page(ctx, data, snap, base["flt"],
                                                     base["days"]),
                    title="Golden-path adoption")

    @router.get("/teams/{team}", response_class=HTMLResponse)
    def team(request: Request, team: str) -> Response:
        def build(snap: Snapshot, base: dict[str, Any]) -> dict[str, Any] | None:
            if not known_team(snap, team):
                base["missing_title"] = f"No team called “{team}”"
                base["missing"] = _unknown(snap, f"No service in the catalog is owned by "
                                                 f"“{team}”.")
                return None
            return team_page(ctx, data, snap, team, base["flt"], base["days"])

        return page(request, "dashboard_team.html.j2", build, title=f"Team {team}")

    @router.get("/services/{ref:path}", response_class=HTMLResponse)
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

    @router.get("/policies/{policy_id}", response_class=HTMLResponse)
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

    @router.get("/campaigns", response_class=HTMLResponse)
    def campaigns(request: Request) -> Response:
        return page(request, "dashboard_campaigns.html.j2",
                    lambda snap, base: campaigns_page(ctx, data, snap, base["flt"], now()),
                    title="Campaigns")

    @router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
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

    @router.get("/waivers", response_class=HTMLResponse)
    def waivers(request: Request) -> Response:
        return page(request, "dashboard_waivers.html.j2",
                    lambda snap, base: waivers_page(ctx, data, snap, base["flt"],
                                                    base["days"], now(),
                                                    dict(request.query_params),
                                                    base["links"]),
                    title="Waivers")

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        path = STATIC / name
        if not STATIC_NAME.match(name) or not path.is_file():
            return Response("not found", status_code=404, media_type="text/plain")
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media,
                            headers={"Cache-Control": "public, max-age=300"})

    return router


def _unknown(snap: Snapshot, message: str) -> str:
    if snap.empty_message and not snap.services:
        return f"{message} {snap.empty_message}"
    return message

