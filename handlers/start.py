"""``/start``, ``/help``, ``/menu``, the main menu's buttons, and the answers of last resort.

``/start CODE`` (a peer or coordinator invite deep link) is handed to
:func:`handlers.peer.join_with_code`. ``menu:<target>`` buttons start a conversation afresh, so
they never go stale. :func:`fallback`, :func:`unknown_command` and :func:`unsupported` answer
whatever no conversation claims; none of them changes the conversation the person is in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind
from bot.core.routes import MenuCommand
from handlers import (
    alerts,
    forget,
    info,
    language,
    naloxone,
    peer,
    referral,
    reversals,
    status,
    supplies,
    ui,
)
from handlers.routes import ModuleRoutes

_TARGETS: dict[str, Callable[[Context], Awaitable[None]]] = {
    "supplies": supplies.start,
    "naloxone": naloxone.start,
    "used": reversals.start,
    "referral": referral.start,
    "status": status.show,
    "cancel": status.start_cancel,
    "info": info.show_list,
    "emergency": info.show_emergency,
    "forget": forget.start,
}


def _welcome(ctx: Context, *, shortcuts: bool) -> str:
    # The first line is what a lock screen shows: nothing about drugs.
    text = ctx.tr(
        "Hi. This service is anonymous by design.\n"
        "No name or phone number is stored, and /forget deletes everything at any time."
    )
    # Straight into the choices: the menu's Supplies asks "What do you need?", not this too.
    if shortcuts:
        lead = ctx.tr("Choose a common kit, or from the menu:")
    else:
        lead = ctx.tr("Choose from the menu:")
    # Each language named in itself: a way out for someone who can't read this one.
    choices = language.hint(ctx)
    return "\n\n".join(part for part in (text, lead, choices) if part)


async def on_start(msg: Incoming, ctx: Context) -> None:
    """``/start``, or ``/start CODE`` from an invite link."""
    code = msg.args.strip()
    if code:
        await peer.join_with_code(msg, ctx, code)
        return
    ctx.end()
    # The common kits and "same as last time" first: a request in four taps from here.
    shortcuts = await supplies.shortcuts(ctx)
    ctx.reply(
        _welcome(ctx, shortcuts=bool(shortcuts)), (*shortcuts, *ui.menu_options(ctx.tr)), columns=2
    )


async def on_help(msg: Incoming, ctx: Context) -> None:
    """``/help``: what the commands do."""
    ctx.reply(
        ctx.tr(
            "How this works\n"
            "/supplies - ask for kit\n"
            "/naloxone - ask for a naloxone kit\n"
            "/referral - find a service, or a peer to go with you\n"
            "/status - your open requests\n"
            "/cancel - cancel a request\n"
            "/info - short guides\n"
            "/emergency - what to do in an emergency\n"
            "/forget - delete everything about you\n"
            "/language - change the language\n\n"
            "Nothing asks for your name or number. A peer hands over your request against a "
            "short code sent to you here."
        ),
        ui.menu_options(ctx.tr),
        columns=2,
    )


async def on_menu(msg: Incoming, ctx: Context) -> None:
    """``/menu``."""
    ctx.end()
    ui.show_menu(ctx, ctx.tr("What do you need?"))


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``menu:<target>`` button."""
    target = (msg.option or "").partition(":")[2]
    start = _TARGETS.get(target)
    if start is not None:
        await start(ctx)
    elif target == "main":
        ctx.end()
        ui.show_menu(ctx, ctx.tr("What do you need?"))
    else:
        ui.expired(ctx)


async def fallback(msg: Incoming, ctx: Context) -> None:
    """Anything no conversation claims: a button nobody knows, or input outside a conversation."""
    if msg.kind is InputKind.OPTION:
        ui.expired(ctx)
    elif alerts.is_stop(msg):
        await alerts.stop(ctx)
    elif msg.kind is InputKind.LOCATION:
        # Not kept: a location is only used while a request is being made.
        ui.show_menu(
            ctx, ctx.tr("I only use a location while you make a request. What do you need?")
        )
    else:
        # Often someone's first message (on Signal there is no /start button): the common
        # kits are offered here too, so "hi", kit, area, send is a request.
        shortcuts = await supplies.shortcuts(ctx)
        options = (*shortcuts, *ui.menu_options(ctx.tr))
        ctx.reply(ctx.tr("Please choose from the menu."), options, columns=2)


async def unknown_command(msg: Incoming, ctx: Context) -> None:
    """A command nobody answers."""
    ui.show_menu(ctx, ctx.tr("I don't know that command. Here is the menu."))


async def unsupported(msg: Incoming, ctx: Context) -> None:
    """Stickers, photos, voice... outside a conversation that asks its step again (see
    ``ModuleRoutes.unusable``): nothing is read or kept."""
    ctx.reply(ui.unreadable(ctx))


ROUTES = ModuleRoutes(
    commands={"start": on_start, "help": on_help, "menu": on_menu},
    options={ui.MENU: on_option},
    menu=(
        MenuCommand("menu", "Main menu"),
        MenuCommand("help", "How this works"),
    ),
)
