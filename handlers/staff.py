"""Staff as coordinators see them, and what follows removing one or minting a coordinator
invite: shared by chat's ``/team`` and ``/lost`` (handlers/team.py) and the console's Team page
(bot/web/console/team.py), so both say and do exactly the same.

People appear only as handles: "Peer #3 · Alpha table", "Coordinator #2" (the role row's
number), with the day they last wrote. No name, contact or platform id is ever shown.

After a removal (see :mod:`bot.services.team`, which also ends the member's console sessions)
the removed member is not told (the phone may be in someone else's hands), the people whose
pickups they held are told as on a release, their requests and the outlet's orphaned offers go
to the next outlet, and every other coordinator hears who removed whom, by handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.context import Render, Scope
from bot.core.messages import Reply
from bot.core.words import Translator
from bot.domain import Role
from bot.services import team
from bot.services.team import CoordinatorRemoval, Member, PeerRemoval
from handlers import offers

# --- words -------------------------------------------------------------------------------------


def handle(t: Translator, member: Member) -> str:
    """A member as coordinators see them: a number and an outlet, never a person."""
    if member.role is Role.COORDINATOR:
        return t("Coordinator #{n}", n=member.id)
    return t("Peer #{n} · {outlet}", n=member.id, outlet=member.outlet_name or "?")


def last_active(t: Translator, day: datetime | None, now: datetime) -> str:
    """The day a member last wrote: "today", "yesterday" or a date (never a time)."""
    if day is None:
        return t("not yet")
    days = (now.date() - day.date()).days
    if days <= 0:
        return t("today")
    if days == 1:
        return t("yesterday")
    return day.strftime("%Y-%m-%d")


def coordinator_member(coordinator_id: int | None) -> Member | None:
    """A coordinator's own handle (for "X removed Y"), if they are one."""
    if coordinator_id is None:
        return None
    return Member(Role.COORDINATOR, coordinator_id, None, None, None)


# --- removing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Removal:
    """What removing a member did: ``outcome`` (removed, kept as the last coordinator, or
    already gone) and, for a peer, what their removal released and moved on."""

    outcome: CoordinatorRemoval
    peer: PeerRemoval | None = None


async def remove(
    scope: Scope, target: Member, *, by_coordinator_id: int | None, by_contact_id: int | None
) -> Removal:
    """A coordinator removes ``target`` at once, with every consequence (module docstring).

    ``by_contact_id`` is the remover's staff contact: every other coordinator is told.
    """
    by = coordinator_member(by_coordinator_id)
    if target.role is Role.PEER:
        removal = await team.remove_peer(
            scope.session, peer_worker_id=target.id, actor="coordinator", now=scope.now
        )
        if removal is None:
            return Removal(CoordinatorRemoval.GONE)
        await follow_up(scope, removal)
        await tell_coordinators(scope, _removed_by(by, target, removal), skip=by_contact_id)
        return Removal(CoordinatorRemoval.REMOVED, removal)
    result = await team.remove_coordinator(
        scope.session, coordinator_id=target.id, actor="coordinator", now=scope.now
    )
    if result is CoordinatorRemoval.REMOVED:
        await tell_coordinators(scope, _removed_by(by, target, None), skip=by_contact_id)
    return Removal(result)


async def follow_up(scope: Scope, removal: PeerRemoval) -> None:
    """Tell the people whose pickups were released (as a release does), then route on."""
    for released in removal.released:
        scope.notify(released.contact_id, _moved_on(released.reference, removal.outlet_name))
    for request_id in removal.reroute:
        await offers.dispatch(scope, request_id=request_id)


async def tell_coordinators(scope: Scope, render: Render, *, skip: int | None) -> None:
    """Every coordinator but ``skip`` (the staff contact of whoever acted)."""
    for contact_id in await offers.coordinator_contacts(scope.session):
        if contact_id != skip:
            scope.notify(contact_id, render)


def _removed_by(by: Member | None, target: Member, removal: PeerRemoval | None) -> Render:
    released = len(removal.released) if removal is not None else 0
    moved = len(removal.lapsed) if removal is not None else 0

    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "{by} removed {handle}. Pickups released: {released}. Offers moved on: {moved}.",
                by=handle(t, by) if by is not None else "?",
                handle=handle(t, target),
                released=released,
                moved=moved,
            )
        )

    return render


def _moved_on(reference: str, outlet: str) -> Render:
    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "Your pickup {ref} can't happen at {outlet} after all, and its code no "
                "longer works. We're looking for another outlet.",
                ref=reference,
                outlet=outlet,
            )
        )

    return render


# --- coordinator invites -----------------------------------------------------------------------


async def mint_coordinator_invite(
    scope: Scope, *, coordinator_id: int, contact_id: int | None
) -> str | None:
    """A coordinator invite (None while one is open, see
    :func:`bot.services.team.mint_coordinator_invite`); every other coordinator is told."""
    ttl = scope.deps.config.invite_ttl
    code = await team.mint_coordinator_invite(
        scope.session,
        codes_key=scope.deps.keys.codes,
        ttl=ttl,
        created_by_id=coordinator_id,
        now=scope.now,
    )
    if code is None:
        return None
    by = coordinator_member(coordinator_id)
    until = (scope.now + ttl).strftime("%Y-%m-%d %H:%M")

    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "{by} made a coordinator invite, valid until {time} UTC. If that was not "
                "agreed, revoke it: /team, Open invites.",
                by=handle(t, by) if by is not None else "?",
                time=until,
            )
        )

    await tell_coordinators(scope, render, skip=contact_id)
    return code
