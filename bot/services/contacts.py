"""Finding and creating contacts by pseudonym; the reply address is only ever stored sealed."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    ConsultationParticipant,
    Contact,
    ConversationState,
    Coordinator,
    Delivery,
    PeerWorker,
    PendingMessage,
    Request,
    Subscription,
)
from bot.domain import OPEN_REQUEST_STATUSES, Channel, DeliveryStatus
from bot.privacy import AddressBox, Keys, hour_of, pseudonym


async def find_or_create(
    session: AsyncSession,
    *,
    pseudonym_key: bytes,
    box: AddressBox,
    channel: Channel,
    platform_id: str,
    address: str,
    locale: str | None = None,
    now: datetime,
) -> Contact:
    """The contact for ``channel`` + ``platform_id``, created on first contact.

    Most updates come from known contacts, so this looks first and inserts only on a miss
    (sealing an address costs a Fernet encryption). Safe under concurrency: two first
    messages at once create one row (insert-or-ignore, then read).
    """
    alias = pseudonym(pseudonym_key, channel.value, platform_id)
    by_alias = select(Contact).where(Contact.pseudonym == alias)
    contact = (await session.execute(by_alias)).scalar_one_or_none()
    if contact is None:
        await add(
            session, alias=alias, box=box, channel=channel, address=address, locale=locale, now=now
        )
        contact = (await session.execute(by_alias)).scalar_one()
    await mark_seen(session, contact, now=now)
    return contact


async def add(
    session: AsyncSession,
    *,
    alias: str,
    box: AddressBox,
    channel: Channel,
    address: str,
    locale: str | None,
    now: datetime,
    contact_id: int | None = None,
) -> None:
    """Insert the contact with pseudonym ``alias`` unless it exists; read it back yourself
    (another update or instance may have created it a moment ago: insert-or-ignore)."""
    values: dict[str, object] = {
        "pseudonym": alias,
        "channel": channel,
        "reply_address": box.seal(address),
        "locale": locale,
        "reachable": True,
        "created_at": hour_of(now),  # kept for months: the hour, not the update's time
        "last_seen_on": _day(now),
    }
    if contact_id is not None:
        values["id"] = contact_id
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # The table, not the mapped class: no ORM bulk-insert machinery for one plain row.
    table = cast(Table, Contact.__table__)
    await session.execute(
        insert(table).values(**values).on_conflict_do_nothing(index_elements=["pseudonym"])
    )


def staff_alias(keys: Keys, channel: Channel, platform_id: str) -> str:
    """The pseudonym of the staff contact of ``channel`` + ``platform_id``.

    Under its own key: without the key the two pseudonyms of one person are unrelated, so the
    stored data never joins someone's requests to their peer or coordinator role.
    """
    return pseudonym(keys.staff, channel.value, platform_id)


async def staff_contact(
    session: AsyncSession,
    *,
    keys: Keys,
    channel: Channel,
    platform_id: str,
    address: str,
    locale: str | None,
    now: datetime,
) -> int:
    """The id of the sender's staff contact (see :class:`bot.core.context.Person`), created
    with its own sealed reply address if it does not exist yet (redeeming an invite)."""
    alias = staff_alias(keys, channel, platform_id)
    await add(
        session,
        alias=alias,
        box=AddressBox(keys.address),
        channel=channel,
        address=address,
        locale=locale,
        now=now,
        contact_id=_staff_id(),
    )
    found = await session.scalar(select(Contact.id).where(Contact.pseudonym == alias))
    assert found is not None  # just inserted, or already there
    return found


def _staff_id() -> int:
    """A random negative id for a new staff contact.

    Ordinary contacts count up from 1; a staff contact made in the same update as the
    person's own (a first message carrying an invite code) would sit right next to it, and a
    dump would pair the two by their ids. Negative ids never meet that sequence (PostgreSQL's
    never goes below 1; SQLite's continues from the largest id). A clash among staff contacts
    (about one in two million per new one at a thousand staff) fails that update, which
    the person can simply send again.
    """
    return -1 - secrets.randbelow(2**31 - 1)


async def move_roles(session: AsyncSession, *, from_id: int, to_id: int) -> None:
    """Move peer and coordinator roles from one contact to another (a contact from before
    staff contacts held both; see the engine). A role the target already holds is dropped."""
    held = select(PeerWorker.outlet_id).where(PeerWorker.contact_id == to_id)
    await session.execute(
        delete(PeerWorker).where(
            PeerWorker.contact_id == from_id, PeerWorker.outlet_id.in_(held.scalar_subquery())
        )
    )
    await session.execute(
        update(PeerWorker).where(PeerWorker.contact_id == from_id).values(contact_id=to_id)
    )
    if await session.scalar(select(Coordinator.id).where(Coordinator.contact_id == to_id)):
        await session.execute(delete(Coordinator).where(Coordinator.contact_id == from_id))
    else:
        await session.execute(
            update(Coordinator).where(Coordinator.contact_id == from_id).values(contact_id=to_id)
        )


async def mark_seen(session: AsyncSession, contact: Contact, *, now: datetime) -> None:
    """Note that ``contact`` wrote today (a day, never a time) and can be reached.

    Writes only on the first message of a day, or after the contact was unreachable.
    """
    today = _day(now)
    if contact.last_seen_on != today or not contact.reachable:
        # Writing to someone who wrote to us proves they can be reached again.
        await session.execute(
            update(Contact)
            .where(Contact.id == contact.id)
            .values(last_seen_on=today, reachable=True)
        )
        contact.last_seen_on, contact.reachable = today, True


async def reseal(session: AsyncSession, contact: Contact, *, box: AddressBox, address: str) -> None:
    """Seal ``address`` again for a contact whose address was dropped (see
    :func:`drop_idle_addresses`): they wrote, so they may open something again."""
    sealed = box.seal(address)
    await session.execute(
        update(Contact).where(Contact.id == contact.id).values(reply_address=sealed)
    )
    contact.reply_address = sealed


# A request that closed this long ago (at least; closing times are kept to the hour) still
# keeps its contact's address: what its closing sent may still be on its way.
CLOSED_GRACE = timedelta(hours=1)
_STILL_SENDING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


async def drop_idle_addresses(session: AsyncSession, *, now: datetime) -> int:
    """Delete the sealed reply address of every contact nothing may write to any more.

    An address is kept while its contact has an open (or just closed) request, an alert
    subscription, a peer or coordinator role, a conversation in progress, a message queued
    for it, a consultation summary to come or an alert delivery still to send: everything
    that sends to a contact later. The pseudonym stays (flood control, de-duplication, the
    retention window); the engine seals the address again from the next message the person
    sends. With the key, a seized
    database then reaches only the people the bot is serving now. Returns how many went.
    """
    recently = hour_of(now) - CLOSED_GRACE
    result = await session.execute(
        update(Contact)
        .where(
            Contact.reply_address.is_not(None),
            ~exists().where(
                Request.contact_id == Contact.id,
                or_(
                    Request.status.in_(sorted(OPEN_REQUEST_STATUSES)),
                    Request.closed_at >= recently,
                ),
            ),
            ~exists().where(Subscription.contact_id == Contact.id),
            ~exists().where(PeerWorker.contact_id == Contact.id),
            ~exists().where(Coordinator.contact_id == Contact.id),
            ~exists().where(ConversationState.contact_id == Contact.id),
            ~exists().where(PendingMessage.contact_id == Contact.id),
            # A consultation's "what you told us" is still to come (the row goes once it is
            # sent, on /forget and by retention).
            ~exists().where(ConsultationParticipant.contact_id == Contact.id),
            ~exists().where(Delivery.contact_id == Contact.id, Delivery.status.in_(_STILL_SENDING)),
        )
        .values(reply_address=None)
        .returning(Contact.id)
    )
    return len(result.all())


async def find(
    session: AsyncSession, *, pseudonym_key: bytes, channel: Channel, platform_id: str
) -> Contact | None:
    """The contact for ``channel`` + ``platform_id`` if it exists."""
    alias = pseudonym(pseudonym_key, channel.value, platform_id)
    return (
        await session.execute(select(Contact).where(Contact.pseudonym == alias))
    ).scalar_one_or_none()


async def forget(session: AsyncSession, *, contact_id: int) -> bool:
    """Delete a contact and, through ON DELETE CASCADE, everything tied to it."""
    result = await session.get(Contact, contact_id)
    if result is None:
        return False
    await session.delete(result)
    return True


async def set_locale(session: AsyncSession, *, contact_id: int, locale: str) -> bool:
    """Store the language a contact chose (``/language``); it wins over the platform's hint,
    which is only read when the contact is created. False when the contact is gone."""
    changed = await session.scalar(
        update(Contact).where(Contact.id == contact_id).values(locale=locale).returning(Contact.id)
    )
    return changed is not None


def _day(now: datetime) -> datetime:
    """The start of ``now``'s day: when a contact last wrote is kept to the day, never a time."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
