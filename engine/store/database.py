"""From a configured URL to a SQLAlchemy engine that behaves the same on SQLite and PostgreSQL.

Only these two backends are accepted: they are the ones the migrations are tested on.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from ..errors import StoreError, truncate

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite writer waits for another process's write lock before failing."""
PG_CONNECT_TIMEOUT_SECONDS = 10
"""Without it an unreachable PostgreSQL host hangs a command for the TCP timeout."""

_USERINFO = re.compile(r"^(?P<scheme>[^:/?#]+://)(?P<user>[^:@/]*):(?P<secret>.*)@(?P<rest>[^@]*)$")
_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&]*")
_BEGIN_MODES = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def mask_url(url: str) -> str:
    """The URL safe to print: passwords (in the userinfo or a `password=` query parameter)
    become `***`. Works on text SQLAlchemy cannot parse, since that is when it gets printed."""
    match = _USERINFO.match(url)
    if match:
        url = f"{match['scheme']}{match['user']}:***@{match['rest']}"
    return _PASSWORD_PARAM.sub(r"\1***", url)


def store_error(url: str, doing: str, cause: BaseException) -> StoreError:
    """One message shape for every database failure: which database, what, and why."""
    reason = getattr(cause, "orig", None) or cause  # the driver's words, not SQLAlchemy's
    text = " ".join(str(reason).split()) or type(reason).__name__
    return StoreError(f"database {mask_url(url)}: {doing}: {truncate(text)}")


def parse_url(url: str) -> URL:
    """`postgresql://` and `postgres://` mean psycopg 3, the driver pathwarden ships with."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise store_error(url, "not a database URL", exc) from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise StoreError(f"database {mask_url(url)}: unsupported URL scheme {parsed.drivername!r}; "
                     "use sqlite:///path/to/file.db or postgresql://user@host/database")


def create(url: str) -> Engine:
    """An engine for `url` (as configured); raises StoreError."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite(parsed)
        return _postgresql(parsed)
    except (OSError, ArgumentError, ImportError) as exc:
        raise store_error(url, "cannot create engine", exc) from exc


def _postgresql(url: URL) -> Engine:
    connect_args = {} if "connect_timeout" in url.query else {
        "connect_timeout": PG_CONNECT_TIMEOUT_SECONDS}
    # pre-ping: long-lived processes (webhook, serve) survive a database restart.
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def _is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def _sqlite(url: URL) -> Engine:
    memory = _is_memory(url)
    if not memory and not (url.database or "").startswith("file:"):
        directory = Path(url.database or "").parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_error(url.render_as_string(), f"cannot create {directory}", exc) from exc
    kwargs: dict[str, Any] = {
        # Sessions are created per call on whichever thread calls; SQLite's own check would
        # refuse a pooled connection that moved to another thread.
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
    }
    if memory:
        kwargs["poolclass"] = StaticPool  # one connection, or every thread sees its own empty db
    engine = create_engine(url, **kwargs)
    _make_sqlite_transactional(engine, wal=not memory)
    return engine


def _make_sqlite_transactional(engine: Engine, *, wal: bool) -> None:
    """Let SQLAlchemy, not the sqlite3 module, emit BEGIN (SQLAlchemy's documented recipe).

    The sqlite3 module starts transactions only before DML, so DDL would autocommit and a
    migration could be half-applied. Emitting BEGIN ourselves makes migrations atomic, and
    `execution_options(sqlite_begin="IMMEDIATE")` takes the write lock up front, which is how
    two processes opening a new database at once are serialised.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if wal:
                _enable_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        if mode not in _BEGIN_MODES:
            raise ValueError(f"sqlite_begin={mode!r}; use one of {_BEGIN_MODES}")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """WAL lets readers and the writer work at once; the mode is stored in the file.

    Switching needs the database to itself, and SQLite reports "locked" at once (it does not
    wait) while another process holds a transaction, e.g. migrating the same new file. The
    switch is then left to this engine's next connection: until then the database works,
    just in the default journal mode.
    """
    mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            return
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough under WAL, not without
