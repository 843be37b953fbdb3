"""``/alerts`` (the areas a person gets bad-batch alerts for) and ``/stop`` / ``STOP``.

::

    /alerts → areas + current alerts → [Add an area] → area list (or Everywhere) → added
                                     → [Remove an area] → subscribed areas → removed
    /stop, STOP (any case, anywhere) → every subscription gone, one confirmation line

Only area codes are stored (see :mod:`bot.services.subscriptions`).

Buttons: ``al:<run>:add``, ``al:<run>:page:<n>``, ``al:<run>:sub:<code>``, ``al:<run>:drop``,
``al:<run>:rm:<code>``; codes are re-checked against the gazetteer (or the person's own
subscriptions) on every press.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option
from bot.core.routes import MenuCommand
from bot.db.models import EVERYWHERE
from bot.services import alerts, subscriptions
from bot.services.subscriptions import SubscriptionError
from handlers import ui
from handlers.routes import ModuleRoutes

FLOW = "alerts"
PREFIX = "al"
SHOWN_ALERTS = 3  # current alerts shown in full under /alerts
LOOKUP_CHARS = 200


class Step(StrEnum):
    MAIN = "main"
    ADD = "add"
    DROP = "drop"


def is_stop(msg: Incoming) -> bool:
    """Whether ``msg`` is the plain word STOP (any case)."""
    return msg.kind is InputKind.TEXT and msg.text.strip().casefold() == "stop"


def area_name(ctx: Context, code: str) -> str:
    """An area's name, or "Everywhere"."""
    if code == EVERYWHERE:
        return ctx.tr("Everywhere")
    area = ctx.deps.content.gazetteer.by_code(code)
    return area.name if area is not None else code


async def show(ctx: Context, lead: str = "") -> None:
    """The person's areas, the alerts current for them, and what they can change."""
    if ctx.state is None or ctx.state.flow != FLOW:
        ctx.goto(FLOW, Step.MAIN, run=ui.new_run())
    else:
        ctx.goto(FLOW, Step.MAIN)
    run = ui.run_tag(ctx)
    mine = await subscriptions.areas_of(ctx.session, contact_id=ctx.person.contact_id)
    lines = [lead] if lead else []
    if mine:
        names = ", ".join(area_name(ctx, code) for code in mine)
        lines.append(ctx.tr("You get alerts for: {areas}", areas=names))
    else:
        lines.append(ctx.tr("You get no alerts yet. Add an area to get bad-batch warnings for it."))
    current = await alerts.list_current(
        ctx.session, contact_id=ctx.person.contact_id, now=ctx.now, limit=SHOWN_ALERTS
    )
    content = ctx.deps.content
    if current:
        lines.append(ctx.tr("Current alerts:"))
        lines += [
            alerts.render_alert(
                view, ctx.tr, content.gazetteer, content.cards, directory=content.directory
            )
            for view in current
        ]
    elif mine:
        lines.append(ctx.tr("No current alerts for your areas."))
    options = [Option(ctx.tr("Add an area"), ui.payload(PREFIX, run, "add"))]
    if mine:
        options += [
            Option(ctx.tr("Remove an area"), ui.payload(PREFIX, run, "drop")),
            Option(ctx.tr("Stop all alerts"), ui.payload(PREFIX, run, "stop")),
        ]
    options.append(ui.back_to_menu(ctx.tr))
    ctx.reply("\n\n".join(lines), options)


def _add_list(ctx: Context, number: int, lead: str) -> None:
    ctx.goto(FLOW, Step.ADD)
    run = ui.run_tag(ctx)
    areas = ctx.deps.content.gazetteer.areas
    choices = [Option(area.name, ui.payload(PREFIX, run, "sub", area.code)) for area in areas]
    back = [
        Option(ctx.tr("Everywhere"), ui.payload(PREFIX, run, "sub", EVERYWHERE)),
        ui.back_to_menu(ctx.tr),
    ]
    options = ui.page(choices, number, more=ui.payload(PREFIX, run, "page"), back=back, tr=ctx.tr)
    ctx.reply(lead, options, columns=2)


async def _drop_list(ctx: Context, lead: str) -> None:
    mine = await subscriptions.areas_of(ctx.session, contact_id=ctx.person.contact_id)
    if not mine:
        await show(ctx)
        return
    ctx.goto(FLOW, Step.DROP)
    run = ui.run_tag(ctx)
    options = [Option(area_name(ctx, c), ui.payload(PREFIX, run, "rm", c)) for c in mine]
    options.append(ui.back_to_menu(ctx.tr))
    ctx.reply(lead, options, columns=2)


async def _subscribe(ctx: Context, code: str) -> None:
    try:
        await subscriptions.subscribe(
            ctx.session,
            contact_id=ctx.person.contact_id,
            areas=[code],
            gazetteer=ctx.deps.content.gazetteer,
            now=ctx.now,
        )
    except SubscriptionError:
        ui.expired(ctx)
        return
    await show(ctx, ctx.tr("Added: {area}.", area=area_name(ctx, code)))


async def _unsubscribe(ctx: Context, code: str) -> None:
    removed = await subscriptions.unsubscribe(
        ctx.session, contact_id=ctx.person.contact_id, areas=[code]
    )
    if not removed:
        ui.expired(ctx)
        return
    await show(ctx, ctx.tr("Removed: {area}.", area=area_name(ctx, code)))


async def stop(ctx: Context) -> None:
    """STOP: every subscription gone in one step, whatever the person was doing."""
    ctx.end()
    removed = await subscriptions.stop_all(ctx.session, contact_id=ctx.person.contact_id)
    if removed:
        text = ctx.tr("Stopped. You will get no more alerts. Send /alerts to start again.")
    else:
        text = ctx.tr("You get no alerts, so there was nothing to stop.")
    ui.show_menu(ctx, text)


async def on_alerts(msg: Incoming, ctx: Context) -> None:
    """``/alerts``."""
    ctx.end()
    await show(ctx)


async def on_stop(msg: Incoming, ctx: Context) -> None:
    """``/stop``."""
    await stop(ctx)


async def on_option(msg: Incoming, ctx: Context) -> None:
    """An ``al:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step is None:
        ui.expired(ctx)
    elif press.action == "add" and step == Step.MAIN:
        _add_list(ctx, 0, ctx.tr("Choose an area to add (or type its name):"))
    elif press.action == "page" and step == Step.ADD:
        number = ui.as_int(press.arg)
        if number is None or number >= ui.pages_of(len(ctx.deps.content.gazetteer.areas)):
            ui.expired(ctx)
        else:
            _add_list(ctx, number, ctx.tr("Choose an area to add (or type its name):"))
    elif press.action == "sub" and step == Step.ADD:
        await _subscribe(ctx, press.arg)
    elif press.action == "drop" and step == Step.MAIN:
        await _drop_list(ctx, ctx.tr("Which area do you want to remove?"))
    elif press.action == "rm" and step == Step.DROP:
        await _unsubscribe(ctx, press.arg)
    elif press.action == "stop" and step == Step.MAIN:
        await stop(ctx)
    else:
        ui.expired(ctx)


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text in ``/alerts``: STOP, an area name while adding, else ask for a button."""
    assert ctx.state is not None
    if is_stop(msg):
        await stop(ctx)
        return
    if ctx.state.step == Step.ADD and msg.kind is InputKind.TEXT:
        area = ctx.deps.content.gazetteer.find(msg.text[:LOOKUP_CHARS])
        if area is not None:
            await _subscribe(ctx, area.code)
            return
        _add_list(
            ctx,
            0,
            ctx.tr(
                "I don't know a place called “{name}”. Type another name, or choose an area:",
                name=ui.quote(msg.text),
            ),
        )
        return
    await _reask(ctx, ui.please_choose(ctx))


async def on_unusable(msg: Incoming, ctx: Context) -> None:
    """A sticker, photo...: say what can be read, and ask again."""
    await _reask(ctx, ui.unreadable(ctx))


async def _reask(ctx: Context, hint: str) -> None:
    assert ctx.state is not None
    if ctx.state.step == Step.DROP:
        await _drop_list(ctx, hint)
    else:
        await show(ctx, hint)


ROUTES = ModuleRoutes(
    commands={"alerts": on_alerts, "stop": on_stop},
    options={PREFIX: on_option},
    flows={FLOW: on_input},
    unusable={FLOW: on_unusable},
    menu=(
        MenuCommand("alerts", "Bad-batch alerts for your area"),
        MenuCommand("stop", "Stop all alerts"),
    ),
)
