"""Who may use the web console, and for how long: sign-in links, sessions, members.

``/console`` in chat mints a link for the member's staff contact (:func:`mint_link`); the
browser trades it, once and within minutes, for a session (:func:`redeem`); every page then
asks :func:`member` who the session belongs to, which reads the member's roles afresh, so a
member removed in chat or in the console is out at their next click.

Tokens are 256-bit random strings handed out once; only their SHA-256 digests are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import ConsoleLink, ConsoleSession, Coordinator, Outlet, PeerWorker

LINK_TTL: Final = timedelta(minutes=10)
IDLE_TIMEOUT: Final = timedelta(minutes=30)
MAX_AGE: Final = timedelta(hours=12)  # a session ends then even while in use
# last_seen_at is written at most this often: a page view is not a database write.
TOUCH_EVERY: Final = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Member:
    """A signed-in member as pages see them: roles by row number, never a person."""

    contact_id: int
    coordinator_id: int | None
    # (peer row id, outlet id, outlet name) for each active peer role.
    peer_roles: tuple[tuple[int, int, str], ...]
    locale: str | None

    @property
    def is_coordinator(self) -> bool:
        return self.coordinator_id is not None

    @property
    def outlet_ids(self) -> frozenset[int]:
        """The outlets this member runs as a peer."""
        return frozenset(outlet_id for _, outlet_id, _ in self.peer_roles)

    def may_manage(self, outlet_id: int) -> bool:
        """Coordinators manage every outlet; a peer only their own."""
        return self.is_coordinator or outlet_id in self.outlet_ids


async def mint_link(
    session: AsyncSession, *, contact_id: int, locale: str | None, now: datetime
) -> str:
    """A new single-use sign-in token for a staff contact (the caller checked the roles)."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleLink(
            token_hash=_digest(token),
            contact_id=contact_id,
            locale=locale,
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    await session.flush()
    return token


async def redeem(session: AsyncSession, *, token: str, now: datetime) -> str | None:
    """Trade a sign-in token for a new session token; None when the link is unknown, used or
    expired, or its member holds no role any more. One conditional UPDATE: two browsers
    racing with the same link get one session between them."""
    if not token or len(token) > 128:
        return None
    row = (
        await session.execute(
            update(ConsoleLink)
            .where(
                ConsoleLink.token_hash == _digest(token),
                ConsoleLink.used_at.is_(None),
                ConsoleLink.expires_at > now,
            )
            .values(used_at=now)
            .returning(ConsoleLink.contact_id, ConsoleLink.locale)
        )
    ).first()
    if row is None or await _load(session, row.contact_id, row.locale) is None:
        return None
    session_token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_digest(session_token),
            contact_id=row.contact_id,
            locale=row.locale,
            created_at=now,
            last_seen_at=now,
            expires_at=now + MAX_AGE,
        )
    )
    await session.flush()
    return session_token


async def member(session: AsyncSession, *, token: str | None, now: datetime) -> Member | None:
    """The member a session token belongs to, or None (no such session, idle too long, too
    old, or the member holds no role now). Keeps the session alive."""
    if not token or len(token) > 128:
        return None
    found = await session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == _digest(token))
    )
    if found is None:
        return None
    if found.expires_at <= now or found.last_seen_at + IDLE_TIMEOUT <= now:
        await session.delete(found)
        return None
    who = await _load(session, found.contact_id, found.locale)
    if who is None:
        await session.delete(found)
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        found.last_seen_at = now
    return who


async def set_locale(session: AsyncSession, *, token: str, locale: str, now: datetime) -> None:
    """The console's language for this session (the member chose it on a page)."""
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == _digest(token), ConsoleSession.expires_at > now)
        .values(locale=locale)
    )


async def sign_out(session: AsyncSession, *, token: str | None) -> None:
    """End one session (the browser's)."""
    if token:
        await session.execute(
            delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token))
        )


async def sign_out_everywhere(session: AsyncSession, *, contact_id: int) -> int:
    """End every session of a staff contact (a member removed or a phone lost)."""
    done = await session.execute(
        delete(ConsoleSession).where(ConsoleSession.contact_id == contact_id)
    )
    await session.execute(delete(ConsoleLink).where(ConsoleLink.contact_id == contact_id))
    return int(getattr(done, "rowcount", 0) or 0)


async def purge(session: AsyncSession, *, now: datetime) -> int:
    """Delete expired links and sessions (the housekeeping sweep calls this)."""
    links = await session.execute(
        delete(ConsoleLink).where(
            or_(ConsoleLink.expires_at <= now, ConsoleLink.used_at.is_not(None))
        )
    )
    sessions = await session.execute(
        delete(ConsoleSession).where(
            or_(
                ConsoleSession.expires_at <= now,
                ConsoleSession.last_seen_at <= now - IDLE_TIMEOUT,
            )
        )
    )
    return int(getattr(links, "rowcount", 0) or 0) + int(getattr(sessions, "rowcount", 0) or 0)


async def _load(session: AsyncSession, contact_id: int, locale: str | None) -> Member | None:
    """The member's current roles; None when they hold none (removed)."""
    coordinator_id = await session.scalar(
        select(Coordinator.id).where(Coordinator.contact_id == contact_id)
    )
    peers = (
        await session.execute(
            select(PeerWorker.id, Outlet.id, Outlet.name)
            .join(Outlet, Outlet.id == PeerWorker.outlet_id)
            .where(PeerWorker.contact_id == contact_id, PeerWorker.active.is_(True))
            .order_by(PeerWorker.id)
        )
    ).all()
    if coordinator_id is None and not peers:
        return None
    return Member(
        contact_id=contact_id,
        coordinator_id=coordinator_id,
        peer_roles=tuple((p[0], p[1], p[2]) for p in peers),
        locale=locale,
    )
