"""What the REST API answers and accepts: the response and request models (OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

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


# --- waivers and campaigns ---------------------------------------------------------------

WAIVER_ID = r"^[a-z0-9][a-z0-9._-]*$"


class ErrorOut(BaseModel):
    """Every error under /api/v1."""

    error: str = Field(description="what is wrong")
    detail: Any = Field(None, description="more, or null")


class WaiverIn(BaseModel):
    """A waiver request: the `spec` of a waiver file plus its id. `requestedBy` is the
    token's name and the cap on `expires` counts from now, so neither comes from here."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(validation_alias=AliasChoices("id", "name"), pattern=WAIVER_ID,
                    max_length=200, description="the waiver id (lowercase letters, digits, "
                    ". _ -); `name` is accepted too, as in a file's metadata.name")
    policies: list[str] = Field(default_factory=list,
                                description="policy ids or tags, globs allowed")
    services: list[str] = Field(default_factory=list,
                                description="service refs or names (globs)")
    namespaces: list[str] = Field(default_factory=list)
    objects: list[str] = Field(default_factory=list,
                               description="`Kind/namespace/name` (globs)")
    repositories: list[str] = Field(default_factory=list)
    pipelines: list[str] = Field(default_factory=list)
    reason: str | None = Field(None, description="why the deviation is needed")
    expires: str | None = Field(None, description="a day (`2026-12-31`: all of it, in "
                                "governance.timezone) or an RFC 3339 timestamp; at most "
                                "governance.waivers.max_days ahead")


class DecisionIn(BaseModel):
    """Optional body of approve / reject / revoke; the comment goes into the audit trail."""

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(None, max_length=2000)


class WaiverOut(BaseModel):
    id: str
    source: str = Field(description="`file` (reviewed in git) or `api`")
    state: str = Field(description="as stored: requested | approved | rejected | revoked | "
                       "removed (a file taken away)")
    status: str = Field(description="what it does now: active | expired | requested | "
                        "rejected | revoked | removed")
    policies: list[str]
    services: list[str]
    namespaces: list[str]
    objects: list[str]
    repositories: list[str]
    pipelines: list[str]
    reason: str
    requested_by: str
    approved_by: str | None
    requested_at: datetime | None
    decided_at: datetime | None
    updated_at: datetime | None
    expires: str = Field(description="as written")
    expires_at: datetime = Field(description="the first instant it no longer applies")
    days_left: int = Field(description="calendar days to its last day in "
                           "governance.timezone (0: expires today; negative once past)")
    used: int = Field(description="current findings it excuses")
    location: str | None = Field(description="file and line of a file waiver")


class WaiverEventOut(BaseModel):
    time: datetime
    actor: str = Field(description="the token's name, or `file:<path>` for a change in git")
    action: str = Field(description="requested | approved | rejected | revoked | created | "
                        "changed | removed")
    detail: dict[str, Any]


class CampaignPhaseOut(BaseModel):
    enforcement: str
    from_: str = Field(alias="from")


class CampaignOut(BaseModel):
    id: str
    title: str
    owner: str
    goal: str
    policies: list[str] = Field(description="as the campaign names them (ids, tags, globs)")
    covered_policies: list[str] = Field(description="the loaded policies it covers")
    start: str
    deadline: str
    timezone: str
    state: str = Field(description="scheduled | running | past-deadline")
    days_left: int
    phase: CampaignPhaseOut | None
    next_phase: CampaignPhaseOut | None
    schedule: list[CampaignPhaseOut]
    services_filter: dict[str, Any]
    counts: dict[str, int] = Field(description="services compliant / waived / failing / "
                                   "no-data")
    by_team: dict[str, dict[str, int]]
    services: list[dict[str, Any]]
    trend: list[dict[str, Any]] = Field(description="per day: services per status")


# --- the app --------------------------------------------------------------------------------
