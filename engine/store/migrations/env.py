"""Alembic's entry point, run by `pathwarden.engine.store.migrate`, never from an alembic.ini.

The caller hands over an open connection (already in a transaction and holding the migration
lock) and the target metadata through `config.attributes`. So this file imports nothing from
pathwarden: alembic loads it by path, outside the package.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy.types import TypeDecorator


def _render_item(kind: str, obj: Any, _context: Any) -> str | bool:
    """Autogenerate writes our TypeDecorators as their plain SQL type, so migration files
    depend on SQLAlchemy only and stay valid when the models change."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def run() -> None:
    if context.is_offline_mode():
        raise RuntimeError("offline (--sql) migrations are not supported; run "
                           "`pathwarden db upgrade` against the database")
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `pathwarden db upgrade` (or Store.open), "
                           "which provide the connection")
    context.configure(
        connection=connection,
        target_metadata=context.config.attributes.get("target_metadata"),
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        render_item=_render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
