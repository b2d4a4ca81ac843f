"""What the REST API answers and accepts: the response and request models (OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from ..engine.model import Severity, Status
from ..engine.store import (
    ScorecardResult,
    ServiceRow,
    TargetRow,
)
from .views import NONE_LEVEL

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="rows matching the filters, over all pages")
    limit: int
    offset: int
    next: str | None = Field(description="path and query of the next page; null on the last")


class ResultsPage(Page[ScorecardResult]):
    scorecard: str
    day: date | None = Field(description="the day shown: the given one, else the latest")


class FindingOut(BaseModel):
    scan_id: int
    policy_id: str
    service: str | None
    status: Status
    severity: Severity
    enforcement: str
    violations: list[dict[str, Any]] | None
    error: str | None
    target: TargetRow


class ServiceDetail(BaseModel):
    service: ServiceRow
    scorecards: list[dict[str, Any]] = Field(
        description="the latest day's results, each with `next_level` and the `blocking` "
                    "rules that keep the service from it")
    findings: dict[str, int] = Field(description="current findings by status")


class RuleOut(BaseModel):
    id: str
    title: str
    kind: str
    target: str
    weight: float
    op: str | None = None
    value: Any = None
    remediation: str = ""


class LevelOut(BaseModel):
    name: str
    rules: list[RuleOut]


class ScorecardOut(BaseModel):
    id: str
    title: str
    description: str
    golden_path: str
    filter: dict[str, list[str]]
    levels: list[LevelOut]
    file: str | None


class HistoryDay(BaseModel):
    day: date
    services: int
    levels: dict[str, int] = Field(description=f"services per level (`{NONE_LEVEL}`: below "
                                               "the first)")
    average_score: float | None


class History(BaseModel):
    scorecard: str
    service: str | None
    team: str | None
    since: date
    days: list[HistoryDay]


class PolicyOut(BaseModel):
    id: str
    title: str
    description: str
    severity: Severity
    enforcement: str
    targets: list[str]
    kinds: list[str]
    tags: list[str]
    language: str
    remediation: str
    url: str | None
    parameters: dict[str, Any]
    file: str | None
    line: int | None


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


# --- the app --------------------------------------------------------------------------------
