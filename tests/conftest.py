"""Shared fixtures: writing policy directories and manifests into a temp folder."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@pytest.fixture
def write(tmp_path: Path):
    """write("dir/file.rego", text) -> Path, with the text dedented."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


def rego_policy(policy_id: str, package: str, body: str, **custom: str) -> str:
    extra = "".join(f"#   {k}: {v}\n" for k, v in custom.items())
    return (
        "# METADATA\n# title: T\n# custom:\n"
        f"#   id: {policy_id}\n#   kinds: [Pod]\n{extra}"
        f"package {package}\n\nimport rego.v1\n\n{textwrap.dedent(body).strip()}\n"
    )


# The store's databases: SQLite in a temp dir, and a fresh PostgreSQL database per module
# on the local server (required, not optional), in a non-UTC time zone.
@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    name = f"pathwarden_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("ALTER DATABASE {} SET timezone TO 'Asia/Kolkata'").format(
            sql.Identifier(name)))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def _empty_pg_schema(url: str) -> None:
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={dbname}",
                         autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database; for SQLite in a directory that does not exist yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'pathwarden.db'}"
        return
    pg_url: str = request.getfixturevalue("pg_database")
    _empty_pg_schema(pg_url)
    yield pg_url
