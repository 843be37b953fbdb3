"""alert photos: the re-encoded JPEG sent with an alert

Revision ID: ca1407c53ebf
Revises: a1e7c3d95b20
Create Date: 2026-12-03 18:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ca1407c53ebf"
down_revision: str | Sequence[str] | None = "a1e7c3d95b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_photos",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_photos_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert_photos")),
    )


def downgrade() -> None:
    op.drop_table("alert_photos")
