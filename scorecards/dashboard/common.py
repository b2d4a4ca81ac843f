"""What every page reads first: the catalog's services, the latest scorecard day and scan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ...engine.store import ScanRow, ScorecardResult, ServiceRow
from ..context import AppContext
from ..views import ServiceFilter

NO_SCAN = "No scan yet: run `pathwarden scan` (or start one with POST /api/v1/scans)."
NO_SCORES = ("No scorecard results yet: they are computed after every scan; run "
             "`pathwarden scan`.")


@dataclass(frozen=True, slots=True)
class Snapshot:
    services: dict[str, ServiceRow]
    day: date | None
    """The latest day with scorecard results: what "now" means on every page."""
    results: list[ScorecardResult]
    """All results of that day, unfiltered."""
    last_scan: ScanRow | None

    @property
    def empty_message(self) -> str | None:
        """Why a page has nothing to show, in words that say what to do."""
        if self.last_scan is None and not self.services:
            return NO_SCAN
        if not self.results:
            return NO_SCORES
        return None

    def filtered(self, flt: ServiceFilter) -> list[ScorecardResult]:
        return flt.apply(self.results, self.services)


def snapshot(ctx: AppContext) -> Snapshot:
    results = ctx.store.scorecard_results()
    scans = ctx.store.scans(limit=1)
    return Snapshot(services={s.ref: s for s in ctx.store.services()},
                    day=results[0].day if results else None, results=results,
                    last_scan=scans[0] if scans else None)

