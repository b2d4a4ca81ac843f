"""Indexes for the API's and dashboard's reads at 5,000 services (bench/dashboard.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

- findings (status, scan_id): the current findings of one status are counted from the
  index and paged in id order, without reading every finding of the scan (PostgreSQL took
  330 ms for `status=fail&offset=5000`). Status first: as (scan_id, status), SQLite's
  planner, which has no statistics, preferred it for one service's findings grouped by
  status over the service index, and read the whole scan (120 ms instead of 1 ms).
- scorecard_results (scorecard, day, service): one scorecard's results of a day in service
  order, and its latest day, without reading the other scorecards' rows (SQLite took
  620 ms).
- scorecard_results (scorecard, day, level, score): the per-day level counts and average
  scores of a history from the index alone (PostgreSQL took 500 ms).
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

INDEXES = {
    "ix_findings_status_scan_id": ("findings", ["status", "scan_id"]),
    "ix_scorecard_results_scorecard_day_service": (
        "scorecard_results", ["scorecard", "day", "service"]),
    "ix_scorecard_results_scorecard_day_level": (
        "scorecard_results", ["scorecard", "day", "level", "score"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
