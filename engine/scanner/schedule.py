"""Scheduled scans inside `pathwarden serve` (APScheduler), and scans started by the API.

Several replicas may each run this scheduler against one PostgreSQL store: the store's
scan lock lets exactly one of them start the scan of a scope; the others log and skip.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from ..errors import ConfigError
from ..policyset import PolicySet
from ..settings import Settings
from ..store import ScanBusy, Store
from .run import ScanOutcome, run_scan

log = logging.getLogger("pathwarden.scan")


class Scanner:
    """Runs scans for the server: on the schedule, or now (in a background thread)."""

    def __init__(self, settings: Settings, policy_set: PolicySet, store: Store,
                 on_done: Callable[[ScanOutcome], None] = lambda outcome: None):
        self.settings = settings
        self.policy_set = policy_set
        self.store = store
        self._on_done = on_done
        self._scheduler: BackgroundScheduler | None = None

    def start_now(self, trigger: str = "api") -> int:
        """Start a scan and return its id at once; raises ScanBusy if one is running."""
        scan_id = self.store.start_scan(self.settings.scan.scope, trigger=trigger)
        thread = threading.Thread(target=self._run, args=(trigger, scan_id),
                                  name=f"scan-{scan_id}", daemon=True)
        thread.start()
        return scan_id

    def run_scheduled(self) -> None:
        try:
            self._run("schedule", None)
        except ScanBusy as exc:
            log.info("scheduled scan skipped: %s", exc)

    def _run(self, trigger: str, scan_id: int | None) -> None:
        try:
            outcome = run_scan(self.settings, self.policy_set, self.store, trigger=trigger,
                               scan_id=scan_id)
        except ScanBusy:
            raise
        except Exception:  # recorded as a failed scan by run_scan; keep the server up
            log.exception("scan failed")
            return
        log.info("scan %d %s: %d targets, %d findings", outcome.scan_id, outcome.status,
                 outcome.targets, len(outcome.findings))
        self._on_done(outcome)

    def schedule(self) -> BackgroundScheduler:
        scan = self.settings.scan
        try:
            trigger = CronTrigger.from_crontab(scan.schedule, timezone=scan.timezone)
        except ValueError as exc:
            raise ConfigError(f"scan.schedule {scan.schedule!r}: {exc}") from exc
        scheduler = BackgroundScheduler(timezone=scan.timezone)
        scheduler.add_job(self.run_scheduled, trigger, id="scan", max_instances=1,
                          coalesce=True, misfire_grace_time=3600)
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    def next_run(self) -> str | None:
        if self._scheduler is None:
            return None
        job = self._scheduler.get_job("scan")
        return job.next_run_time.isoformat() if job and job.next_run_time else None

    def shutdown(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
