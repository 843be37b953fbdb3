"""The waiting list, person side and the routing of held requests.

The unrouted answer (handlers/offers.py) carries ``wt:`` buttons: ``wt:hold:<request id>``
holds the request (:func:`bot.services.waiting.hold`, which re-checks that it is the presser's
own, just-unrouted request) and ``wt:open:<request id>`` lists the services open now.

:func:`route_held` routes held requests oldest first, each exactly once: a peer coming on
shift and a stock count call it in their own transaction (the offer goes out with that
update), and due work calls it every tick for outlets that opened by the clock.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from bot.core.context import Context, Render, Scope
from bot.core.messages import Incoming, Reply
from bot.core.words import Translator
from bot.db.models import Request
from bot.privacy import AddressBox
from bot.services import waiting
from bot.services.requests import RouteResult
from handlers import offers, ui
from handlers.routes import ModuleRoutes

PREFIX = offers.WAIT_PREFIX
# Held requests routed per call: the rest wait for the next event or tick.
BATCH = 100
# Services listed by [Services open now].
OPEN_SHOWN = 5


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``wt:`` button."""
    action, _, arg = (msg.option or "").partition(":")[2].partition(":")
    request_id = ui.as_int(arg)
    if request_id is None or action not in (offers.HOLD, offers.OPEN_NOW):
        ui.expired(ctx)
    elif action == offers.HOLD:
        await _hold(ctx, request_id)
    else:
        await _open_now(ctx, request_id)


async def _hold(ctx: Context, request_id: int) -> None:
    ctx.end()
    held = await waiting.hold(
        ctx.session,
        request_id=request_id,
        contact_id=ctx.person.contact_id,
        ttl=ctx.deps.config.request_ttl,
        now=ctx.now,
        box=AddressBox(ctx.deps.keys.address),
        own_peers=ctx.person.peer_ids,  # never offered to the asker's own outlet role
    )
    if not held.held or held.reference is None or held.expires_at is None:
        ui.show_menu(
            ctx,
            ctx.tr("That request can no longer be held. You can make a new one any time."),
        )
        return
    # Something may have opened since the answer: try at once (it stays waiting otherwise).
    outcome = await offers.dispatch(ctx, request_id=request_id)
    if outcome.result is RouteResult.OFFERED:
        ui.sent(ctx, outcome, held.reference)
        return
    until = offers.local_time(held.expires_at, ctx.deps.content.gazetteer.city.timezone, ctx.now)
    ctx.reply(
        ctx.tr(
            "Your request {ref} is on the waiting list, number {n} in line. It goes to a "
            "peer by itself as soon as an outlet can take it, and you'll hear here. "
            "It stays open until {time}.\n/status to check, /cancel to cancel.",
            ref=held.reference,
            n=held.place,
            time=until,
        )
    )


async def _open_now(ctx: Context, request_id: int) -> None:
    """Directory services open now, nearest first (to the request's area when it is the
    presser's own), marking those that hand out naloxone."""
    ctx.end()
    request = await ctx.session.get(Request, request_id)
    if request is not None and request.contact_id != ctx.person.contact_id:
        request = None
    area_code = request.area_code if request is not None else None
    cell = (request.cell_lat, request.cell_lon) if request is not None else (None, None)
    content = ctx.deps.content
    services = offers.fixed_services(
        content, area_code=area_code, cell=cell, referral_type=None, now=ctx.now, limit=OPEN_SHOWN
    )
    t = ctx.tr
    lines = []
    if services.open_now:
        lines.append(t("Services open now:"))
        lines += [offers.service_line(t, service) for service in services.listed]
    else:
        lines.append(t("None of the listed services is open right now."))
    number = offers.emergency_number(content, area_code)
    lines.append(t("In an emergency call {number}.", number=number))
    ctx.reply("\n".join(lines), (ui.back_to_menu(t),))


# --- routing held requests -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Routed:
    """What :func:`route_held` did (counts only)."""

    offered: int = 0
    waiting: int = 0
    # The newest request claimed: the next batch starts after it.
    last_id: int = 0

    @property
    def claimed(self) -> int:
        return self.offered + self.waiting


async def route_held(
    scope: Scope, *, near: Collection[int] | None = None, after: int = 0
) -> Routed:
    """Route held requests, oldest first; each person whose request went out hears it.

    ``near``: only those within reach of these outlets (where a shift started or stock
    came in); all of them when None (the clock). Claimed with ``FOR UPDATE SKIP LOCKED``
    (PostgreSQL) and routed by the conditional claim in :func:`bot.services.requests.route`:
    a request another transaction is routing is skipped here, and one routed already is no
    longer waiting. One read when none wait.
    """
    ids = await waiting.claim(scope.session, now=scope.now, limit=BATCH, near=near, after=after)
    if not ids:
        return Routed()
    rows = await scope.session.execute(
        select(Request.id, Request.contact_id).where(Request.id.in_(ids))
    )
    owners = {row.id: row.contact_id for row in rows}
    offered = 0
    for request_id in ids:
        outcome = await offers.dispatch(scope, request_id=request_id)
        if outcome.result is RouteResult.OFFERED and outcome.reference is not None:
            offered += 1
            scope.notify(owners[request_id], _offered(outcome.reference))
    return Routed(offered=offered, waiting=len(ids) - offered, last_id=max(ids))


def _offered(reference: str) -> Render:
    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "Your held request {ref} has gone to a peer near you. You'll get the pickup "
                "place and a code here.\n/status to check, /cancel to cancel.",
                ref=reference,
            )
        )

    return render


async def announce_digest(scope: Scope) -> bool:
    """When waits pile up, one short count by area to every coordinator (at most hourly)."""
    counts = await waiting.digest_due(scope.session, now=scope.now)
    if counts is None:
        return False
    content = scope.deps.content
    total = sum(counts.values())
    minutes = int(waiting.DIGEST_AFTER.total_seconds() // 60)

    def render(t: Translator) -> Reply:
        areas = ", ".join(
            f"{offers.area_name(content, code) or t('unknown')}: {n}" for code, n in counts.items()
        )
        return Reply(
            t(
                "Waiting list: {n} held requests have waited over {minutes} minutes "
                "({areas}). Nobody on shift or in stock can take them yet.",
                n=total,
                minutes=minutes,
                areas=areas,
            )
        )

    for contact_id in await offers.coordinator_contacts(scope.session):
        scope.notify(contact_id, render)
    return True


ROUTES = ModuleRoutes(options={PREFIX: on_option})
