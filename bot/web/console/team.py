"""*Team* (coordinators): members by outlet, invites, revoking invites, removing a member.

Every coordinator, then the peers :data:`bot.services.team.PAGE_SIZE` to a page
(``?page=``), of one outlet when ``?outlet=`` names one.

Members appear as handles only (:mod:`handlers.staff`). A removal does exactly what chat's
``/team`` removal does, through the same function (:func:`handlers.staff.remove`). A new
invite's code is shown once, in the answer to the POST that made it: never in a URL, a
redirect or a later page (only its hash is stored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.core.words import N_
from bot.domain import Role
from bot.services import team
from bot.services.team import CoordinatorRemoval, Member
from bot.web.console.site import Console, NavEntry, View
from handlers import staff

_ROLES: Final = {"p": Role.PEER, "c": Role.COORDINATOR}
_CODES: Final = {Role.PEER: "p", Role.COORDINATOR: "c"}
_SURE: Final = "yes"


def _int(value: object) -> int | None:
    """A form's row number, or None when it is not one."""
    if not isinstance(value, str) or not value.isdigit() or len(value) > 9:
        return None
    return int(value)


def _is_me(view: View, target: Member) -> bool:
    if target.role is Role.COORDINATOR:
        return target.id == view.member.coordinator_id
    return any(peer_id == target.id for peer_id, _, _ in view.member.peer_roles)


def _until(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


async def team_page(view: View) -> Response:
    return await _team(view)


async def _team(view: View, *, error: str | None = None, status: int = 200) -> Response:
    t = view.t
    query = view.request.query_params
    outlets = await team.outlet_choices(view.session)
    outlet_id = _int(query.get("outlet"))
    if outlet_id not in dict(outlets):
        outlet_id = None
    page = _int(query.get("page")) or 1
    shown = await team.members_page(view.session, now=view.now, outlet_id=outlet_id, page=page)
    groups: list[tuple[str, list[Member]]] = []
    if shown.coordinators:
        groups.append((t("Coordinators"), shown.coordinators))
    for member in shown.peers:
        heading = member.outlet_name or "?"
        if not groups or groups[-1][0] != heading or groups[-1][1][0].role is not Role.PEER:
            groups.append((heading, []))
        groups[-1][1].append(member)
    return view.render(
        "team.html",
        status=status,
        error=error,
        groups=groups,
        coordinators=len(shown.coordinators),
        peers=shown.peer_total,
        shown=shown,
        outlet_filter=outlet_id or "",
        invites=await team.open_invites(view.session, now=view.now),
        outlets=outlets,
        handle=lambda m: staff.handle(t, m),
        last_active=lambda day: staff.last_active(t, day, view.now),
        is_me=lambda m: _is_me(view, m),
        code=lambda m: _CODES[m.role],
    )


# --- invites -----------------------------------------------------------------------------------


async def invite(view: View) -> Response:
    """Make an invite; the answer (200, never a redirect) is the only place its code shows."""
    t = view.t
    config = view.console.engine.deps.config
    role = view.form.get("role")
    if role == "coordinator":
        if view.form.get("sure") != _SURE:
            return view.render("team_confirm.html", confirm="invite")
        assert view.member.coordinator_id is not None
        code = await staff.mint_coordinator_invite(
            view.scope,
            coordinator_id=view.member.coordinator_id,
            contact_id=view.member.contact_id,
        )
        if code is None:
            return await _team(
                view,
                status=409,
                error=t(
                    "A coordinator invite is already open. Revoke it first (Open invites) "
                    "or wait until it is used or expires."
                ),
            )
        outlet_name = None
    elif role == "peer":
        outlet_id = _int(view.form.get("outlet"))
        names = dict(await team.outlet_choices(view.session))
        if outlet_id is None or outlet_id not in names:
            return await _team(view, status=422, error=t("Choose an outlet for the invite."))
        found = await team.mint_peer_invite(
            view.session,
            codes_key=view.console.engine.deps.keys.codes,
            ttl=config.invite_ttl,
            outlet_id=outlet_id,
            created_by_id=view.member.coordinator_id,
            now=view.now,
        )
        assert found is not None  # the outlet was just read in this transaction
        code, outlet_name = found, names[outlet_id]
    else:
        return await _team(view, status=400, error=t("Choose who the invite is for."))
    return view.render(
        "team_invite.html",
        code=code,
        outlet_name=outlet_name,
        until=_until(view.now + config.invite_ttl),
    )


async def revoke(view: View) -> Response:
    """Revoke one open invite, or all of them (asked first)."""
    which = view.form.get("invite")
    if which == "all":
        if view.form.get("sure") != _SURE:
            return view.render("team_confirm.html", confirm="revoke-all")
        invite_id = None
    else:
        invite_id = _int(which)
        if invite_id is None:
            return await _team(
                view, status=400, error=view.t("No such open invite: nothing changed.")
            )
    gone = await team.revoke(view.session, invite_id=invite_id, actor="coordinator", now=view.now)
    if not gone:
        return await _team(view, status=404, error=view.t("No such open invite: nothing changed."))
    return view.redirect("/team", done="revoked")


# --- removing ----------------------------------------------------------------------------------


async def remove(view: View) -> Response:
    """Ask, then (``sure``) remove a member exactly as chat's /team does."""
    t = view.t
    role = _ROLES.get(str(view.form.get("role", "")))
    member_id = _int(view.form.get("member"))
    if role is None or member_id is None:
        return await _team(view, status=400, error=t("No such member: nothing changed."))
    target = await team.member(view.session, role=role, member_id=member_id)
    if target is None:
        return await _team(view, status=404, error=t("Already removed: nothing changed."))
    if view.form.get("sure") != _SURE:
        return view.render(
            "team_confirm.html",
            confirm="remove",
            target=target,
            target_handle=staff.handle(t, target),
            target_code=_CODES[target.role],
            myself=_is_me(view, target) and target.role is Role.COORDINATOR,
        )
    done = await staff.remove(
        view.scope,
        target,
        by_coordinator_id=view.member.coordinator_id,
        by_contact_id=view.member.contact_id,
    )
    if done.outcome is CoordinatorRemoval.LAST:
        return await _team(
            view,
            status=409,
            error=t(
                "{handle} is the only coordinator, so the role stays. Invite another "
                "coordinator first.",
                handle=staff.handle(t, target),
            ),
        )
    if done.outcome is CoordinatorRemoval.GONE:
        return await _team(view, status=404, error=t("Already removed: nothing changed."))
    return view.redirect("/team", done="removed")


def routes(console: Console) -> list[BaseRoute]:
    console.nav.append(NavEntry("/team", N_("Team"), coordinator=True))
    return [
        Route("/team", console.page(team_page, coordinator=True), methods=["GET"]),
        Route("/team/invite", console.page(invite, coordinator=True), methods=["POST"]),
        Route("/team/revoke", console.page(revoke, coordinator=True), methods=["POST"]),
        Route("/team/remove", console.page(remove, coordinator=True), methods=["POST"]),
    ]
