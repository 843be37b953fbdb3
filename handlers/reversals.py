"""``/used``: tell the service, anonymously, that naloxone was used; a new kit in one step.

::

    area → doses (1, 2, 3+) → what happened → new kit? → thanks (and the kit request)

Nothing is written until the last answer, and then only daily counters
(:func:`bot.services.reversals.record_reversal`): leaving halfway leaves no trace. "Yes, send
me a new kit" makes the same request ``/naloxone`` makes for "either" (the kit the nearest
outlet holds), routed and handed over the same way.

Buttons: ``rev:<run>:<action>[:<arg>]``.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.context import Context
from bot.core.messages import Incoming, Option
from bot.core.routes import MenuCommand
from bot.core.words import Translator
from bot.services import reversals
from handlers import info, location, naloxone, ui
from handlers.routes import ModuleRoutes

FLOW = "used"
PREFIX = "rev"
# What to read next: what to do if it happens again (overdose can come back as naloxone wears off).
AFTERCARE_CARD = info.EMERGENCY_CARD


class Step(StrEnum):
    LOCATION = "location"
    DOSES = "doses"
    OUTCOME = "outcome"
    KIT = "kit"


async def start(ctx: Context) -> None:
    """Begin a report of naloxone used."""
    ctx.end()
    ctx.goto(FLOW, Step.LOCATION, run=ui.new_run())
    _show(ctx)


async def on_command(msg: Incoming, ctx: Context) -> None:
    """``/used``."""
    await start(ctx)


def _button(ctx: Context, label: str, action: str, arg: object = None) -> Option:
    return Option(label, ui.payload(PREFIX, ui.run_tag(ctx), action, arg))


def _outcome_label(tr: Translator, outcome: str) -> str:
    if outcome == "woke":
        return tr("They woke up")
    if outcome == "ambulance":
        return tr("An ambulance came")
    return tr("I don't know")


def _doses_label(tr: Translator, doses: int) -> str:
    # Words, not bare numbers: on Signal "2" would be both a label and a list number.
    if doses == 1:
        return tr("1 dose")
    if doses == 2:
        return tr("2 doses")
    return tr("3 or more doses")


def _show(ctx: Context, hint: str = "") -> None:
    assert ctx.state is not None
    step = ctx.state.step
    if step == Step.LOCATION:
        lead = ctx.tr(
            "Thank you for telling us you used naloxone. It is anonymous: nothing about you "
            "is kept, only a count."
        )
        location.prompt(ctx, PREFIX, ui.run_tag(ctx), lead=f"{hint}\n\n{lead}" if hint else lead)
        return
    if step == Step.DOSES:
        text = ctx.tr("How many doses did you give?")
        options = [_button(ctx, _doses_label(ctx.tr, n), "doses", n) for n in reversals.DOSES]
    elif step == Step.OUTCOME:
        text = ctx.tr("What happened?")
        options = [
            _button(ctx, _outcome_label(ctx.tr, o), "outcome", o) for o in reversals.OUTCOMES
        ]
    else:
        text = ctx.tr("Do you need a new naloxone kit?")
        options = [
            _button(ctx, ctx.tr("Yes, send me a new kit"), "kit", "yes"),
            _button(ctx, ctx.tr("No, thanks"), "kit", "no"),
        ]
    ctx.reply(f"{hint}\n\n{text}" if hint else text, [*options, ui.back_to_menu(ctx.tr)])


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``rev:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step is None:
        ui.expired(ctx)
    elif press.action in location.ACTIONS and step == Step.LOCATION:
        place = location.on_press(ctx, press, PREFIX)
        if place is not None:
            _to_doses(ctx, place)
    elif press.action == "doses" and step == Step.DOSES and ui.as_int(press.arg) in reversals.DOSES:
        ctx.goto(FLOW, Step.OUTCOME, doses=ui.as_int(press.arg))
        _show(ctx)
    elif press.action == "outcome" and step == Step.OUTCOME and press.arg in reversals.OUTCOMES:
        ctx.goto(FLOW, Step.KIT, outcome=press.arg)
        _show(ctx)
    elif press.action == "kit" and step == Step.KIT and press.arg in ("yes", "no"):
        await _finish(ctx, kit=press.arg == "yes")
    else:
        ui.expired(ctx)


def _to_doses(ctx: Context, place: location.Place) -> None:
    ctx.goto(FLOW, Step.DOSES, **place.to_data())
    _show(ctx)


async def _finish(ctx: Context, *, kit: bool) -> None:
    assert ctx.state is not None
    data = ctx.state.data
    place = location.Place.from_data(data)
    doses, outcome = data.get("doses"), data.get("outcome")
    if place is None or doses not in reversals.DOSES or outcome not in reversals.OUTCOMES:
        ui.expired(ctx)
        return
    reversals.record_reversal(
        ctx.session,
        area_code=place.area_code,
        doses=int(doses),
        outcome=str(outcome),
        kit_asked=kit,
        now=ctx.now,
    )
    thanks = ctx.tr(
        "Thank you. You may have saved a life.\n"
        "Naloxone wears off in 30 to 90 minutes and the overdose can come back: stay with "
        "them if you can, and call {number} if they go back to sleep or breathe badly.",
        number=ctx.deps.content.gazetteer.city.emergency_number,
    )
    aftercare = Option(ctx.tr("What to do in an emergency"), f"{info.PREFIX}:{AFTERCARE_CARD}")
    if not kit:
        ctx.end()
        ctx.reply(thanks, [aftercare, ui.back_to_menu(ctx.tr)])
        return
    ctx.reply(thanks, [aftercare])
    await naloxone.send_request(ctx, place, naloxone.EITHER)


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text or a shared location during the report."""
    assert ctx.state is not None
    step = ctx.state.step
    if step == Step.LOCATION:
        place = location.on_input(msg, ctx, PREFIX, ui.run_tag(ctx))
        if place is not None:
            _to_doses(ctx, place)
    elif step not in set(Step):
        ui.expired(ctx)
    else:
        _show(ctx, ui.please_choose(ctx))


async def on_unusable(msg: Incoming, ctx: Context) -> None:
    """A sticker, photo...: say what can be read, then this step's question."""
    assert ctx.state is not None
    if ctx.state.step in set(Step):
        _show(ctx, ui.unreadable(ctx))
    else:
        ui.expired(ctx)


ROUTES = ModuleRoutes(
    commands={"used": on_command},
    options={PREFIX: on_option},
    flows={FLOW: on_input},
    unusable={FLOW: on_unusable},
    menu=(MenuCommand("used", "Tell us you used naloxone"),),
)
