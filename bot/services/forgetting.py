"""``/forget`` in the database: a contact and everything derived from it, except the counts.

Goes, in one transaction:

- the audit events about the person's requests (their references are public: shown in the
  person's chat and to peers), deleted while the requests still exist so that no other
  request's events can share a reference. What they counted is already in the daily counters
  (:mod:`bot.services.counts` counts when an event is recorded), so totals do not move;
- the person's community reports, found by their salted author tag;
- the contact row, and by ``ON DELETE CASCADE`` its requests with their items and offers,
  conversation state, subscriptions, alert deliveries, queued messages and any peer or
  coordinator role.

What stays: the daily counters (no person in them), and handled-update keys (keyed hashes of
the platform's update ids, gone within a day): nothing links those to a contact, and finding a
person's among them would need the very link this bot refuses to keep.

Open requests must be cancelled first (the handler does, so outlets are told).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Contact, Request
from bot.services import audit, contacts, reports

__all__ = ["forget"]


async def forget(session: AsyncSession, *, contact_id: int, pseudonym_key: bytes) -> bool:
    """Delete the contact and all derived from it (see the module docstring); False when
    there was no such contact."""
    alias = await session.scalar(select(Contact.pseudonym).where(Contact.id == contact_id))
    if alias is None:
        return False
    references = list(
        await session.scalars(select(Request.reference).where(Request.contact_id == contact_id))
    )
    await audit.forget_subjects(session, references=references)
    await reports.forget_author(session, key=pseudonym_key, pseudonym=alias)
    return await contacts.forget(session, contact_id=contact_id)
