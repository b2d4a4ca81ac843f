"""The store's tables.

Every table subclasses `StoreModel`, so all of them share one `metadata` (with constraint
naming conventions: SQLite batch migrations can only drop constraints that have names) and
one alembic chain in `migrations/versions/`. Changing a table here means adding a migration;
`tests/test_store.py` fails when the models and the migrations disagree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Index, Integer, MetaData
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ROW_ID = BigInteger().with_variant(Integer(), "sqlite")
"""BIGINT on PostgreSQL (a busy webhook outgrows 2**31 decisions); INTEGER on SQLite, where
only `INTEGER PRIMARY KEY` is the auto-incrementing rowid."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend.

    SQLite stores no offset and PostgreSQL answers in the session's time zone; normalising
    here keeps both facts out of callers. Naive values are refused rather than guessed at.
    Stored on SQLite as naive UTC text, whose fixed format sorts and compares correctly.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a time zone (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StoreModel(SQLModel):
    """Base of every store table: the shared metadata, not SQLModel's process-wide one."""

    metadata: ClassVar[MetaData] = metadata


class DecisionLogEntry(StoreModel, table=True):
    """One admission decision, as the webhook answered it (or why it could not)."""

    __tablename__ = "decision_log"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    uid: str = Field(index=True)
    """The AdmissionRequest uid, to match API server audit logs."""
    time: datetime = Field(sa_type=UTCDateTime, index=True)
    operation: str
    kind: str
    api_group: str = ""
    namespace: str | None = Field(default=None, index=True)
    name: str | None = None
    user: str
    allowed: bool
    dry_run: bool = False
    denied: list[str] = Field(default_factory=list, sa_type=JSON)
    """Ids of the failing policies enforced at deny level."""
    warned: list[str] = Field(default_factory=list, sa_type=JSON)
    audited: list[str] = Field(default_factory=list, sa_type=JSON)
    """Failing audit-only policies: recorded, never shown to the requester."""
    waived: list[str] = Field(default_factory=list, sa_type=JSON)
    """Failing policies a valid waiver excused (0005)."""
    reason: str | None = None
    """The deny message as sent (already truncated by the webhook)."""
    latency_ms: float
    error: str | None = None
    """Why no decision could be made, when the failure mode answered instead."""
    service: str | None = None


class ServiceRow(StoreModel, table=True):
    """A catalog Component as of the latest scan; the catalog is the source of truth."""

    __tablename__ = "services"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    ref: str = Field(unique=True)
    """`component:default/shop-web`."""
    name: str
    title: str | None = None
    owner: str | None = Field(default=None, index=True)
    """`group:default/team-shop`."""
    type: str | None = None
    lifecycle: str | None = None
    system: str | None = None
    domain: str | None = None
    tier: str | None = None
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    links: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    location: str | None = None
    updated_at: datetime = Field(sa_type=UTCDateTime)


class TargetRow(StoreModel, table=True):
    """Everything pathwarden has judged, with its service; findings point here."""

    __tablename__ = "targets"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    target_id: str = Field(unique=True)
    """The stable Target id: `k8s:shop/apps/v1/Deployment/web`, `repo:shop-web`, …"""
    kind: str
    object_kind: str | None = None
    name: str
    namespace: str | None = None
    service: str | None = Field(default=None, index=True)
    source: str | None = None
    location: str | None = None
    first_seen: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime)


class ScanRow(StoreModel, table=True):
    """One run of sources -> evaluate -> store. Its findings count only once it ended."""

    __tablename__ = "scans"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    scope: str = Field(index=True)
    """What was scanned (`all` or the configured scope name); one scan per scope at a time."""
    shard: int = 0
    shards: int = 1
    status: str = Field(index=True)
    """running | succeeded | partial (some sources failed) | failed."""
    trigger: str = "cli"
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    errors: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    """Per source: `{"source", "error"}` or `{"source", "problem", "file", "line"}`."""


class FindingRow(StoreModel, table=True):
    """One policy on one target in one scan."""

    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_status_scan_id", "status", "scan_id"),)
    """The current findings of one status are counted from the index and paged in id order
    (0004; see bench/dashboard.py)."""

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    scan_id: int = Field(foreign_key="scans.id", index=True, sa_type=ROW_ID,
                         ondelete="CASCADE")
    target: int = Field(foreign_key="targets.id", index=True, sa_type=ROW_ID)
    policy_id: str = Field(index=True)
    service: str | None = Field(default=None, index=True)
    status: str
    severity: str
    enforcement: str
    violations: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    """`[{"msg", "path", "kind": "deny" | "warn"}]`; null when the policy passed."""
    error: str | None = None
    waiver: str | None = Field(default=None, index=True)
    """The waiver that excused this finding (status `waived`; 0005)."""


class FindingDay(StoreModel, table=True):
    """Daily counts per service and policy: the history that outlives pruned scans."""

    __tablename__ = "finding_days"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    day: date = Field(index=True)
    scope: str
    """`all#0/1`: the scan scope and shard, so shards of one estate add up, not overwrite."""
    service: str = Field(index=True)
    """The service ref, or `unowned`."""
    policy_id: str
    counts: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    """Targets by status on that day's last scan: `{"pass": 3, "fail": 1}`."""


class PipelineRun(StoreModel, table=True):
    """A CI/CD run posted to the API: the facts behind delivery metrics."""

    __tablename__ = "pipeline_runs"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    repository: str = Field(index=True)
    """`owner/name` slug or URL, as the catalog links it."""
    service: str | None = Field(default=None, index=True)
    pipeline: str | None = None
    run_id: str | None = None
    commit_sha: str | None = None
    commit_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime = Field(sa_type=UTCDateTime, index=True)
    result: str
    """success | failure | cancelled."""
    deployment: bool = False
    environment: str | None = None
    url: str | None = None


class ScorecardResult(StoreModel, table=True):
    """One service on one scorecard on one day (a later computation that day replaces it)."""

    __tablename__ = "scorecard_results"
    __table_args__ = (
        Index("ix_scorecard_results_scorecard_day_service", "scorecard", "day", "service"),
        Index("ix_scorecard_results_scorecard_day_level", "scorecard", "day", "level",
              "score"),
    )
    """A scorecard's day in service order, and its history's level counts, from indexes
    alone (0004; see bench/dashboard.py)."""

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    day: date = Field(index=True)
    scorecard: str = Field(index=True)
    service: str = Field(index=True)
    owner: str | None = Field(default=None, index=True)
    system: str | None = None
    level: str | None = None
    """The highest level reached, or null when not even the first."""
    level_index: int = -1
    score: float | None = None
    """Weighted share of applicable rules passed (0-1); null when no rule applies."""
    rules: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    """Per rule: id, title, level, status (pass|fail|warn|error|waived|n/a), weight,
    counts by finding status, since (first failed), fixed (last fixed)."""
    scan_id: int | None = None
    computed_at: datetime = Field(sa_type=UTCDateTime)


class WaiverRow(StoreModel, table=True):
    """A waiver as the API and the audit trail know it: requested through the API, or
    read from a reviewed file (kept in step at each load, so its history is complete)."""

    __tablename__ = "waivers"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    waiver_id: str = Field(unique=True)
    source: str
    """`api` or `file`."""
    location: str | None = None
    state: str = Field(index=True)
    """requested | approved | rejected | revoked (| removed, for a file taken away)."""
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """The waiver's `spec` as a file would hold it (policies, covers, reason, people,
    expires)."""
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    requested_by: str
    approved_by: str | None = None
    requested_at: datetime = Field(sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class WaiverEvent(StoreModel, table=True):
    """The audit trail: who did what to which waiver, and when."""

    __tablename__ = "waiver_events"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    waiver_id: str = Field(index=True)
    time: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str
    """The API token's name, or `file:<path>` for a change made in git."""
    action: str
    """requested | approved | rejected | revoked | created | changed | removed."""
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class NotificationRow(StoreModel, table=True):
    """An outgoing notification: claimed once by its event key, so none is sent twice."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True, sa_type=ROW_ID)
    event_key: str = Field(unique=True)
    """`campaign/<id>/phase/<from>/team/<owner>` or `.../deadline/<n>d/team/<owner>`."""
    campaign: str = Field(index=True)
    team: str
    event: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(index=True)
    """pending | sending | sent | failed | skipped."""
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
