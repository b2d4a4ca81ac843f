"""What every page reads first: the catalog's services, the latest scorecard day and scan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ...engine.store import ScanRow, ServiceRow
from ..views import ServiceFilter
from .data import DataCache, Slim, Version, latest_slim

NO_SCAN = "No scan yet: run `pathwarden scan` (or start one with POST /api/v1/scans)."
NO_SCORES = ("No scorecard results yet: they are computed after every scan; run "
             "`pathwarden scan`.")


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: Version
    """Cache keys start with it: a new scan or scorecard computation changes it."""
    services: dict[str, ServiceRow]
    day: date | None
    """The latest day with scorecard results: what "now" means on every page."""
    results: list[Slim]
    """All results of that day, unfiltered, with only their rules that do not pass."""
    last_scan: ScanRow | None

    @property
    def empty_message(self) -> str | None:
        """Why a page has nothing to show, in words that say what to do."""
        if self.last_scan is None and not self.services:
            return NO_SCAN
        if not self.results:
            return NO_SCORES
        return None

    def filtered(self, flt: ServiceFilter) -> list[Slim]:
        return flt.apply(self.results, self.services)


def snapshot(data: DataCache) -> Snapshot:
    version, scan = data.version()
    services = data.get((version, "services"),
                        lambda: {s.ref: s for s in data.store.services()})
    day, results = data.get((version, "latest"), lambda: latest_slim(data.store))
    return Snapshot(version, services, day, results, scan)
