"""Schema upgrades through alembic, driven from code: users never need an alembic.ini.

Every process that opens the store upgrades it, so upgrades must be safe to race: each runs
in one transaction behind a lock (a PostgreSQL advisory lock; on SQLite `BEGIN IMMEDIATE`,
the database's write lock). The loser waits, then finds the schema at head and does nothing.
Both backends have transactional DDL, so a failed upgrade leaves the previous schema intact.
Within one process, upgrades also take a thread lock: alembic keeps the running migration's
context in a module global, so two at once (even on different databases) would mix them up.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

from .models import metadata

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
PG_LOCK_KEY = 0x7061746877617264  # "pathward": any constant no other application uses
_ALEMBIC_LOCK = threading.Lock()


class UnknownRevisionError(Exception):
    """The database was migrated by a newer pathwarden; this one must not touch it."""


def alembic_config(connection: Connection | None = None) -> Config:
    """The configuration alembic's commands need, e.g. to write a new revision:
    `command.revision(alembic_config(conn), "add scans", autogenerate=True, rev_id="0002")`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["target_metadata"] = metadata
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """The revision this version of pathwarden's models correspond to."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The database's revision; None when pathwarden never created its schema there."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to head; returns the revisions (before, after)."""
    head = head_revision()
    with _ALEMBIC_LOCK, engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": PG_LOCK_KEY})
            before = current_revision(connection)
            if before == head:
                return before, head
            config = alembic_config(connection)
            _check_known(config, before)
            command.upgrade(config, "head")
    return before, head


def _check_known(config: Config, revision: str | None) -> None:
    if revision is None:
        return
    try:
        known = ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise UnknownRevisionError(
            f"the schema is at revision {revision}, which this pathwarden does not know "
            f"(its newest is {head_revision()}); was the database upgraded by a newer version?")
