"""The store's tables.

Every table subclasses `StoreModel`, so all of them share one `metadata` (with constraint
naming conventions: SQLite batch migrations can only drop constraints that have names) and
one alembic chain in `migrations/versions/`. Changing a table here means adding a migration;
`tests/test_store.py` fails when the models and the migrations disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, MetaData
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
    reason: str | None = None
    """The deny message as sent (already truncated by the webhook)."""
    latency_ms: float
    error: str | None = None
    """Why no decision could be made, when the failure mode answered instead."""
    service: str | None = None
