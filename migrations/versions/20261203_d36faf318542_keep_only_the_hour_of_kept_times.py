"""keep only the hour of kept times and no raw update keys

Rows written before this revision kept exact times (the instant of the update that wrote
them) and ``seen_updates`` kept the platform's update ids (``tg:<update_id>``): together they
name a person to whoever holds the platform's logs. Migrations hold no key, so the raw update
keys cannot be hashed: they are dropped (hashed keys have no colon). An update first seen by
the old version and delivered again after the upgrade is handled once more. Times kept past a
day are cut to the hour, as the services now write them; open requests and their offers keep
their exact deadlines until they close. Nothing can be put back, so downgrade does nothing.

Revision ID: d36faf318542
Revises: f618df53a1d8
Create Date: 2026-12-03 11:02:30.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d36faf318542"
down_revision: str | Sequence[str] | None = "f618df53a1d8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "('new', 'offered', 'accepted')"
_CLOSED_REQUEST = f"status NOT IN {_OPEN}"
_OF_CLOSED_REQUEST = f"request_id IN (SELECT id FROM requests WHERE {_CLOSED_REQUEST})"
# (table, columns, which rows)
_KEPT: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("contacts", ("created_at",), None),
    ("subscriptions", ("created_at",), None),
    ("coordinators", ("created_at",), None),
    ("peer_workers", ("created_at",), None),
    ("audit_events", ("at",), None),
    ("deliveries", ("sent_at",), None),
    ("invites", ("created_at", "used_at"), None),
    ("invites", ("expires_at",), "used_at IS NOT NULL"),
    (
        "requests",
        ("created_at", "updated_at", "accepted_at", "closed_at", "expires_at"),
        _CLOSED_REQUEST,
    ),
    ("offers", ("created_at", "deadline_at", "answered_at"), _OF_CLOSED_REQUEST),
)


def _hour(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"date_trunc('hour', {column})"
    # SQLite holds SQLAlchemy's text form, 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return f"strftime('%Y-%m-%d %H:00:00.000000', {column})"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute("DELETE FROM seen_updates WHERE key LIKE '%:%'")
    for table, columns, where in _KEPT:
        sets = ", ".join(f"{c} = {_hour(c, dialect)}" for c in columns)
        op.execute(f"UPDATE {table} SET {sets}" + (f" WHERE {where}" if where else ""))


def downgrade() -> None:
    """Exact times and raw keys are gone for good: nothing to undo."""
