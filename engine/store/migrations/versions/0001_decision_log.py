"""decision_log: one row per admission decision of the webhook.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand from `models.DecisionLogEntry`; types are plain SQLAlchemy so this file
keeps working whatever later happens to the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "decision_log",
        # BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("api_group", sa.String(), nullable=False),
        sa.Column("namespace", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("user", sa.String(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("denied", sa.JSON(), nullable=False),
        sa.Column("warned", sa.JSON(), nullable=False),
        sa.Column("audited", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("service", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_log")),
    )
    for column in ("uid", "time", "namespace"):
        op.create_index(op.f(f"ix_decision_log_{column}"), "decision_log", [column])


def downgrade() -> None:
    for column in ("namespace", "time", "uid"):
        op.drop_index(op.f(f"ix_decision_log_{column}"), table_name="decision_log")
    op.drop_table("decision_log")
