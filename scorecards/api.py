"""The REST API of `pathwarden serve`: read what scans found, start a scan, post runs.

Reads are open to whoever reaches the server (put it behind the platform's SSO); every
write needs a bearer token from `api.tokens` / PATHWARDEN_API_TOKEN. With no token
configured, writes are refused rather than left open.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel, Field

from ..engine.scanner.delivery import delivery_metrics
from ..engine.scanner.schedule import Scanner
from ..engine.settings import ApiSettings
from ..engine.store import PipelineRun, ScanBusy, Store


class RunIn(BaseModel):
    """A pipeline run as CI posts it (e.g. a last step of the deploy job)."""

    repository: str = Field(description="owner/name slug or URL, as the catalog links it")
    pipeline: str | None = None
    run_id: str | None = None
    commit_sha: str | None = None
    commit_time: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime
    result: str = Field(pattern="^(success|failure|cancelled)$")
    deployment: bool = False
    environment: str | None = None
    url: str | None = None
    service: str | None = None


def create_api(store: Store, scanner: Scanner | None, api: ApiSettings) -> FastAPI:
    app = FastAPI(title="pathwarden API", version="1")

    def writer(authorization: Annotated[str | None, Header()] = None) -> None:
        if not api.tokens:
            raise HTTPException(403, "write endpoints are disabled: no API token is "
                                "configured (api.tokens or PATHWARDEN_API_TOKEN)")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not any(
                hmac.compare_digest(token.encode(), t.encode()) for t in api.tokens):
            raise HTTPException(401, "a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/scans")
    def scans(limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
        return [s.model_dump(mode="json") for s in store.scans(limit=limit)]

    @app.post("/api/v1/scans", status_code=202, dependencies=[Depends(writer)])
    def scan_now() -> dict[str, Any]:
        if scanner is None:
            raise HTTPException(503, "this server has no scanner configured")
        try:
            scan_id = scanner.start_now("api")
        except ScanBusy as exc:
            raise HTTPException(409, str(exc)) from exc
        return {"scan_id": scan_id, "status": "running"}

    @app.get("/api/v1/schedule")
    def schedule() -> dict[str, Any]:
        return {"next_run": scanner.next_run() if scanner else None}

    @app.get("/api/v1/findings")
    def findings(service: str | None = None, policy: str | None = None,
                 status: str | None = None) -> list[dict[str, Any]]:
        """Findings of the latest ended scan of every scope and shard."""
        rows = store.current_findings(service=service, policy=policy, status=status)
        return [{**f.model_dump(mode="json", exclude={"id", "target"}),
                 "target": t.model_dump(mode="json", exclude={"id"})} for f, t in rows]

    @app.get("/api/v1/services")
    def services() -> list[dict[str, Any]]:
        return [s.model_dump(mode="json", exclude={"id"}) for s in store.services()]

    @app.post("/api/v1/pipeline-runs", status_code=201, dependencies=[Depends(writer)])
    def post_runs(runs: RunIn | list[RunIn]) -> dict[str, int]:
        batch = runs if isinstance(runs, list) else [runs]
        for run in batch:
            for name in ("commit_time", "started_at", "finished_at"):
                value = getattr(run, name)
                if value is not None and value.utcoffset() is None:
                    raise HTTPException(422, f"{name} needs a time zone (e.g. 2026-11-24T"
                                        "10:00:00Z)")
        store.add_pipeline_runs([PipelineRun(**run.model_dump()) for run in batch])
        return {"stored": len(batch)}

    @app.get("/api/v1/delivery")
    def delivery(repository: str, days: int = Query(30, ge=1, le=365)) -> dict[str, Any]:
        now = datetime.now(UTC)
        window = timedelta(days=days)
        runs = store.pipeline_runs(repository=repository, since=now - window)
        return {"repository": repository, **delivery_metrics(runs, now, window)}

    return app
