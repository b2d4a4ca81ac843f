"""`Store`: the one handle on pathwarden's database, SQLite or PostgreSQL.

A Store holds only an engine (a thread-safe connection pool); every method opens its own
Session, so one Store is shared by request handlers and background writer threads alike.
Database failures leave it as `StoreError`, naming the URL (password masked) and the cause.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any

from alembic.util import CommandError
from sqlalchemy import ColumnElement, Connection, Engine, exists, func, literal, or_, text
from sqlalchemy import select as sql_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from . import database, migrate, scans
from .governance import GovernanceStore
from .models import (
    DecisionLogEntry,
    FindingDay,
    FindingRow,
    PipelineRun,
    ScanRow,
    ScorecardResult,
    ServiceRow,
    TargetRow,
)


class Store(GovernanceStore):
    def __init__(self, engine: Engine, url: str) -> None:
        """Use `Store.open`; this takes an engine already set up by `database.create`."""
        self._engine = engine
        self._url = url

    @classmethod
    def open(cls, url: str, *, upgrade: bool = True) -> Store:
        """Connect and bring the schema to head (idempotent, safe when processes race).

        `upgrade=False` only checks that the database answers (for `pathwarden db current`).
        """
        store = cls(database.create(url), url)
        try:
            store.ping()  # "cannot connect" is a clearer first failure than a migration's
            if upgrade:
                store.upgrade()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def url(self) -> str:
        """The URL as configured, password masked: safe for logs."""
        return database.mask_url(self._url)

    def ping(self) -> None:
        with self._errors("cannot connect"), self._engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to head; returns the revisions (before, after). `open` does this."""
        with self._errors("cannot upgrade the schema"):
            return migrate.upgrade(self._engine)

    def schema_revision(self) -> str | None:
        """The database's alembic revision; None before the schema was ever created."""
        with self._errors("cannot read the schema revision"), self._engine.connect() as conn:
            return migrate.current_revision(conn)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def add_decisions(self, entries: Sequence[DecisionLogEntry]) -> None:
        """All or nothing, in one transaction: the webhook's writer sends its batches here.

        The entries get their ids and stay usable afterwards (they are not expired).
        """
        for entry in entries:
            _require_aware(entry.time, "DecisionLogEntry.time")
        if not entries:
            return
        with self._errors("cannot write decisions"), self._session() as session:
            session.add_all(entries)
            session.commit()

    def decisions(self, *, limit: int = 100, offset: int = 0, namespace: str | None = None,
                  policy: str | None = None, allowed: bool | None = None,
                  since: datetime | None = None) -> list[DecisionLogEntry]:
        """Newest first. `policy` matches entries that denied, warned or audited on it."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, not {offset}")
        query = self.decisions_query(namespace=namespace, policy=policy, allowed=allowed,
                                     since=since).limit(limit).offset(offset)
        with self._errors("cannot read decisions"), self._session() as session:
            return list(session.exec(query).all())

    def decisions_query(self, *, namespace: str | None = None, policy: str | None = None,
                        allowed: bool | None = None,
                        since: datetime | None = None) -> SelectOfScalar[DecisionLogEntry]:
        """The filtered decision log, newest first, unexecuted: for `page` (the API counts
        and pages it in SQL) and `decisions`. The policy filter differs per dialect."""
        query = select(DecisionLogEntry)
        if namespace is not None:
            query = query.where(col(DecisionLogEntry.namespace) == namespace)
        if allowed is not None:
            query = query.where(col(DecisionLogEntry.allowed) == allowed)
        if since is not None:
            _require_aware(since, "since")
            query = query.where(col(DecisionLogEntry.time) >= since)
        if policy is not None:
            dialect = self._engine.dialect.name
            query = query.where(or_(*(
                _json_list_contains(column, policy, dialect) for column in (
                    col(DecisionLogEntry.denied), col(DecisionLogEntry.warned),
                    col(DecisionLogEntry.audited)))))
        return query.order_by(col(DecisionLogEntry.time).desc(),
                              col(DecisionLogEntry.id).desc())

    # --- reads composed by callers (the REST API) ------------------------------------------

    def page(self, query: Select[Any] | SelectOfScalar[Any], *, limit: int, offset: int = 0,
             count: Select[Any] | SelectOfScalar[Any] | None = None) -> tuple[list[Any], int]:
        """One page of `query` and the number of rows it pages through, both in SQL: list
        endpoints must not load a whole table to show a hundred rows of it. `count`: the
        same rows more cheaply (without a join that only adds columns), when there is one."""
        counted = sql_select(func.count()).select_from(
            (count if count is not None else query).order_by(None).subquery())
        with self._errors("cannot read"), self._session() as session:
            total = int(session.execute(counted).scalar_one())
            if offset >= total:
                return [], total
            return list(session.exec(query.limit(limit).offset(offset)).all()), total

    def rows(self, query: Select[Any] | SelectOfScalar[Any]) -> list[Any]:
        """All rows of a select over the store's tables (small answers: counts, one row)."""
        with self._errors("cannot read"), self._session() as session:
            return list(session.exec(query).all())

    def current_scan_ids(self) -> list[int]:
        """The newest ended scan of every scope and shard: what "current findings" means."""
        with self._errors("cannot read scans"), self._engine.connect() as conn:
            return scans.latest_scan_ids(conn)

    # --- scans -------------------------------------------------------------------------

    def start_scan(self, scope: str, *, shard: int = 0, shards: int = 1,
                   trigger: str = "cli") -> int:
        """A new running scan's id; raises ScanBusy when one of this scope and shard runs."""
        with self._errors("cannot start a scan"), self._begin() as conn:
            return scans.start_scan(conn, scope, shard, shards, trigger, _now())

    def write_scan(self, scan_id: int, result: scans.ScanResult) -> None:
        """All findings and the scan's end in one transaction: visible at once, or not."""
        with self._errors("cannot write the scan"), self._begin() as conn:
            scans.write_scan(conn, scan_id, result, _now())

    def fail_scan(self, scan_id: int, errors: Sequence[dict[str, Any]]) -> None:
        with self._errors("cannot record the failed scan"), self._begin() as conn:
            scans.fail_scan(conn, scan_id, errors, _now())

    def prune(self, retention: timedelta) -> int:
        with self._errors("cannot prune old scans"), self._begin() as conn:
            return scans.prune(conn, retention, _now())

    def scans(self, *, limit: int = 50, scope: str | None = None) -> list[ScanRow]:
        query = select(ScanRow)
        if scope is not None:
            query = query.where(col(ScanRow.scope) == scope)
        query = query.order_by(col(ScanRow.id).desc()).limit(limit)
        with self._errors("cannot read scans"), self._session() as session:
            return list(session.exec(query).all())

    def current_findings(self, *, service: str | None = None, policy: str | None = None,
                         status: str | None = None) -> list[tuple[FindingRow, TargetRow]]:
        """Findings of the newest ended scan of every scope and shard (the estate now)."""
        with self._errors("cannot read findings"), self._session() as session:
            latest = scans.latest_scan_ids(session.connection())
            if not latest:
                return []
            query = (select(FindingRow, TargetRow)
                     .join(TargetRow, col(TargetRow.id) == col(FindingRow.target))
                     .where(col(FindingRow.scan_id).in_(latest)))
            if service is not None:
                query = query.where(col(FindingRow.service) == service)
            if policy is not None:
                query = query.where(col(FindingRow.policy_id) == policy)
            if status is not None:
                query = query.where(col(FindingRow.status) == status)
            return [(f, t) for f, t in session.exec(query).all()]

    def services(self) -> list[ServiceRow]:
        with self._errors("cannot read services"), self._session() as session:
            return list(session.exec(select(ServiceRow).order_by(col(ServiceRow.ref))).all())

    def finding_days(self, *, since: date | None = None) -> list[FindingDay]:
        query = select(FindingDay)
        if since is not None:
            query = query.where(col(FindingDay.day) >= since)
        with self._errors("cannot read history"), self._session() as session:
            return list(session.exec(query.order_by(col(FindingDay.day))).all())

    def finding_counts(self) -> dict[tuple[str | None, str], dict[str, int]]:
        """(service, policy) -> {status: targets} over the current scans, counted in SQL."""
        with self._errors("cannot read findings"), self._session() as session:
            latest = scans.latest_scan_ids(session.connection())
            if not latest:
                return {}
            query = (sql_select(FindingRow.service, FindingRow.policy_id, FindingRow.status,
                                func.count())
                     .where(col(FindingRow.scan_id).in_(latest))
                     .group_by(FindingRow.service, FindingRow.policy_id, FindingRow.status))
            counts: dict[tuple[str | None, str], dict[str, int]] = {}
            for service, policy, status, n in session.execute(query):
                counts.setdefault((service, policy), {})[status] = n
            return counts

    # --- scorecards ----------------------------------------------------------------------

    def write_scorecard_results(self, day: date, results: Sequence[dict[str, Any]]) -> None:
        """Replace the day's results of the scorecards given, in one transaction."""
        table = ScorecardResult.__table__  # type: ignore[attr-defined]
        cards = sorted({r["scorecard"] for r in results})
        now = _now()
        with self._errors("cannot write scorecard results"), self._begin() as conn:
            if cards:
                conn.execute(table.delete().where(table.c.day == day,
                                                  table.c.scorecard.in_(cards)))
            rows = [{**r, "day": day, "computed_at": now} for r in results]
            for start in range(0, len(rows), 2000):
                conn.execute(table.insert(), rows[start:start + 2000])

    def scorecard_results(self, *, day: date | None = None, scorecard: str | None = None,
                          service: str | None = None, owner: str | None = None,
                          since: date | None = None) -> list[ScorecardResult]:
        """One day's results (the latest day when neither day nor since is given), or every
        day from `since` on (history)."""
        query = select(ScorecardResult)
        with self._errors("cannot read scorecard results"), self._session() as session:
            if since is not None:
                query = query.where(col(ScorecardResult.day) >= since)
            else:
                if day is None:
                    day = session.exec(sql_select(func.max(ScorecardResult.day))).one()[0]
                    if day is None:
                        return []
                query = query.where(col(ScorecardResult.day) == day)
            if scorecard is not None:
                query = query.where(col(ScorecardResult.scorecard) == scorecard)
            if service is not None:
                query = query.where(col(ScorecardResult.service) == service)
            if owner is not None:
                query = query.where(col(ScorecardResult.owner) == owner)
            query = query.order_by(col(ScorecardResult.day), col(ScorecardResult.service))
            return list(session.exec(query).all())

    def latest_scorecard_day(self, before: date | None = None) -> date | None:
        query = sql_select(func.max(ScorecardResult.day))
        if before is not None:
            query = query.where(col(ScorecardResult.day) < before)
        with self._errors("cannot read scorecard results"), self._session() as session:
            return session.execute(query).one()[0]

    # --- pipeline runs -----------------------------------------------------------------

    def add_pipeline_runs(self, runs: Sequence[PipelineRun]) -> None:
        for run in runs:
            _require_aware(run.finished_at, "PipelineRun.finished_at")
        with self._errors("cannot write pipeline runs"), self._session() as session:
            session.add_all(runs)
            session.commit()

    def pipeline_runs(self, *, repository: str | None = None,
                      since: datetime | None = None) -> list[PipelineRun]:
        query = select(PipelineRun)
        if repository is not None:
            query = query.where(col(PipelineRun.repository) == repository)
        if since is not None:
            query = query.where(col(PipelineRun.finished_at) >= since)
        with self._errors("cannot read pipeline runs"), self._session() as session:
            return list(session.exec(query.order_by(col(PipelineRun.finished_at))).all())

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def _session(self) -> Session:
        # Not expiring on commit: callers keep using the objects after the session is gone.
        return Session(self._engine, expire_on_commit=False)

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (SQLAlchemyError, CommandError, migrate.UnknownRevisionError, OSError) as exc:
            raise database.store_error(self._url, doing, exc) from exc

    def __repr__(self) -> str:
        return f"Store({self.url!r})"


def _now() -> datetime:
    return datetime.now(UTC)


def _require_aware(value: datetime, what: str) -> None:
    """Checked before any SQL runs, so a caller's bug is a ValueError, not a StoreError."""
    if value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime ({value.isoformat()}); give it a "
                         "time zone, e.g. datetime.now(UTC)")


def _json_list_contains(column: Any, value: str, dialect: str) -> ColumnElement[bool]:
    """`value` is an element of the JSON array in `column`, exactly (no text matching).

    Both backends expand a JSON array into a table with a `value` column; only the function
    name differs (SQLite `json_each`, PostgreSQL `json_array_elements_text`).
    """
    if dialect == "postgresql":
        elements = func.json_array_elements_text(column).table_valued("value").render_derived()
    else:
        elements = func.json_each(column).table_valued("value")
    return exists(sql_select(literal(1)).select_from(elements).where(elements.c.value == value))
