"""count per day what funders need and tag report authors

Funders' numbers move from the audit log, which kept every request's events for good, to
``daily_counts``, which the services now add to when an event happens; audit events become
per-request records that the retention purge and ``/forget`` delete. This revision counts the
events recorded before it, once, the way the services count (an area and the items asked for
only where the request is still there to say), so every number ``/stats`` showed stays; the
events themselves stay until the purge takes them, and are not counted again. Shift events
were a peer's working hours at a named outlet: they are counted and deleted here.

``reports.author_tag`` lets ``/forget`` find the person's reports (older ones have none).

Revision ID: cf3682875769
Revises: b7c41e5d2a90
Create Date: 2026-12-03 12:26:26.605031
"""

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "cf3682875769"
down_revision: str | Sequence[str] | None = "b7c41e5d2a90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in bot.services.counts when this was written (a migration must not import code that
# may change after it).
_REQUEST_CLOSED = {
    "request.handed_over": "requests.handed_over",
    "request.unrouted": "requests.unrouted",
    "request.cancelled": "requests.cancelled",
    "request.expired": "requests.expired",
    "request.frozen": "requests.frozen",
}
_PER_OUTLET = {
    "request.offered": "outlet.offered",
    "offer.accepted": "outlet.accepted",
    "offer.declined": "outlet.declined",
    "offer.out_of_stock": "outlet.out_of_stock",
    "offer.timed_out": "outlet.timed_out",
    "request.released": "outlet.released",
    "request.handed_over": "outlet.handed_over",
}
_COLUMNS = ("day", "measure", "area_code", "outlet_id", "kind", "item_code", "bucket")

_events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    sa.column("at", bot.db.base.UTCDateTime()),
    sa.column("action", sa.String),
    sa.column("subject", sa.String),
    sa.column("detail", sa.JSON),
)
_requests = sa.table(
    "requests",
    sa.column("id", sa.Integer),
    sa.column("reference", sa.String),
    sa.column("area_code", sa.String),
    sa.column("created_at", bot.db.base.UTCDateTime()),
)
_request_items = sa.table(
    "request_items",
    sa.column("request_id", sa.Integer),
    sa.column("item_id", sa.Integer),
    sa.column("packs", sa.Integer),
)
_items = sa.table("items", sa.column("id", sa.Integer), sa.column("code", sa.String))

Key = tuple[date, str, str, int, str, str, int]


def upgrade() -> None:
    op.create_table(
        "daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("outlet_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_code", sa.String(length=24), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*_COLUMNS, name=op.f("pk_daily_counts")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_tag", sa.LargeBinary(length=48), nullable=True))
    # Events are now deleted by request reference and by age, no longer read by action.
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_action_at")
        batch_op.create_index("ix_audit_events_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_events_subject", ["subject"], unique=False)
    _count_past_events(op.get_bind())
    op.execute("DELETE FROM audit_events WHERE action LIKE 'shift.%'")


def downgrade() -> None:
    """The counters go; the events counted into them were never kept past their request."""
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_subject")
        batch_op.drop_index("ix_audit_events_at")
        batch_op.create_index("ix_audit_events_action_at", ["action", "at"], unique=False)
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("author_tag")
    op.drop_table("daily_counts")


def _count_past_events(bind: sa.Connection) -> None:
    codes = {row.id: row.code for row in bind.execute(sa.select(_items.c.id, _items.c.code))}
    live = {
        row.reference: row
        for row in bind.execute(
            sa.select(
                _requests.c.id, _requests.c.reference, _requests.c.area_code, _requests.c.created_at
            )
        )
    }
    packs: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for row in bind.execute(sa.select(_request_items)):
        packs[row.request_id].append((codes.get(row.item_id, ""), row.packs))
    counts: Counter[Key] = Counter()
    created: dict[str, list[datetime]] = defaultdict(list)
    accepted: list[tuple[str, datetime, Mapping[str, Any]]] = []
    rows = bind.execute(
        sa.select(_events.c.at, _events.c.action, _events.c.subject, _events.c.detail).order_by(
            _events.c.id
        )
    )
    for row in rows:
        detail: Mapping[str, Any] = row.detail if isinstance(row.detail, Mapping) else {}
        day, kind = row.at.astimezone(UTC).date(), str(detail.get("kind", ""))
        # The request still there under this reference, if the event is about it (references
        # come back after a purge: a later request's would be younger than the event).
        request = live.get(row.subject or "")
        if (
            request is not None
            and request.created_at.replace(minute=0, second=0, microsecond=0) > row.at
        ):
            request = None
        area = (request.area_code or "") if request is not None else ""
        outlet_id = detail.get("outlet_id")
        if row.action == "request.created":
            counts[(day, "requests.made", area, 0, kind, "", 0)] += 1
            for code, n in packs.get(request.id, []) if request is not None else []:
                counts[(day, "requests.packs", area, 0, kind, code, 0)] += n
            if row.subject:
                created[row.subject].append(row.at)
        if row.action in _REQUEST_CLOSED:
            counts[(day, _REQUEST_CLOSED[row.action], area, 0, kind, "", 0)] += 1
        if row.action in _PER_OUTLET and _is_int(outlet_id):
            counts[(day, _PER_OUTLET[row.action], "", outlet_id, kind, "", 0)] += 1
        if row.action == "request.handed_over" and _is_int(outlet_id):
            items = detail.get("items")
            for item_id, n in (items if isinstance(items, Mapping) else {}).items():
                code = codes.get(int(item_id), "") if str(item_id).isdigit() else ""
                if code and _is_int(n):
                    counts[(day, "outlet.packs", "", outlet_id, kind, code, 0)] += n
        if row.action == "offer.accepted" and row.subject:
            accepted.append((row.subject, row.at, detail))
        if row.action == "stock.set" and _is_int(outlet_id) and _is_int(detail.get("item_id")):
            code = codes.get(detail["item_id"], "")
            counts[(day, "stock.set", "", outlet_id, "", code, 0)] += 1
        if row.action == "shift.started" and _is_int(outlet_id):
            counts[(day, "shifts.started", "", outlet_id, "", "", 0)] += 1
    counts.update(_first_waits(created, accepted))
    if counts:
        table = sa.table(
            "daily_counts",
            sa.column("day", sa.Date),
            *(sa.column(name) for name in _COLUMNS[1:]),
            sa.column("count", sa.Integer),
        )
        rows_out = [
            {**dict(zip(_COLUMNS, key, strict=True)), "count": n} for key, n in counts.items()
        ]
        for start in range(0, len(rows_out), 500):
            bind.execute(sa.insert(table), rows_out[start : start + 500])


def _first_waits(
    created: Mapping[str, list[datetime]], accepted: list[tuple[str, datetime, Mapping[str, Any]]]
) -> Counter[Key]:
    """Minutes to the first acceptance of each request, as ``/stats`` paired them: each
    acceptance with the latest creation of its reference before it, the shortest wait per
    creation; ``wait_min`` where the event has it, else the events' times."""
    first: dict[tuple[str, datetime], tuple[float, date, str]] = {}
    for subject, at, detail in accepted:
        made = max((c for c in created.get(subject, ()) if c <= at), default=None)
        if made is None:
            continue
        minutes = detail.get("wait_min")
        wait = minutes * 60.0 if _is_int(minutes) else (at - made).total_seconds()
        if (subject, made) not in first or wait < first[(subject, made)][0]:
            first[(subject, made)] = (wait, at.astimezone(UTC).date(), str(detail.get("kind", "")))
    waits: Counter[Key] = Counter()
    for wait, day, kind in first.values():
        waits[(day, "accept.minutes", "", 0, kind, "", max(int(wait // 60), 0))] += 1
    return waits


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
