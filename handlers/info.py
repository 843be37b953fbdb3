"""``/info`` (a menu of info cards) and ``/emergency`` (what to do, straight away).

Cards change nothing, so their buttons (``inf:<card code>``) carry no conversation tag and work
whenever they are pressed; an unknown code is treated as an expired button.
"""

from __future__ import annotations

from bot.content import Card
from bot.core.context import Context
from bot.core.messages import Incoming, Option
from bot.core.routes import MenuCommand
from handlers import ui
from handlers.routes import ModuleRoutes

PREFIX = "inf"
EMERGENCY_CARD = "overdose"
# Shown under the emergency steps: the next thing a person may need.
EMERGENCY_FOLLOW_UPS = ("naloxone_nasal", "naloxone_injectable")


def card_text(ctx: Context, code: str) -> str:
    """A card's title and text with the emergency number filled in (one of the required cards)."""
    return _render(ctx, ctx.deps.content.cards.get(code))


def _render(ctx: Context, card: Card) -> str:
    city = ctx.deps.content.gazetteer.city
    # Card texts are content: a locale's catalogue carries them like any other message.
    text = ctx.tr(card.text, emergency_number=city.emergency_number, city=city.name)
    return f"{ctx.tr(card.title)}\n\n{text}{_review_notice(ctx, card)}"


def unchecked(ctx: Context, card: Card) -> bool:
    """Whether the card is shown in a translation no native speaker has reviewed yet."""
    return card.needs_review(ctx.tr.locale) and ctx.tr.has(card.text)


def _review_notice(ctx: Context, card: Card) -> str:
    if not unchecked(ctx, card):
        return ""
    return "\n\n" + ctx.tr(
        "⚠️ This translation has not been checked by a native speaker yet. "
        "If anything is unclear, ask a peer."
    )


def _card_button(ctx: Context, card: Card) -> Option:
    return Option(ctx.tr(card.title), f"{PREFIX}:{card.code}")


async def show_list(ctx: Context) -> None:
    """The menu of cards."""
    ctx.end()
    cards = ctx.deps.content.cards.cards
    options = [_card_button(ctx, card) for card in cards]
    text = ctx.tr("Info: choose a topic.")
    if any(unchecked(ctx, card) for card in cards):
        text += "\n" + ctx.tr("⚠️ Some of these guides are not yet checked by a native speaker.")
    ctx.reply(text, [*options, ui.back_to_menu(ctx.tr)])


async def show_emergency(ctx: Context) -> None:
    """The emergency steps and number, with no menu in the way."""
    ctx.end()
    content = ctx.deps.content
    card = content.cards.get(EMERGENCY_CARD)
    number = content.gazetteer.city.emergency_number
    first = ctx.tr("Call {number} now if someone can't be woken or isn't breathing.", number=number)
    city = content.gazetteer.city
    steps = ctx.tr(card.text, emergency_number=number, city=city.name)
    follow_ups = [
        _card_button(ctx, spec)
        for code in EMERGENCY_FOLLOW_UPS
        if (spec := content.cards.by_code(code)) is not None
    ]
    text = f"{ctx.tr(card.title)}\n{first}\n\n{steps}{_review_notice(ctx, card)}"
    ctx.reply(text, [*follow_ups, ui.back_to_menu(ctx.tr)])


async def on_info(msg: Incoming, ctx: Context) -> None:
    """``/info``."""
    await show_list(ctx)


async def on_emergency(msg: Incoming, ctx: Context) -> None:
    """``/emergency``."""
    await show_emergency(ctx)


async def on_option(msg: Incoming, ctx: Context) -> None:
    """An ``inf:<code>`` button: show that card."""
    code = (msg.option or "").partition(":")[2]
    card = ctx.deps.content.cards.by_code(code)
    if card is None:
        ui.expired(ctx)
        return
    options = [Option(ctx.tr("More topics"), f"{ui.MENU}:info"), ui.back_to_menu(ctx.tr)]
    ctx.reply(_render(ctx, card), options)


ROUTES = ModuleRoutes(
    commands={"info": on_info, "emergency": on_emergency},
    options={PREFIX: on_option},
    menu=(
        MenuCommand("info", "Short guides: safer use, naloxone, new risks"),
        MenuCommand("emergency", "What to do in an emergency"),
    ),
)
