"""Single-use, expiring enrolment invites for coordinators and peer workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Coordinator, Invite, PeerWorker
from bot.domain import Role
from bot.privacy import hash_code, hour_of, new_invite_code

INVITE_PURPOSE = "invite"


class InviteError(Exception):
    """An invite code that cannot be used; the message is safe to show."""


@dataclass(frozen=True)
class Redeemed:
    """What a redeemed invite enrolled the contact as."""

    role: Role
    outlet_id: int | None


async def create(
    session: AsyncSession,
    *,
    codes_key: bytes,
    role: Role,
    ttl: timedelta,
    outlet_id: int | None = None,
    created_by_id: int | None = None,
    now: datetime,
) -> str:
    """Store a new invite (its hash only) and return the one-time code to hand over."""
    if role is Role.PEER and outlet_id is None:
        raise InviteError("a peer invite needs an outlet")
    code = new_invite_code()
    session.add(
        Invite(
            code_hash=hash_code(codes_key, code, purpose=INVITE_PURPOSE),
            role=role,
            outlet_id=outlet_id,
            created_by_id=created_by_id,
            created_at=hour_of(now),
            expires_at=now + ttl,  # exact while it runs; cut at use (see redeem)
        )
    )
    await session.flush()
    return code


async def redeem(
    session: AsyncSession,
    *,
    codes_key: bytes,
    code: str,
    contact_id: int,
    now: datetime,
) -> Redeemed:
    """Use an invite once: one conditional UPDATE, so two people racing get one winner."""
    try:
        code_hash = hash_code(codes_key, code, purpose=INVITE_PURPOSE)
    except ValueError:
        raise InviteError("That code is not valid.") from None
    claimed = (
        await session.execute(
            update(Invite)
            .where(Invite.code_hash == code_hash, Invite.used_at.is_(None), Invite.expires_at > now)
            # Kept past the day, so the hour only; the deadline is spent and would tell the
            # time the invite was made, so it goes to the hour too.
            .values(used_at=hour_of(now), expires_at=hour_of(now))
            .returning(Invite.role, Invite.outlet_id)
        )
    ).one_or_none()
    if claimed is None:
        raise InviteError("That code is not valid, already used or expired.")
    role, outlet_id = Role(claimed.role), claimed.outlet_id
    if role is Role.COORDINATOR:
        exists = await session.scalar(
            select(Coordinator.id).where(Coordinator.contact_id == contact_id)
        )
        if exists is None:
            session.add(Coordinator(contact_id=contact_id, created_at=hour_of(now)))
    else:
        exists = await session.scalar(
            select(PeerWorker.id).where(
                PeerWorker.contact_id == contact_id, PeerWorker.outlet_id == outlet_id
            )
        )
        if exists is None:
            session.add(
                PeerWorker(contact_id=contact_id, outlet_id=outlet_id, created_at=hour_of(now))
            )
        else:
            await session.execute(
                update(PeerWorker).where(PeerWorker.id == exists).values(active=True)
            )
    await session.flush()
    return Redeemed(role=role, outlet_id=outlet_id)
