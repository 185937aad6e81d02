"""Findings (anomalies and predictions) and the root entity of an incident, for the API.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entity", sa.Text(), nullable=True),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.Double(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("detector", sa.Text(), nullable=False),
        sa.Column("predicts", sa.Text(), nullable=True),
        sa.Column("onset", sa.Double(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_findings_status"),
    )
    op.create_index("ix_findings_entity", "findings", ["entity"])
    op.create_index("ix_findings_status", "findings", ["status"])
    op.create_index("ix_findings_raised_at", "findings", ["raised_at"])
    # The entity of the top-ranked root cause, so incidents can be filtered by entity.
    op.add_column("incidents", sa.Column("root_entity", sa.Text(), nullable=True))
    op.create_index("ix_incidents_root_entity", "incidents", ["root_entity"])


def downgrade() -> None:
    op.drop_index("ix_incidents_root_entity", table_name="incidents")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("root_entity")
    op.drop_index("ix_findings_raised_at", table_name="findings")
    op.drop_index("ix_findings_status", table_name="findings")
    op.drop_index("ix_findings_entity", table_name="findings")
    op.drop_table("findings")
