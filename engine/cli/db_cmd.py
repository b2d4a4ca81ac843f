"""`pathwarden db upgrade|current`: the store's schema, for operators.

Every process upgrades the schema when it opens the store; `db upgrade` does it on its own,
e.g. from a Helm pre-upgrade hook so that replicas start against the new schema.
Exit codes: 0 done; 2 configuration error or the database cannot be reached or upgraded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, StoreError
from ..store import Store, head_revision
from .common import settings_from


def register(sub: argparse._SubParsersAction) -> None:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--config", type=Path, help="pathwarden YAML configuration file")
    options.add_argument("--database-url", metavar="URL",
                         help="database URL (overrides store.url and PATHWARDEN_DATABASE_URL)")
    parser = sub.add_parser("db", help="database schema: upgrade, show the current revision")
    actions = parser.add_subparsers(dest="db_action", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", parents=[options],
                                 help="bring the schema to the newest revision")
    upgrade.set_defaults(run=run_upgrade)
    current = actions.add_parser("current", parents=[options],
                                 help="print the database's schema revision")
    current.set_defaults(run=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    try:
        with Store.open(database_url(args), upgrade=False) as store:
            before, after = store.upgrade()
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if before == after:
        print(f"{store.url}: schema already at {after} (head)")
    else:
        print(f"{store.url}: schema upgraded from {before or 'empty'} to {after} (head)")
    return 0


def run_current(args: argparse.Namespace) -> int:
    try:
        with Store.open(database_url(args), upgrade=False) as store:
            revision = store.schema_revision()
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    head = head_revision()
    if revision is None:
        print(f"none (no schema yet; head is {head})")
    elif revision == head:
        print(f"{revision} (head)")
    else:
        print(f"{revision} (head is {head}; run `pathwarden db upgrade`)")
    return 0


def database_url(args: argparse.Namespace) -> str:
    """--database-url, else PATHWARDEN_DATABASE_URL, else store.url, else the default."""
    return args.database_url or settings_from(args).store.url
