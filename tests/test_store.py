"""The store on both backends it supports: SQLite (a file under tmp_path) and PostgreSQL.

PostgreSQL is required, not optional: the server at 127.0.0.1:5432 (user postgres, trust
auth) gets a fresh database for this module, dropped afterwards, and each test starts from
an empty schema. That database runs in a non-UTC time zone, so the UTC round trip is real.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pathwarden.engine.cli.main import main
from pathwarden.engine.store import (
    DecisionLogEntry,
    Store,
    StoreError,
    head_revision,
    mask_url,
    metadata,
)
from pathwarden.engine.store.database import create, parse_url
from sqlalchemy import text

UNREACHABLE = "postgresql://postgres:s3cret@127.0.0.1:1/x"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HANG_GUARD_SECONDS = 120  # only so a lock bug fails the test instead of hanging the suite


@pytest.fixture
def url(database_url: str) -> str:
    return database_url


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with Store.open(url) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _no_database_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PATHWARDEN_DATABASE_URL", raising=False)


def entry(minute: int = 0, **fields: object) -> DecisionLogEntry:
    values: dict[str, object] = {
        "uid": f"uid-{minute}", "time": T0 + timedelta(minutes=minute), "operation": "CREATE",
        "kind": "Pod", "namespace": "team-a", "name": f"pod-{minute}", "user": "alice",
        "allowed": True, "dry_run": False, "latency_ms": 1.5,
    }
    values.update(fields)
    return DecisionLogEntry(**values)


def uids(entries: list[DecisionLogEntry]) -> list[str]:
    return [e.uid for e in entries]


# -- schema and migrations ---------------------------------------------------------------

def test_open_creates_the_schema_at_head(url: str) -> None:
    with Store.open(url) as store:
        assert store.schema_revision() == head_revision() == "0005"
        assert store.decisions() == []


def test_sqlite_file_is_created_with_its_directory_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "pathwarden.db"
    with Store.open(f"sqlite:///{path}"):
        pass
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_models_and_migrations_agree(store: Store, url: str) -> None:
    engine = create(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_reopening_is_idempotent_and_keeps_rows(url: str) -> None:
    with Store.open(url) as store:
        store.add_decisions([entry(0), entry(1)])
    with Store.open(url) as store:
        assert store.schema_revision() == "0005"
        assert store.upgrade() == ("0005", "0005")
        assert uids(store.decisions()) == ["uid-1", "uid-0"]


def _open_and_write(url: str, minute: int, barrier: Barrier) -> None:
    """A process of its own, opening the store the moment its siblings do."""
    barrier.wait()
    with Store.open(url) as store:
        store.add_decisions([entry(minute)])


def test_processes_opening_a_new_database_at_once_all_succeed(url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(4)
    processes = [spawn.Process(target=_open_and_write, args=(url, i, barrier)) for i in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=HANG_GUARD_SECONDS)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    with Store.open(url) as store:
        assert store.schema_revision() == "0005"
        assert sorted(uids(store.decisions())) == [f"uid-{i}" for i in range(4)]


def test_threads_opening_different_databases_at_once_all_succeed(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'db{i}.sqlite'}" for i in range(6)]
    barrier = threading.Barrier(len(urls))
    failures: list[BaseException] = []

    def open_and_write(url: str) -> None:
        barrier.wait()
        try:
            with Store.open(url) as store:
                store.add_decisions([entry(0)])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HANG_GUARD_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    for url in urls:
        with Store.open(url, upgrade=False) as store:
            assert store.schema_revision() == "0005"
            assert uids(store.decisions()) == ["uid-0"]


def test_a_schema_newer_than_this_pathwarden_is_refused(url: str) -> None:
    with Store.open(url):
        pass
    engine = create(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"revision 0099.*newer version"):
        Store.open(url)
    with Store.open(url, upgrade=False) as store:
        assert store.schema_revision() == "0099"


# -- decisions ---------------------------------------------------------------------------

def test_decisions_round_trip_with_lists_and_aware_utc_times(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    written = entry(
        uid="abc-123", time=datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=plus_two),
        operation="UPDATE", kind="Deployment", api_group="apps", namespace="shop",
        name="web", user="system:serviceaccount:argocd:controller", allowed=False,
        dry_run=True, denied=["pss-privileged", "golden-image-tag"], warned=["probes"],
        audited=["labels"], reason="privileged container", latency_ms=3.25,
        error=None, service="shop-web",
    )
    store.add_decisions([written])
    assert written.id is not None  # ids are assigned and the object stays usable

    [read] = store.decisions()
    assert read.model_dump() == written.model_dump()
    assert read.time == datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert read.time.tzinfo is UTC
    assert read.denied == ["pss-privileged", "golden-image-tag"]
    assert read.warned == ["probes"] and read.audited == ["labels"]


def test_defaults_and_an_error_entry_round_trip(store: Store) -> None:
    store.add_decisions([DecisionLogEntry(
        uid="u", time=T0, operation="CREATE", kind="Pod", user="bob", allowed=False,
        latency_ms=2500.0, error="evaluation deadline exceeded")])
    [read] = store.decisions()
    assert (read.api_group, read.namespace, read.name, read.dry_run) == ("", None, None, False)
    assert (read.denied, read.warned, read.audited) == ([], [], [])
    assert read.error == "evaluation deadline exceeded" and read.reason is None


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    store.add_decisions([])
    assert store.decisions() == []


@pytest.fixture
def filled(store: Store) -> Store:
    store.add_decisions([
        entry(0, namespace="team-a", allowed=False, denied=["pss-privileged"]),
        entry(1, namespace="team-b", warned=["pss-privileged", "probes"]),
        entry(2, namespace="team-a", audited=["labels"]),
        entry(3, namespace=None, allowed=False, denied=["a_b%"]),
        entry(4, namespace="team-b", warned=["pss"]),
    ])
    store.add_decisions([entry(5, namespace="team-a")])  # a later batch, an earlier row id
    return store


def test_decisions_are_newest_first_and_limited(filled: Store) -> None:
    assert uids(filled.decisions()) == [f"uid-{m}" for m in (5, 4, 3, 2, 1, 0)]
    assert uids(filled.decisions(limit=2)) == ["uid-5", "uid-4"]


def test_same_time_entries_are_ordered_by_insertion(store: Store) -> None:
    store.add_decisions([entry(0, uid="first"), entry(0, uid="second")])
    assert uids(store.decisions()) == ["second", "first"]


def test_filter_by_namespace(filled: Store) -> None:
    assert uids(filled.decisions(namespace="team-a")) == ["uid-5", "uid-2", "uid-0"]
    assert filled.decisions(namespace="nowhere") == []


def test_filter_by_policy_looks_in_denied_warned_and_audited(filled: Store) -> None:
    assert uids(filled.decisions(policy="pss-privileged")) == ["uid-1", "uid-0"]
    assert uids(filled.decisions(policy="labels")) == ["uid-2"]
    assert uids(filled.decisions(policy="pss")) == ["uid-4"]  # whole ids, not substrings
    assert uids(filled.decisions(policy="a_b%")) == ["uid-3"]  # no LIKE wildcards
    assert filled.decisions(policy="axb") == []
    assert filled.decisions(policy='"pss"') == []


def test_filter_by_allowed_and_since(filled: Store) -> None:
    assert uids(filled.decisions(allowed=False)) == ["uid-3", "uid-0"]
    assert uids(filled.decisions(allowed=True, limit=2)) == ["uid-5", "uid-4"]
    since = (T0 + timedelta(minutes=3)).astimezone(timezone(timedelta(hours=-7)))
    assert uids(filled.decisions(since=since)) == ["uid-5", "uid-4", "uid-3"]  # inclusive


def test_filters_combine(filled: Store) -> None:
    assert uids(filled.decisions(namespace="team-b", policy="probes", allowed=True,
                                 since=T0)) == ["uid-1"]
    assert filled.decisions(namespace="team-a", policy="probes") == []


def test_naive_times_are_refused_before_anything_is_written(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.add_decisions([entry(0), entry(1, time=datetime(2024, 5, 1, 12, 0))])
    with pytest.raises(ValueError, match="naive"):
        store.decisions(since=datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="limit"):
        store.decisions(limit=0)
    assert store.decisions() == []


def test_writes_from_several_threads_at_once(store: Store) -> None:
    threads, batches, size = 8, 10, 5
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def write(t: int) -> None:
        barrier.wait()
        try:
            for b in range(batches):
                store.add_decisions([entry(uid=f"{t}-{b}-{i}") for i in range(size)])
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=HANG_GUARD_SECONDS)
    assert not any(worker.is_alive() for worker in workers)
    assert failures == []
    rows = store.decisions(limit=10_000)
    assert len(rows) == threads * batches * size
    assert len({r.uid for r in rows}) == len({r.id for r in rows}) == len(rows)


# -- errors ------------------------------------------------------------------------------

def test_an_unreachable_server_is_a_store_error_with_the_url_masked() -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(UNREACHABLE)
    message = str(caught.value)
    assert "postgresql://postgres:***@127.0.0.1:1/x" in message
    assert "s3cret" not in message
    assert "cannot connect" in message and "127.0.0.1" in message


def test_a_missing_postgres_database_is_a_store_error(pg_database: str) -> None:
    missing = pg_database.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(StoreError, match=r"no_such_database_here.*does not exist"):
        Store.open(missing)


@pytest.mark.parametrize(("bad", "expected"), [
    ("not a url", "database not a url: not a database URL"),
    ("mysql://root:hunter2@db/app", "mysql://root:***@db/app: unsupported URL scheme"),
    ("sqlite:////proc/no/such/dir/x.db", "cannot create /proc/no/such/dir"),
])
def test_bad_urls_are_store_errors(bad: str, expected: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store.open(bad)
    assert expected in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(("url", "driver"), [
    ("postgresql://u@h/db", "postgresql+psycopg"),
    ("postgres://u@h/db", "postgresql+psycopg"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ("sqlite:///x.db", "sqlite"),
])
def test_postgres_urls_use_psycopg_3(url: str, driver: str) -> None:
    assert parse_url(url).drivername == driver


@pytest.mark.parametrize(("raw", "masked"), [
    ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u@h/db?sslmode=require&password=pw",
     "postgresql://u@h/db?sslmode=require&password=***"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("sqlite:///var/lib/pathwarden.db", "sqlite:///var/lib/pathwarden.db"),
])
def test_mask_url(raw: str, masked: str) -> None:
    assert mask_url(raw) == masked


# -- pathwarden db -----------------------------------------------------------------------

def test_db_upgrade_and_current(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--database-url", url]) == 0
    assert capsys.readouterr().out == "none (no schema yet; head is 0005)\n"

    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert capsys.readouterr().out.endswith("schema upgraded from empty to 0005 (head)\n")
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert capsys.readouterr().out.endswith("schema already at 0005 (head)\n")

    assert main(["db", "current", "--database-url", url]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("0005 (head)\n", "")


def test_db_reads_the_url_from_config_and_environment(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "pathwarden.yaml"
    config.write_text(f"store:\n  url: {url}\n", encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    capsys.readouterr()

    monkeypatch.setenv("PATHWARDEN_DATABASE_URL", url)
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out == "0005 (head)\n"
    # --database-url wins over the environment
    assert main(["db", "current", "--database-url", UNREACHABLE]) == 2


@pytest.mark.parametrize("action", ["upgrade", "current"])
def test_db_exits_2_when_the_database_cannot_be_reached(
        action: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", action, "--database-url", UNREACHABLE]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: database postgresql://postgres:***@127.0.0.1:1/x: ")
    assert "s3cret" not in err


def test_db_exits_2_on_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "pathwarden.yaml"
    config.write_text("store:\n  url: 42\n", encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(config)]) == 2
    assert capsys.readouterr().err.startswith("error: config ")
