"""The REST API of `pathwarden serve` under /api/v1 (OpenAPI at /docs and /openapi.json).

Reads cover what the dashboard shows, for scripts and other tools: services, scorecard
definitions, results and history, findings, scans, the decision log and policies. Lists
share one envelope (`items`, `total`, `limit`, `offset`, `next`) and are counted and paged
in SQL, so a page costs the same on an estate of ten services and of ten thousand.

Tokens are compared as SHA-256 digests (the config file holds only digests) and carry
roles: `read`, `write`, `waivers:request`, `waivers:approve`, `admin` (all). Reads are open
unless `api.read: token`; writes always need a token with the role they name, and with
none configured they are refused rather than left open. Waivers are requested and
approved by different tokens, and every change is kept in an audit trail. Every error is
JSON: `{"error": message, "detail": ...}`.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select

from ..engine.model import Policy, Severity, Status
from ..engine.scanner.delivery import delivery_metrics
from ..engine.store import (
    DecisionLogEntry,
    FindingRow,
    PipelineRun,
    ScanBusy,
    ScanRow,
    ScorecardResult,
    ServiceRow,
    TargetRow,
)
from .api_governance import governance_routes
from .api_http import (
    PREFIX,
    Access,
    ApiError,
    PagingDep,
    install_error_handlers,
    page_in_memory,
    page_of,
)
from .api_models import (
    FindingOut,
    History,
    Page,
    PolicyOut,
    ResultsPage,
    RunIn,
    ScorecardOut,
    ServiceDetail,
)
from .context import AppContext
from .definitions import Scorecard
from .views import NONE_LEVEL, blocking_rules

log = logging.getLogger("pathwarden.api")


def create_api(ctx: AppContext) -> FastAPI:
    app = FastAPI(title="pathwarden API", version="1", description=__doc__)
    install_error_handlers(app)
    access = Access(ctx.settings.api)
    read_deps = [Depends(access.read)] if ctx.settings.api.read == "token" else []
    reads = APIRouter(prefix=PREFIX, dependencies=read_deps)
    writes = APIRouter(prefix=PREFIX, dependencies=[Depends(access.write)])
    _service_routes(reads, ctx)
    _scorecard_routes(reads, ctx)
    _finding_routes(reads, ctx)
    _scan_routes(reads, writes, ctx)
    _decision_routes(reads, ctx)
    _policy_routes(reads, ctx)
    _delivery_routes(reads, writes, ctx)
    by_role = APIRouter(prefix=PREFIX)  # each endpoint names its role (waivers)
    governance_routes(reads, by_role, ctx, access)
    app.include_router(reads)
    app.include_router(writes)
    app.include_router(by_role)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _ref_match(column: Any, value: str) -> ColumnElement[bool]:
    """`team-shop` matches `group:default/team-shop`, as the dashboard's filters do."""
    if value == "unowned":
        return col(column).is_(None)
    return or_(col(column) == value, col(column).endswith("/" + value, autoescape=True))


def _resolve_service(ctx: AppContext, ref: str) -> ServiceRow | None:
    """By full ref, else by a unique name (`shop-web` for `component:default/shop-web`)."""
    found = ctx.store.rows(select(ServiceRow).where(col(ServiceRow.ref) == ref))
    if not found and ":" not in ref:
        found = ctx.store.rows(select(ServiceRow).where(
            col(ServiceRow.name) == ref.rsplit("/", 1)[-1]))
    return found[0] if len(found) == 1 else None


def _service_ref(ctx: AppContext, ref: str | None) -> str | None:
    if ref is None:
        return None
    row = _resolve_service(ctx, ref)
    return row.ref if row else ref


def _card(ctx: AppContext, scorecard_id: str) -> Scorecard:
    card = ctx.scorecards.get(scorecard_id)
    if card is None:
        raise ApiError(404, f"unknown scorecard {scorecard_id!r}",
                       {"known": [c.id for c in ctx.cards]})
    return card


def _dump(row: Any, *exclude: str) -> dict[str, Any]:
    return row.model_dump(mode="json", exclude=set(exclude))


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ApiError(422, f"{name} needs a time zone (e.g. 2026-11-24T10:00:00Z)")
    return value


# --- services ------------------------------------------------------------------------------

def _service_routes(router: APIRouter, ctx: AppContext) -> None:
    @router.get("/services", response_model=Page[ServiceRow], tags=["services"])
    def services(request: Request, at: PagingDep, team: str | None = None,
                 system: str | None = None, lifecycle: str | None = None,
                 tier: str | None = None,
                 kind: Annotated[str | None, Query(alias="type")] = None) -> Response:
        """The catalog's services as of the latest scan, by ref. `team` and `system` take
        a full ref or a name (`team-shop`); `team=unowned` lists the ones without owner."""
        query = select(ServiceRow)
        if team:
            query = query.where(_ref_match(ServiceRow.owner, team))
        if system:
            query = query.where(_ref_match(ServiceRow.system, system))
        for column, value in ((ServiceRow.lifecycle, lifecycle), (ServiceRow.tier, tier),
                              (ServiceRow.type, kind)):
            if value:
                query = query.where(col(column) == value)
        rows, total = ctx.store.page(query.order_by(col(ServiceRow.ref)), limit=at.limit,
                                     offset=at.offset)
        return page_of(request, [_dump(r, "id") for r in rows], total, at)

    @router.get("/services/{ref:path}", response_model=ServiceDetail, tags=["services"])
    def service(ref: str) -> Response:
        """One service (`component:default/shop-web`, or `shop-web`), its latest scorecard
        results with what blocks each next level, and its current findings by status."""
        row = _resolve_service(ctx, ref)
        if row is None:
            raise ApiError(404, f"unknown service {ref!r}")
        cards = []
        for result in ctx.store.scorecard_results(service=row.ref):
            card = ctx.scorecards.get(result.scorecard)
            next_level, blocking = blocking_rules(result, card) if card else (None, [])
            cards.append({**_dump(result, "id"), "next_level": next_level,
                          "blocking": blocking})
        counts = ctx.store.rows(
            select(FindingRow.status, func.count())
            .where(col(FindingRow.scan_id).in_(ctx.store.current_scan_ids()),
                   col(FindingRow.service) == row.ref)
            .group_by(FindingRow.status))
        return JSONResponse({"service": _dump(row, "id"), "scorecards": cards,
                             "findings": {status: n for status, n in counts}})


# --- scorecards ----------------------------------------------------------------------------

def _scorecard_out(card: Scorecard) -> dict[str, Any]:
    return {"id": card.id, "title": card.title, "description": card.description,
            "golden_path": card.golden_path,
            "filter": {k: list(v) for k, v in card.filter.items()},
            "levels": [{"name": level.name, "rules": [
                {"id": r.id, "title": r.title, "kind": r.kind(),
                 "target": r.policy or r.tag or r.fact, "weight": r.weight, "op": r.op,
                 "value": r.value, "remediation": r.remediation} for r in level.rules]}
                for level in card.levels],
            "file": card.location.file if card.location else None}


def _scorecard_routes(router: APIRouter, ctx: AppContext) -> None:
    @router.get("/scorecards", response_model=Page[ScorecardOut], tags=["scorecards"])
    def scorecards(request: Request, at: PagingDep) -> Response:
        """The scorecard definitions: golden path, levels and the rules of each."""
        return page_in_memory(request, [_scorecard_out(c) for c in ctx.cards], at)

    @router.get("/scorecards/{scorecard_id}", response_model=ScorecardOut,
                tags=["scorecards"])
    def scorecard(scorecard_id: str) -> Response:
        return JSONResponse(_scorecard_out(_card(ctx, scorecard_id)))

    @router.get("/scorecards/{scorecard_id}/results", response_model=ResultsPage,
                tags=["scorecards"])
    def results(request: Request, scorecard_id: str, at: PagingDep, day: date | None = None,
                team: str | None = None, level: str | None = None) -> Response:
        """Each service's result on one day (default: the latest computed), by service.
        `level` is a level name, or `none` for services below the first level."""
        card = _card(ctx, scorecard_id)
        names = [NONE_LEVEL, *(lvl.name for lvl in card.levels)]
        if level is not None and level not in names:
            raise ApiError(400, f"scorecard {card.id} has no level {level!r}",
                           {"levels": names})
        if day is None:
            day = ctx.store.rows(select(func.max(ScorecardResult.day))
                                 .where(col(ScorecardResult.scorecard) == card.id))[0]
        if day is None:
            return page_of(request, [], 0, at, scorecard=card.id, day=None)
        query = select(ScorecardResult).where(col(ScorecardResult.scorecard) == card.id,
                                              col(ScorecardResult.day) == day)
        if team:
            query = query.where(_ref_match(ScorecardResult.owner, team))
        if level is not None:
            query = query.where(col(ScorecardResult.level).is_(None) if level == NONE_LEVEL
                                else col(ScorecardResult.level) == level)
        rows, total = ctx.store.page(query.order_by(col(ScorecardResult.service)),
                                     limit=at.limit, offset=at.offset)
        return page_of(request, [_dump(r, "id") for r in rows], total, at, scorecard=card.id,
                     day=day.isoformat())

    @router.get("/scorecards/{scorecard_id}/history", response_model=History,
                tags=["scorecards"])
    def history(scorecard_id: str, service: str | None = None, team: str | None = None,
                since: date | None = None) -> Response:
        """Per day: services, services per level, average score; of one service, of one
        team, or of all. `since` defaults to 30 days ago."""
        card = _card(ctx, scorecard_id)
        since = since or datetime.now(UTC).date() - timedelta(days=29)
        ref = None
        if service is not None:
            row = _resolve_service(ctx, service)
            if row is None:
                raise ApiError(404, f"unknown service {service!r}")
            ref = row.ref
        query = (select(ScorecardResult.day, ScorecardResult.level, func.count(),
                        func.sum(ScorecardResult.score), func.count(ScorecardResult.score))
                 .where(col(ScorecardResult.scorecard) == card.id,
                        col(ScorecardResult.day) >= since)
                 .group_by(ScorecardResult.day, ScorecardResult.level))
        if ref:
            query = query.where(col(ScorecardResult.service) == ref)
        if team:
            query = query.where(_ref_match(ScorecardResult.owner, team))
        days: dict[date, dict[str, Any]] = {}
        for day, level, n, score_sum, scored in ctx.store.rows(query):
            item = days.setdefault(day, {"day": day.isoformat(), "services": 0, "levels": {},
                                         "sum": 0.0, "scored": 0})
            item["services"] += n
            item["levels"][level or NONE_LEVEL] = n
            item["sum"] += float(score_sum or 0)
            item["scored"] += scored
        points = [{k: v for k, v in item.items() if k not in ("sum", "scored")}
                  | {"average_score": round(item["sum"] / item["scored"], 4)
                     if item["scored"] else None}
                  for _, item in sorted(days.items())]
        return JSONResponse({"scorecard": card.id, "service": ref, "team": team,
                             "since": since.isoformat(), "days": points})


# --- findings, scans, decisions ------------------------------------------------------------

def _finding_routes(router: APIRouter, ctx: AppContext) -> None:
    @router.get("/findings", response_model=Page[FindingOut], tags=["findings"])
    def findings(request: Request, at: PagingDep, service: str | None = None,
                 policy: str | None = None, status: Status | None = None,
                 kind: Annotated[str | None, Query(pattern="^(k8s|repo|pipeline)$",
                                                   description="target kind")] = None,
                 severity: Severity | None = None,
                 scan: Annotated[int | None, Query(description="a scan's findings instead "
                                                   "of the current ones")] = None) -> Response:
        """The current findings (the newest ended scan of every scope and shard), or one
        scan's, with their targets."""
        if scan is not None and not ctx.store.rows(select(ScanRow.id).where(
                col(ScanRow.id) == scan)):
            raise ApiError(404, f"unknown scan {scan}")
        scan_ids = [scan] if scan is not None else ctx.store.current_scan_ids()
        ref = _service_ref(ctx, service)
        where = [col(FindingRow.scan_id).in_(scan_ids)] + [
            col(column) == str(value) for column, value in (
                (FindingRow.service, ref), (FindingRow.policy_id, policy),
                (FindingRow.status, status), (FindingRow.severity, severity),
                (TargetRow.kind, kind)) if value is not None]
        on_target = col(TargetRow.id) == col(FindingRow.target)
        query = select(FindingRow, TargetRow).join(TargetRow, on_target).where(*where)
        count = select(FindingRow.id).where(*where)  # counting needs no target, but by kind
        if kind is not None:
            count = count.join(TargetRow, on_target)
        rows, total = ctx.store.page(query.order_by(col(FindingRow.id)), limit=at.limit,
                                     offset=at.offset, count=count)
        return page_of(request, [{**_dump(f, "id", "target"), "target": _dump(t, "id")}
                               for f, t in rows], total, at)


def _scan_routes(reads: APIRouter, writes: APIRouter, ctx: AppContext) -> None:
    @reads.get("/scans", response_model=Page[ScanRow], tags=["scans"])
    def scans(request: Request, at: PagingDep, scope: str | None = None,
              status: str | None = None) -> Response:
        """Scans, newest first: status, trigger, counts, per-source errors."""
        query = select(ScanRow)
        if scope:
            query = query.where(col(ScanRow.scope) == scope)
        if status:
            query = query.where(col(ScanRow.status) == status)
        rows, total = ctx.store.page(query.order_by(col(ScanRow.id).desc()), limit=at.limit,
                                     offset=at.offset)
        return page_of(request, [_dump(r) for r in rows], total, at)

    @reads.get("/scans/{scan_id}", response_model=ScanRow, tags=["scans"])
    def scan(scan_id: int) -> Response:
        found = ctx.store.rows(select(ScanRow).where(col(ScanRow.id) == scan_id))
        if not found:
            raise ApiError(404, f"unknown scan {scan_id}")
        return JSONResponse(_dump(found[0]))

    @reads.get("/schedule", tags=["scans"])
    def schedule() -> dict[str, Any]:
        """The next scheduled scan (null when this server does not schedule)."""
        return {"next_run": ctx.scanner.next_run() if ctx.scanner else None}

    @writes.post("/scans", status_code=202, tags=["scans"])
    def scan_now() -> dict[str, Any]:
        """Start a scan now (token): 202 with its id, 409 while one of the scope runs."""
        if ctx.scanner is None:
            raise ApiError(503, "this server has no scanner configured")
        try:
            scan_id = ctx.scanner.start_now("api")
        except ScanBusy as exc:
            raise ApiError(409, str(exc)) from exc
        return {"scan_id": scan_id, "status": "running"}


def _decision_routes(router: APIRouter, ctx: AppContext) -> None:
    @router.get("/decisions", response_model=Page[DecisionLogEntry], tags=["admission"])
    def decisions(request: Request, at: PagingDep, namespace: str | None = None,
                  policy: str | None = None, allowed: bool | None = None,
                  since: datetime | None = None) -> Response:
        """The admission decision log, newest first. `policy`: entries that denied, warned
        or audited on it; `since` needs a time zone."""
        query = ctx.store.decisions_query(namespace=namespace, policy=policy, allowed=allowed,
                                          since=_aware(since, "since"))
        rows, total = ctx.store.page(query, limit=at.limit, offset=at.offset)
        return page_of(request, [_dump(r) for r in rows], total, at)


# --- policies ------------------------------------------------------------------------------

def _policy_out(p: Policy) -> dict[str, Any]:
    return {"id": p.id, "title": p.title, "description": p.description,
            "severity": p.severity.value, "enforcement": p.enforcement.value,
            "targets": list(p.targets), "kinds": list(p.kinds), "tags": list(p.tags),
            "language": p.language.value, "remediation": p.remediation, "url": p.url,
            "parameters": p.parameters, "file": p.location.file, "line": p.location.line}


def _policy_routes(router: APIRouter, ctx: AppContext) -> None:
    @router.get("/policies", response_model=Page[PolicyOut], tags=["policies"])
    def policies(request: Request, at: PagingDep, tag: str | None = None,
                 severity: Severity | None = None,
                 target: Annotated[str | None, Query(pattern="^(k8s|repo|pipeline)$")] = None,
                 ) -> Response:
        """The loaded policies' metadata, by id."""
        chosen = [p for _, p in sorted(ctx.policies.items())
                  if (tag is None or tag in p.tags) and (severity is None or p.severity ==
                                                         severity)
                  and (target is None or target in p.targets)]
        return page_in_memory(request, [_policy_out(p) for p in chosen], at)

    @router.get("/policies/{policy_id}", response_model=PolicyOut, tags=["policies"])
    def policy(policy_id: str) -> Response:
        found = ctx.policies.get(policy_id)
        if found is None:
            raise ApiError(404, f"unknown policy {policy_id!r}")
        return JSONResponse(_policy_out(found))


# --- pipeline runs and delivery ------------------------------------------------------------

def _delivery_routes(reads: APIRouter, writes: APIRouter, ctx: AppContext) -> None:
    @writes.post("/pipeline-runs", status_code=201, tags=["delivery"])
    def post_runs(runs: RunIn | list[RunIn]) -> dict[str, int]:
        """One pipeline run or a list (token); times need a time zone."""
        batch = runs if isinstance(runs, list) else [runs]
        for run in batch:
            for name in ("commit_time", "started_at", "finished_at"):
                _aware(getattr(run, name), name)
        ctx.store.add_pipeline_runs([PipelineRun(**run.model_dump()) for run in batch])
        return {"stored": len(batch)}

    @reads.get("/delivery", tags=["delivery"])
    def delivery(repository: str, days: int = Query(30, ge=1, le=365)) -> dict[str, Any]:
        """Delivery metrics of a repository from the posted runs."""
        now = datetime.now(UTC)
        window = timedelta(days=days)
        runs = ctx.store.pipeline_runs(repository=repository, since=now - window)
        return {"repository": repository, **delivery_metrics(runs, now, window)}
