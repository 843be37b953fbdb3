"""opening hours in OSM syntax; one-off outlet closures

Revision ID: c4d2e8a1f6b3
Revises: 6830d4178c7b
Create Date: 2026-12-03 15:50:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "c4d2e8a1f6b3"
down_revision: str | Sequence[str] | None = "6830d4178c7b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _to_osm(raw: object) -> str:
    """The stored JSON hours as an OSM string; unreadable hours were closed, and stay so."""
    from bot.content.hours import OpeningHours

    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
        return OpeningHours.parse(value).text
    except ValueError:
        return "closed"


def upgrade() -> None:
    # A new text column beside the JSON one, filled, then put in its place under the same name.
    with op.batch_alter_table("outlets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hours_osm", sa.String(length=255), server_default="closed", nullable=False)
        )
    bind = op.get_bind()
    outlets = sa.table(
        "outlets", sa.column("id", sa.Integer), sa.column("hours"), sa.column("hours_osm")
    )
    rows = bind.execute(sa.select(outlets.c.id, sa.cast(outlets.c.hours, sa.Text))).all()
    for outlet_id, raw in rows:
        bind.execute(
            outlets.update().where(outlets.c.id == outlet_id).values(hours_osm=_to_osm(raw))
        )
    with op.batch_alter_table("outlets", schema=None) as batch_op:
        batch_op.drop_column("hours")
    with op.batch_alter_table("outlets", schema=None) as batch_op:
        batch_op.alter_column("hours_osm", new_column_name="hours", server_default=None)

    op.create_table(
        "outlet_closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column("ends_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "holiday",
                "closed_today",
                "other",
                name="closurereason",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", bot.db.base.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_outlet_closures_closure_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["outlet_id"],
            ["outlets.id"],
            name=op.f("fk_outlet_closures_outlet_id_outlets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outlet_closures")),
    )
    with op.batch_alter_table("outlet_closures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outlet_closures_outlet_ends", ["outlet_id", "ends_at", "starts_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("outlet_closures")
    # OSM hours cannot all be written in the old mapping form: outlets come back closed and
    # need a re-import of their file.
    with op.batch_alter_table("outlets", schema=None) as batch_op:
        batch_op.drop_column("hours")
    with op.batch_alter_table("outlets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hours", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("outlets", schema=None) as batch_op:
        batch_op.alter_column("hours", server_default=None)
