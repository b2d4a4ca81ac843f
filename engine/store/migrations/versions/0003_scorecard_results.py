"""scorecard_results: per service, scorecard and day.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "scorecard_results",
        sa.Column("id", ROW_ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scorecard", sa.String(), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("system", sa.String(), nullable=True),
        sa.Column("level", sa.String(), nullable=True),
        sa.Column("level_index", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scorecard_results")),
    )
    with op.batch_alter_table("scorecard_results") as batch_op:
        for column in ("day", "scorecard", "service", "owner"):
            batch_op.create_index(batch_op.f(f"ix_scorecard_results_{column}"), [column])


def downgrade() -> None:
    op.drop_table("scorecard_results")
