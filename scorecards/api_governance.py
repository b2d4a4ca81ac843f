"""The REST API of waivers and campaigns (issue #6), under /api/v1.

Waivers are listed from the store (API waivers, and file waivers as each scan keeps them in
step with the files) together with the waivers the server applies right now (a file waiver
not yet synced), so what the list says is what admission and audit do. Requests and
decisions need token roles (`waivers:request`, `waivers:approve`); the token's name is the
actor in the audit trail, never a name from the body. After every change the server's
governance is reloaded, so an approval applies to the next admission request at once.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from ..engine.api_settings import TokenIdentity
from ..engine.governance import Waiver
from ..engine.governance.configured import spec_of, waiver_of_row
from ..engine.governance.waivers import COVERS, WaiverError, waiver_from_spec
from ..engine.store.governance import WaiverStateError
from ..engine.store.models import WaiverRow
from .api_http import Access, ApiError, PagingDep, page_in_memory
from .api_models import (
    CampaignOut,
    DecisionIn,
    ErrorOut,
    Page,
    WaiverEventOut,
    WaiverIn,
    WaiverOut,
)
from .campaigns import CampaignProgress, campaigns_progress
from .context import AppContext


def _errors(**codes: str) -> dict[int | str, dict[str, Any]]:
    """Error answers for /docs: `_errors(e404="unknown waiver")`."""
    return {int(k[1:]): {"model": ErrorOut, "description": v} for k, v in codes.items()}


ROLE_ERRORS = _errors(e401="no token, or an unknown one (with `WWW-Authenticate: Bearer`)",
                      e403="the token lacks the role, or no token is configured")
DECISION_ERRORS = {**ROLE_ERRORS, **_errors(
    e404="unknown waiver",
    e409="not allowed in the waiver's state: a file waiver, the requester approving, a "
         "waiver that is not `requested` (approve, reject) or already revoked")}

WaiverStatus = Literal["active", "expired", "requested", "rejected", "revoked", "removed",
                       "approved"]
"""`state` filter values: a status (what it does now), or the stored state `approved`
(active and expired alike)."""


def governance_routes(reads: APIRouter, writes: APIRouter, ctx: AppContext,
                      access: Access) -> None:
    """Reads go on `reads` (guarded like every read); the endpoints on `writes` each name
    the role they need, since requesting and approving are different people's jobs."""
    _waiver_reads(reads, ctx)
    _waiver_writes(writes, ctx, access)
    _campaign_routes(reads, ctx)


# --- what a waiver looks like to the API -----------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class _Listed:
    """One waiver as the API shows it: the definition in force (or stored) and its row."""

    __slots__ = ("row", "state", "waiver")

    def __init__(self, waiver: Waiver, row: WaiverRow | None, state: str) -> None:
        self.waiver, self.row, self.state = waiver, row, state

    def status(self, now: datetime) -> str:
        if self.state in ("rejected", "revoked", "removed"):
            return self.state
        if now >= self.waiver.expires_at:
            return "expired"  # a request past its expiry can no longer take effect either
        return "active" if self.state == "approved" else "requested"

    def out(self, ctx: AppContext, now: datetime, used: dict[str, int]) -> dict[str, Any]:
        w, row = self.waiver, self.row
        return {
            "id": w.id, "source": w.source, "state": self.state, "status": self.status(now),
            "policies": list(w.policies), **{c: list(getattr(w, c)) for c in COVERS},
            "reason": w.reason, "requested_by": w.requested_by, "approved_by": w.approved_by,
            "requested_at": _iso(row.requested_at if row else w.requested_at),
            "decided_at": _iso(row.decided_at if row else None),
            "updated_at": _iso(row.updated_at if row else None),
            "expires": w.expires, "expires_at": _iso(w.expires_at),
            "days_left": w.days_left(now, ctx.settings.governance.zone),
            "used": used.get(w.id, 0), "location": w.location,
        }


def _listed(ctx: AppContext) -> list[_Listed]:
    """Stored waivers, with file waivers as the server applies them now.

    A file waiver in force is shown from the files just read (an edit not yet synced by a
    scan is what applies); a stored file waiver the server no longer reads is `removed`
    for it, whatever the row still says."""
    applied = {w.id: w for w in ctx.governance.waivers if w.source != "annotation"}
    found: dict[str, _Listed] = {}
    for row in ctx.store.waiver_rows():
        if row.source == "file":
            current = applied.get(row.waiver_id)
            found[row.waiver_id] = (_Listed(current, row, "approved") if current
                                    else _Listed(waiver_of_row(row), row, "removed"))
        else:
            found[row.waiver_id] = _Listed(waiver_of_row(row), row, row.state)
    for waiver_id, waiver in applied.items():
        if waiver_id not in found:
            found[waiver_id] = _Listed(waiver, None, waiver.state)
    return [found[k] for k in sorted(found)]


def _one(ctx: AppContext, waiver_id: str) -> _Listed:
    found = next((item for item in _listed(ctx) if item.waiver.id == waiver_id), None)
    if found is None:
        raise ApiError(404, f"unknown waiver {waiver_id!r}")
    return found


def _names_policy(ctx: AppContext, waiver: Waiver, policy_id: str) -> bool:
    """By the loaded policy (ids, tags, globs) when it is known, else by its id alone."""
    policy = ctx.policies.get(policy_id)
    if policy is not None:
        return waiver.covers_policy(policy)
    return any(fnmatch.fnmatchcase(policy_id, p) for p in waiver.policies)


# --- reads -----------------------------------------------------------------------------------

def _waiver_reads(router: APIRouter, ctx: AppContext) -> None:
    @router.get("/waivers", response_model=Page[WaiverOut], tags=["waivers"])
    def waivers(request: Request, at: PagingDep, state: WaiverStatus | None = None,
                policy: str | None = None, service: str | None = None) -> Response:
        """Every waiver, from files and from the API, by id, with what it does now
        (`status`), its expiry and how many current findings it excuses (`used`; 0 for
        an active one means it covers nothing). `state` takes a status or `approved`;
        `policy` a policy id; `service` a service ref or name the waiver names."""
        now = datetime.now(UTC)
        chosen = [item for item in _listed(ctx)
                  if (state is None or state in (item.state, item.status(now)))
                  and (policy is None or _names_policy(ctx, item.waiver, policy))
                  and (service is None or item.waiver.names_service(service))]
        used = ctx.store.waiver_usage()
        return page_in_memory(request, [item.out(ctx, now, used) for item in chosen], at)

    @router.get("/waivers/{waiver_id}", response_model=WaiverOut, tags=["waivers"],
                responses=_errors(e404="unknown waiver"))
    def waiver(waiver_id: str) -> Response:
        now = datetime.now(UTC)
        return JSONResponse(_one(ctx, waiver_id).out(ctx, now, ctx.store.waiver_usage()))

    @router.get("/waivers/{waiver_id}/history", response_model=Page[WaiverEventOut],
                tags=["waivers"], responses=_errors(e404="unknown waiver"))
    def history(request: Request, waiver_id: str, at: PagingDep) -> Response:
        """The audit trail, oldest first: who requested, approved, rejected or revoked it
        (the token's name), or which file created, changed or removed it, and when."""
        _one(ctx, waiver_id)
        events = sorted(ctx.store.waiver_events(waiver_id=waiver_id, limit=10_000),
                        key=lambda e: (e.time, e.id or 0))
        return page_in_memory(request, [
            {"time": e.time.isoformat(), "actor": e.actor, "action": e.action,
             "detail": e.detail} for e in events], at)


# --- requests and decisions ------------------------------------------------------------------

def _waiver_writes(router: APIRouter, ctx: AppContext, access: Access) -> None:
    # Dependencies as defaults, not Annotated aliases: these annotations are strings
    # (postponed evaluation) that FastAPI resolves in the module, not in this function.
    requester = Depends(access.role("waivers:request"))
    approver = Depends(access.role("waivers:approve"))
    either = Depends(access.role("waivers:approve", "waivers:request"))

    @router.post("/waivers", status_code=201, response_model=WaiverOut, tags=["waivers"],
                 responses={**ROLE_ERRORS, **_errors(
                     e409="the id is taken", e422="an invalid waiver: the reason")})
    def request_waiver(body: WaiverIn, who: TokenIdentity = requester) -> Response:
        """Ask for a waiver (role `waivers:request`): 201 with it, `requested` until
        someone else approves it. 422 when it is invalid (no policy, no cover, no reason,
        an expiry past governance.waivers.max_days), 409 when the id is taken."""
        now = datetime.now(UTC)
        rules = ctx.settings.governance
        spec: dict[str, Any] = {k: v for k, v in body.model_dump(exclude={"id"}).items()
                                if v not in (None, [])}
        spec["requestedBy"] = who.name
        try:
            waiver = waiver_from_spec(
                body.id, spec, zone=rules.zone, max_days=rules.waivers.max_days,
                today=now.astimezone(rules.zone).date(), source="api", location=None,
                state="requested")
        except WaiverError as exc:
            raise ApiError(422, str(exc)) from exc
        if waiver.expires_at <= now:
            raise ApiError(422, f"waiver {waiver.id}: expires {waiver.expires}, which is "
                           "already past")
        # Checked before the insert: ids stay taken by rejected, revoked and removed
        # waivers too, so the audit trail of an id tells one story.
        if ctx.governance.waiver(waiver.id) is not None or ctx.store.waiver_row(waiver.id):
            raise ApiError(409, f"waiver {waiver.id} already exists")
        try:
            ctx.store.request_waiver(waiver.id, spec_of(waiver), expires_at=waiver.expires_at,
                                     requested_by=who.name, actor=who.name, now=now)
        except WaiverStateError as exc:
            raise ApiError(409, str(exc)) from exc
        ctx.refresh_governance()
        return JSONResponse(_one(ctx, waiver.id).out(ctx, now, {}), 201)

    def decide(waiver_id: str, action: str, who: TokenIdentity, body: DecisionIn | None,
               check: Callable[[WaiverRow], None] | None = None) -> Response:
        now = datetime.now(UTC)
        row = ctx.store.waiver_row(waiver_id)
        if row is None:
            applied = ctx.governance.waiver(waiver_id)
            if applied is None:
                raise ApiError(404, f"unknown waiver {waiver_id!r}")
            raise ApiError(409, f"waiver {waiver_id} comes from {applied.location or 'a file'}"
                           "; change it there (files are reviewed like code)")
        if check is not None:
            check(row)
        if action == "approve" and row.source == "api" and row.state == "requested" \
                and row.expires_at <= now:
            raise ApiError(409, f"waiver {waiver_id} expired before it was approved; "
                           "request a new one")
        try:
            ctx.store.decide_waiver(waiver_id, action, actor=who.name, now=now,
                                    comment=body.comment if body else None)
        except KeyError as exc:
            raise ApiError(404, f"unknown waiver {waiver_id!r}") from exc
        except WaiverStateError as exc:
            raise ApiError(409, str(exc)) from exc
        ctx.refresh_governance()
        return JSONResponse(_one(ctx, waiver_id).out(ctx, now, ctx.store.waiver_usage()))

    @router.post("/waivers/{waiver_id}/approve", response_model=WaiverOut, tags=["waivers"],
                 responses=DECISION_ERRORS)
    def approve(waiver_id: str, who: TokenIdentity = approver,
                body: DecisionIn | None = None) -> Response:
        """Approve a requested waiver (role `waivers:approve`; not the requester's own).
        It applies at once. 409 for a file waiver, one that is not `requested`, or one
        that expired while waiting."""
        return decide(waiver_id, "approve", who, body)

    @router.post("/waivers/{waiver_id}/reject", response_model=WaiverOut, tags=["waivers"],
                 responses=DECISION_ERRORS)
    def reject(waiver_id: str, who: TokenIdentity = approver,
               body: DecisionIn | None = None) -> Response:
        """Turn a request down (role `waivers:approve`)."""
        return decide(waiver_id, "reject", who, body)

    @router.post("/waivers/{waiver_id}/revoke", response_model=WaiverOut, tags=["waivers"],
                 responses=DECISION_ERRORS)
    def revoke(waiver_id: str, who: TokenIdentity = either,
               body: DecisionIn | None = None) -> Response:
        """Withdraw a waiver: an approved one stops applying at once (role
        `waivers:approve`); a requester may also withdraw their own request while it is
        still `requested` (role `waivers:request`)."""

        def may_withdraw(row: WaiverRow) -> None:
            if who.has("waivers:approve"):
                return
            if row.requested_by != who.name or row.state != "requested":
                raise ApiError(403, f"token {who.name} may withdraw only its own waiver "
                               "requests while they are requested; revoking others needs "
                               "the role waivers:approve",
                               {"token": who.name, "roles": sorted(who.roles),
                                "needs": ["waivers:approve"]})

        return decide(waiver_id, "revoke", who, body, may_withdraw)


# --- campaigns -------------------------------------------------------------------------------

CampaignState = Literal["scheduled", "running", "past-deadline"]


def _progress(ctx: AppContext) -> list[CampaignProgress]:
    return campaigns_progress(ctx.store, ctx.governance, ctx.policies.values(),
                              datetime.now(UTC))


def _campaign_routes(router: APIRouter, ctx: AppContext) -> None:
    @router.get("/campaigns", response_model=Page[CampaignOut], tags=["campaigns"])
    def campaigns(request: Request, at: PagingDep,
                  state: CampaignState | None = None) -> Response:
        """Every campaign with its phase today, days to the deadline and progress:
        services compliant / waived / failing (and by team), from the current findings,
        and the trend per day."""
        found = [p.as_dict() for p in _progress(ctx) if state is None or p.state == state]
        return page_in_memory(request, sorted(found, key=lambda c: c["id"]), at)

    @router.get("/campaigns/{campaign_id}", response_model=CampaignOut, tags=["campaigns"],
                responses=_errors(e404="unknown campaign"))
    def campaign(campaign_id: str) -> Response:
        if ctx.governance.campaign(campaign_id) is None:
            raise ApiError(404, f"unknown campaign {campaign_id!r}",
                           {"known": sorted(c.id for c in ctx.governance.campaigns)})
        found = next(p for p in _progress(ctx) if p.campaign.id == campaign_id)
        return JSONResponse(found.as_dict())
