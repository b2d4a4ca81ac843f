"""pathwarden's database: SQLite by default, PostgreSQL when the URL says so.

`Store.open(url)` connects and upgrades the schema; tables live in `models`, schema changes
in `migrations/versions/` (alembic, run from code).
"""

from __future__ import annotations

from ..errors import StoreError
from .database import mask_url
from .migrate import head_revision
from .models import (
    DecisionLogEntry,
    FindingDay,
    FindingRow,
    PipelineRun,
    ScanRow,
    ScorecardResult,
    ServiceRow,
    StoreModel,
    TargetRow,
    metadata,
)
from .scans import ScanBusy, ScanResult
from .store import Store

__all__ = [
    "DecisionLogEntry", "FindingDay", "FindingRow", "PipelineRun", "ScanBusy", "ScanResult",
    "ScanRow", "ScorecardResult", "ServiceRow", "Store", "StoreError", "StoreModel", "TargetRow",
    "head_revision", "mask_url", "metadata",
]
