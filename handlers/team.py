"""The team, for coordinators: who holds a role (by handle), removing one, open invites; and
``/lost`` for a member whose phone is lost, taken, or about to be.

People appear only as handles, with the day they last wrote; handles, and what follows a
removal (who is told, what is routed again), are shared with the console's Team page
(:mod:`handlers.staff`). A seized phone is the case this is for: the peer asks a coordinator
from another phone or in person, with the handle ``/team`` showed them; ``/lost`` on the phone
itself is for one about to be lost.

Payloads (``tm:`` then)::

    p:<page>        a page of /team        r:<p|c>:<id>   remove? (asks)
    y:<p|c>:<id>    remove, sure           k              keep / cancel
    i               open invites           x:<invite>     revoke one
    xa              revoke all? (asks)     xy             revoke all, sure
    ic              make a coordinator invite (asked by /invite coordinator)
    ly              /lost, sure
"""

from __future__ import annotations

import re

from bot.core.context import Context, Render
from bot.core.messages import Incoming, Option, Reply
from bot.core.words import Translator
from bot.domain import Role
from bot.services import team
from bot.services.team import CoordinatorRemoval, Member, PeerRemoval
from handlers import coordinator, staff, ui
from handlers.routes import ModuleRoutes
from handlers.staff import handle, last_active

PREFIX = "tm"
PAGE_SIZE = 8  # members per page: short enough for an old phone's screen
_KIND = {"p": Role.PEER, "c": Role.COORDINATOR}
_ID = r"([0-9]{1,9})"
_MEMBER = re.compile(rf"tm:([ry]):([pc]):{_ID}")
_PAGE = re.compile(rf"tm:p:{_ID}")
_REVOKE = re.compile(rf"tm:x:{_ID}")


def _code(role: Role) -> str:
    return "c" if role is Role.COORDINATOR else "p"


def _is_me(ctx: Context, member: Member) -> bool:
    if member.role is Role.COORDINATOR:
        return member.id == ctx.person.coordinator_id
    return member.id in ctx.person.peer_ids


# --- /team -------------------------------------------------------------------------------------


async def team_command(msg: Incoming, ctx: Context) -> None:
    """``/team``: coordinators get the team; a peer gets their own handle and what to do."""
    if ctx.person.is_coordinator:
        await _show_page(ctx, 0)
        return
    if ctx.person.is_peer:
        mine = [
            handle(ctx.tr, m)
            for m in await team.members(ctx.session, now=ctx.now)
            if m.role is Role.PEER and m.id in ctx.person.peer_ids
        ]
        ctx.reply(
            ctx.tr(
                "Your handle: {handles}. If this phone is lost or taken, tell a coordinator "
                "this handle (from another phone or in person): they can remove it at once. "
                "/lost removes it from this phone now.",
                handles=", ".join(mine),
            )
        )
        return
    ctx.reply(ctx.tr("This command is for coordinators."))


async def _show_page(ctx: Context, page: int) -> None:
    t = ctx.tr
    everyone = await team.members(ctx.session, now=ctx.now)
    pages = max(1, -(-len(everyone) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = everyone[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    coordinators = sum(m.role is Role.COORDINATOR for m in everyone)
    lines = [
        t(
            "Team: coordinators {coordinators}, peers {peers} (page {page} of {pages}).",
            coordinators=coordinators,
            peers=len(everyone) - coordinators,
            page=page + 1,
            pages=pages,
        )
    ]
    heading: str | None = None
    options: list[Option] = []
    for member in shown:
        group = t("Coordinators") if member.role is Role.COORDINATOR else member.outlet_name
        if group != heading:
            heading = group
            lines.append(f"{group or '?'}:")
        parts = [handle(t, member)]
        if _is_me(ctx, member):
            parts.append(t("you"))
        if member.on_shift:
            parts.append(t("on shift"))
        parts.append(t("last active {day}", day=last_active(t, member.last_seen_on, ctx.now)))
        lines.append("  " + " · ".join(parts))
        options.append(
            Option(
                t("Remove {handle}", handle=handle(t, member)),
                f"{PREFIX}:r:{_code(member.role)}:{member.id}",
            )
        )
    if page > 0:
        options.append(Option(t("◀ Back"), f"{PREFIX}:p:{page - 1}"))
    if page + 1 < pages:
        options.append(Option(t("More ▶"), f"{PREFIX}:p:{page + 1}"))
    options.append(Option(t("Open invites"), f"{PREFIX}:i"))
    ctx.reply("\n".join(lines), options)


# --- buttons -----------------------------------------------------------------------------------


async def on_option(msg: Incoming, ctx: Context) -> None:
    """Every ``tm:`` button; each press is re-authorised, so stale or forged ones do nothing."""
    payload = msg.option or ""
    if payload == f"{PREFIX}:k":
        ctx.reply(ctx.tr("OK, nothing changed."))
        return
    if payload == f"{PREFIX}:ly":
        await _lost(ctx)
        return
    if not ctx.person.is_coordinator:
        ctx.reply(ctx.tr("This command is for coordinators."))
        return
    if payload == f"{PREFIX}:i":
        await _show_invites(ctx)
    elif payload == f"{PREFIX}:xa":
        ctx.reply(
            ctx.tr("Revoke every open invite? Codes already passed on stop working."),
            (
                Option(ctx.tr("Yes, revoke all"), f"{PREFIX}:xy"),
                Option(ctx.tr("Keep them"), f"{PREFIX}:k"),
            ),
            columns=2,
        )
    elif payload == f"{PREFIX}:xy":
        await _revoke(ctx, None)
    elif payload == f"{PREFIX}:ic":
        await _mint_coordinator_invite(ctx)
    elif (match := _REVOKE.fullmatch(payload)) is not None:
        await _revoke(ctx, int(match.group(1)))
    elif (match := _PAGE.fullmatch(payload)) is not None:
        await _show_page(ctx, int(match.group(1)))
    elif (match := _MEMBER.fullmatch(payload)) is not None:
        action, role, member_id = match.group(1), _KIND[match.group(2)], int(match.group(3))
        target = await team.member(ctx.session, role=role, member_id=member_id)
        if target is None:
            ctx.reply(ctx.tr("Already removed: nothing changed."))
        elif action == "r":
            _ask_remove(ctx, target)
        else:
            await _remove(ctx, target)
    else:
        ctx.reply(ui.no_longer_valid(ctx))


def _ask_remove(ctx: Context, target: Member) -> None:
    t = ctx.tr
    sure = f"{PREFIX}:y:{_code(target.role)}:{target.id}"
    if _is_me(ctx, target) and target.role is Role.COORDINATOR:
        text = t(
            "This is you. Remove your own coordinator role? You lose coordinator access at "
            "once, and only another coordinator can invite you back."
        )
        yes = t("Yes, remove me")
    else:
        text = t(
            "Remove {handle}? At once: their shift ends, their offers and pickups go to "
            "another outlet, and the choices they were sent stop working.",
            handle=handle(t, target),
        )
        yes = t("Yes, remove")
    ctx.reply(text, (Option(yes, sure), Option(t("Keep"), f"{PREFIX}:k")), columns=2)


async def _remove(ctx: Context, target: Member) -> None:
    t = ctx.tr
    name = handle(t, target)
    done = await staff.remove(
        ctx,
        target,
        by_coordinator_id=ctx.person.coordinator_id,
        by_contact_id=ctx.person.staff_contact_id,  # roles hang on the staff contact
    )
    if done.outcome is CoordinatorRemoval.LAST:
        ctx.reply(
            t(
                "{handle} is the only coordinator, so the role stays. Invite another "
                "coordinator first.",
                handle=name,
            )
        )
    elif done.outcome is CoordinatorRemoval.GONE:
        ctx.reply(t("Already removed: nothing changed."))
    elif done.peer is not None:
        ctx.reply(_removed_text(t, name, done.peer))
    else:
        ctx.reply(t("Removed {handle}.", handle=name))


def _removed_text(t: Translator, name: str, removal: PeerRemoval) -> str:
    return t(
        "Removed {handle}. Pickups released: {released}. Offers moved on: {moved}.",
        handle=name,
        released=len(removal.released),
        moved=len(removal.lapsed),
    )


# --- invites -----------------------------------------------------------------------------------


async def _show_invites(ctx: Context) -> None:
    t = ctx.tr
    listed = await team.open_invites(ctx.session, now=ctx.now)
    if not listed:
        ctx.reply(t("No open invites."))
        return
    lines = [t("Open invites (unused):")]
    options = []
    for invite in listed:
        until = invite.expires_hour.strftime("%Y-%m-%d %H:00")
        if invite.role is Role.COORDINATOR:
            line = t("Invite #{n}: coordinator, until about {time} UTC", n=invite.id, time=until)
        else:
            line = t(
                "Invite #{n}: peer at {outlet}, until about {time} UTC",
                n=invite.id,
                outlet=invite.outlet_name or "?",
                time=until,
            )
        lines.append(line)
        options.append(Option(t("Revoke #{n}", n=invite.id), f"{PREFIX}:x:{invite.id}"))
    options.append(Option(t("Revoke all"), f"{PREFIX}:xa"))
    ctx.reply("\n".join(lines), options, columns=2)


async def _revoke(ctx: Context, invite_id: int | None) -> None:
    gone = await team.revoke(ctx.session, invite_id=invite_id, actor="coordinator", now=ctx.now)
    if not gone:
        ctx.reply(ctx.tr("No such open invite: nothing changed."))
        return
    ctx.reply(ctx.tr("Invites revoked: {n}. Their codes no longer work.", n=gone))


async def _mint_coordinator_invite(ctx: Context) -> None:
    assert ctx.person.coordinator_id is not None
    code = await staff.mint_coordinator_invite(
        ctx, coordinator_id=ctx.person.coordinator_id, contact_id=ctx.person.staff_contact_id
    )
    if code is None:
        ctx.reply(
            ctx.tr(
                "A coordinator invite is already open. Revoke it first (/team, Open invites) "
                "or wait until it is used or expires."
            )
        )
        return
    ctx.reply(coordinator.invite_text(ctx, code, outlet_name=None))


# --- /lost -------------------------------------------------------------------------------------


async def lost_command(msg: Incoming, ctx: Context) -> None:
    """``/lost``: a member removes their own roles from this phone (asks first)."""
    if not ctx.person.is_peer and not ctx.person.is_coordinator:
        ctx.reply(ctx.tr("This is for peer workers and coordinators."))
        return
    ctx.reply(
        ctx.tr(
            "Is this phone lost or taken, or about to be? This removes your staff roles from "
            "it at once: offers and pickups go to others and coordinators are told. To come "
            "back, ask a coordinator for a new invite."
        ),
        (
            Option(ctx.tr("Yes, remove my roles"), f"{PREFIX}:ly"),
            Option(ctx.tr("Keep"), f"{PREFIX}:k"),
        ),
        columns=2,
    )


async def _lost(ctx: Context) -> None:
    t = ctx.tr
    if not ctx.person.is_peer and not ctx.person.is_coordinator:
        ctx.reply(t("This is for peer workers and coordinators."))
        return
    ctx.end()
    removed: list[tuple[Member, PeerRemoval | None]] = []
    for peer_id in ctx.person.peer_ids:
        target = await team.member(ctx.session, role=Role.PEER, member_id=peer_id)
        removal = await team.remove_peer(
            ctx.session, peer_worker_id=peer_id, actor="peer", lost=True, now=ctx.now
        )
        if target is not None and removal is not None:
            await staff.follow_up(ctx, removal)
            removed.append((target, removal))
    kept_last = False
    me = staff.coordinator_member(ctx.person.coordinator_id)
    if me is not None:
        result = await team.remove_coordinator(
            ctx.session, coordinator_id=me.id, actor="coordinator", lost=True, now=ctx.now
        )
        if result is CoordinatorRemoval.REMOVED:
            removed.append((me, None))
        kept_last = result is CoordinatorRemoval.LAST
    lines = [t("Done: this phone no longer holds those roles.")] if removed else []
    if kept_last:
        lines.append(
            t(
                "You are the only coordinator, so that role stays on this phone. Invite "
                "another coordinator and have them remove you, or ask the operator to run "
                "hrbot team remove-coordinator."
            )
        )
    ctx.reply("\n".join(lines) or t("OK, nothing changed."))
    for target, removal in removed:
        await staff.tell_coordinators(
            ctx, _lost_notice(target, removal), skip=ctx.person.staff_contact_id
        )


def _lost_notice(target: Member, removal: PeerRemoval | None) -> Render:
    released = len(removal.released) if removal is not None else 0
    moved = len(removal.lapsed) if removal is not None else 0

    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "{handle} reported a lost phone and was removed. Pickups released: "
                "{released}. Offers moved on: {moved}.",
                handle=handle(t, target),
                released=released,
                moved=moved,
            )
        )

    return render


ROUTES = ModuleRoutes(
    commands={"team": team_command, "lost": lost_command},
    options={PREFIX: on_option},
)
