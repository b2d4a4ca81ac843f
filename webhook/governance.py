"""Waivers, campaigns and the catalog as the webhook sees them, kept fresh without restart.

Files (waivers and campaigns next to the policies, the catalog) are re-read when they
change, like the policies; waivers approved through the API live in the store and are
re-read every `refresh_seconds`. A refresh that fails keeps the last good view. Dates are
never cached: every request compares against the clock, so an expired waiver stops
applying and a campaign's next phase starts at its first instant, with no redeploy.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..engine.governance import Governance
from ..engine.governance.configured import api_waivers, governance_dirs
from ..engine.governance.loading import read_governance_files
from ..engine.model import Target
from ..engine.periodic import Periodic
from ..engine.settings import Settings

log = logging.getLogger("pathwarden.webhook")


@dataclass(frozen=True, slots=True)
class AdmissionGovernance:
    governance: Governance
    catalog: Any = None
    """The Backstage catalog (engine.catalog.Catalog), when `scan.catalog` is configured:
    service-scoped waivers and campaign filters need the request's service."""

    def service_of(self, target: Target) -> Mapping[str, Any] | None:
        if self.catalog is None:
            return None
        service = self.catalog.service_for(target)
        if service is None:
            return None
        return {"ref": service.ref, "name": service.name, "owner": service.owner,
                "type": service.type, "lifecycle": service.lifecycle, "tier": service.tier,
                "system": service.system}


def governance_loader(settings: Settings, *, store_url: str | None,
                      clock: Callable[[], datetime]
                      ) -> Callable[..., AdmissionGovernance]:
    """Files always; API waivers from the store when one is configured and answers.

    `load(files=False)` (the periodic refresh) re-reads only the API waivers and keeps the
    waiver and campaign files and the catalog of the last full load: those are re-read
    when they change (the server's watcher calls `load()`)."""
    read: dict[str, Any] = {}

    def load(files: bool = True) -> AdmissionGovernance:
        if files or not read:
            rules = settings.governance
            found = read_governance_files(governance_dirs(settings), rules,
                                          today=clock().astimezone(rules.zone).date())
            for problem in found.problems:
                log.error("governance: %s", problem)
            catalog = None
            if settings.scan.catalog:
                from ..engine.catalog import read_catalog

                catalog = read_catalog(list(settings.scan.catalog))
            read.update(files=found, catalog=catalog)
        found = read["files"]
        waivers = list(found.waivers)
        store = _open_store(store_url)
        if store is not None:
            try:
                api, problems = api_waivers(store, found.waivers)
            finally:
                store.close()
            waivers += api
            for problem in problems:
                log.error("governance: %s", problem)
        governance = Governance(settings.governance, waivers=waivers,
                                campaigns=found.campaigns,
                                overrides=settings.webhook.enforcement)
        return AdmissionGovernance(governance, read["catalog"])

    return load


def _open_store(url: str | None) -> Any:
    if not url or not _store_exists(url):
        return None
    from ..engine.errors import StoreError
    from ..engine.store import Store

    try:
        return Store.open(url, upgrade=False)
    except StoreError as exc:
        log.warning("waivers from the API not refreshed: %s", exc)
        return None


def _store_exists(url: str) -> bool:
    """A SQLite file that is not there holds no waivers; opening it would create it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return True
    database = parsed.database or ""
    return database not in ("", ":memory:") and Path(database).is_file()


class GovernanceHolder:
    """Holds the current view; `reload()` swaps in a new one if it loads."""

    def __init__(self, loader: Callable[..., AdmissionGovernance],
                 refresh_seconds: float = 30.0) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self.current = loader()
        self.last_error: str | None = None
        # reload() logs its own failures; the message is for a bug escaping it.
        self._refresher = Periodic(lambda: self.reload(files=False), refresh_seconds,
                                   name="governance-refresh",
                                   failure="governance refresh failed")

    def reload(self, *, files: bool = True) -> bool:
        """`files=False`: only the API waivers changed (the periodic refresh)."""
        with self._lock:
            try:
                self.current = self._loader() if files else self._loader(files=False)
            except Exception as exc:  # keep serving the last good view
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("governance reload failed; keeping the current waivers and "
                              "campaigns")
                return False
            self.last_error = None
            return True

    def set_loader(self, loader: Callable[..., AdmissionGovernance]) -> bool:
        """Load from now on with `loader` (a reloaded configuration: other governance
        directories, time zone, catalog or enforcement overrides), and reload now."""
        with self._lock:
            self._loader = loader
        return self.reload()

    def start(self) -> None:
        """Re-read API waivers periodically (files also reload on change, see server)."""
        self._refresher.start()

    def stop(self) -> None:
        self._refresher.stop()


def utc_now() -> datetime:
    return datetime.now(UTC)
