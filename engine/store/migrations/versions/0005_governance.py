"""Waivers, their audit trail, campaign notifications; waived findings and decisions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch_op:
        batch_op.add_column(sa.Column("waiver", sa.String(), nullable=True))
        batch_op.create_index(batch_op.f("ix_findings_waiver"), ["waiver"])
    with op.batch_alter_table("decision_log") as batch_op:
        batch_op.add_column(sa.Column("waived", sa.JSON(), nullable=False,
                                      server_default="[]"))
    op.create_table(
        "waivers",
        sa.Column("id", ROW_ID, nullable=False),
        sa.Column("waiver_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("location", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("approved_by", sa.String(), nullable=True),
        sa.Column("requested_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waivers")),
        sa.UniqueConstraint("waiver_id", name=op.f("uq_waivers_waiver_id")),
    )
    with op.batch_alter_table("waivers") as batch_op:
        for column in ("state", "expires_at"):
            batch_op.create_index(batch_op.f(f"ix_waivers_{column}"), [column])
    op.create_table(
        "waiver_events",
        sa.Column("id", ROW_ID, nullable=False),
        sa.Column("waiver_id", sa.String(), nullable=False),
        sa.Column("time", WHEN, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiver_events")),
    )
    with op.batch_alter_table("waiver_events") as batch_op:
        for column in ("waiver_id", "time"):
            batch_op.create_index(batch_op.f(f"ix_waiver_events_{column}"), [column])
    op.create_table(
        "notifications",
        sa.Column("id", ROW_ID, nullable=False),
        sa.Column("event_key", sa.String(), nullable=False),
        sa.Column("campaign", sa.String(), nullable=False),
        sa.Column("team", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("event_key", name=op.f("uq_notifications_event_key")),
    )
    with op.batch_alter_table("notifications") as batch_op:
        for column in ("campaign", "status"):
            batch_op.create_index(batch_op.f(f"ix_notifications_{column}"), [column])


def downgrade() -> None:
    for table in ("notifications", "waiver_events", "waivers"):
        op.drop_table(table)
    with op.batch_alter_table("decision_log") as batch_op:
        batch_op.drop_column("waived")
    with op.batch_alter_table("findings") as batch_op:
        batch_op.drop_index(batch_op.f("ix_findings_waiver"))
        batch_op.drop_column("waiver")
