"""Delivery metrics from posted pipeline runs (the DORA four, minus time to restore).

Computed per repository over a window and put into the repository's document as
`delivery`, so policies and scorecards read them like any other fact.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ..store.models import PipelineRun

WINDOW = timedelta(days=30)


def delivery_metrics(runs: Iterable[PipelineRun], now: datetime,
                     window: timedelta = WINDOW) -> dict[str, Any]:
    since = now - window
    deploys = [r for r in runs if r.deployment and r.finished_at >= since]
    succeeded = [r for r in deploys if r.result == "success"]
    failed = [r for r in deploys if r.result == "failure"]
    lead_times = [(r.finished_at - r.commit_time).total_seconds() / 3600
                  for r in succeeded if r.commit_time is not None]
    days = window.total_seconds() / 86400
    return {
        "window_days": round(days),
        "deployments": len(deploys),
        "deployment_frequency_per_day": round(len(succeeded) / days, 3),
        "lead_time_hours_median": round(statistics.median(lead_times), 2)
        if lead_times else None,
        "change_failure_rate": round(len(failed) / len(deploys), 3) if deploys else None,
        "last_deployment": max((r.finished_at for r in succeeded), default=now).isoformat()
        if succeeded else None,
    }
