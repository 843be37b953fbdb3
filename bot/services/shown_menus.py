"""The options last shown to a Signal address, as a row: any instance, and a restarted one,
reads a typed digit or label as the option it picks.

Signal has no buttons: options go out as numbered lines, and the answer comes back as text
("2", "no"). Signal pushes each message to every instance, and the one that handles it may
not be the one that showed the list (or may have restarted since), so the list is stored.
It is keyed by :func:`holder`, a keyed hash of the address under a label of its own (one
row per phone: it joins neither the person's contact nor their staff contact), holds only
the options (labels and payloads, encrypted with the address key, no message text) and the
hour it was shown, and goes a day after that hour or as soon as a plain message retires it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Option, Reply
from bot.db.models import ShownMenu
from bot.db.upsert import upserts
from bot.privacy import AddressBox, AddressUnreadable, hour_of, pseudonym
from bot.services.notices import open_reply, seal_reply

# A list is answered within minutes; a day covers someone who comes back to it later.
MENU_KEPT: Final = timedelta(days=1)
_LABEL: Final = "signal_menu"  # the hash's own label: not a contact's pseudonym


def holder(pseudonym_key: bytes, address: str) -> str:
    """The row key of the lists shown to ``address``."""
    return pseudonym(pseudonym_key, _LABEL, address)


async def save(
    session: AsyncSession,
    *,
    holder: str,
    box: AddressBox,
    options: Sequence[Option],
    now: datetime,
) -> None:
    """Remember ``options`` as the list last shown to ``holder`` (one statement)."""
    sealed = seal_reply(box, Reply("", tuple(options)))
    await session.execute(
        _UPSERT[session.get_bind().dialect.name],
        {"holder": holder, "sealed": sealed, "shown_at": hour_of(now)},
    )


async def load(
    session: AsyncSession, *, holder: str, box: AddressBox, now: datetime
) -> tuple[Option, ...]:
    """The options last shown to ``holder``; none when there is no list, it is over a day
    old, or it cannot be opened (another key, a damaged row)."""
    row = (
        await session.execute(
            select(ShownMenu.sealed, ShownMenu.shown_at).where(ShownMenu.holder == holder)
        )
    ).first()
    if row is None or row.shown_at < now - MENU_KEPT:
        return ()
    try:
        return open_reply(box, row.sealed).options
    except AddressUnreadable:
        return ()


async def clear(session: AsyncSession, *, holder: str) -> None:
    """Forget the list shown to ``holder``, if any."""
    await session.execute(_DELETE, {"holder": holder})


async def purge(session: AsyncSession, *, now: datetime) -> int:
    """Delete lists shown over a day ago (23 to 24 hours, as ``shown_at`` is the hour)."""
    result = await session.execute(
        delete(ShownMenu).where(ShownMenu.shown_at < now - MENU_KEPT).returning(ShownMenu.holder)
    )
    return len(result.all())


_UPSERT: Final = upserts(ShownMenu, "holder", ("sealed", "shown_at"))
_DELETE: Final = delete(ShownMenu).where(ShownMenu.holder == bindparam("holder"))
