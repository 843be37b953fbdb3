"""``/forget``: delete the contact and everything tied to it, after one confirmation.

Open requests are cancelled first, through the request service, so that outlets are told and
any stock reserved for them goes back on the shelf; then :func:`bot.services.forgetting.forget`
deletes the audit events about the person's requests, their community reports and the contact
row, whose ``ON DELETE CASCADE`` takes the rest (requests, state, subscriptions, roles). Only
the anonymous daily counts stay. A later message starts fresh, as a new contact.

Buttons: ``fgt:<run>:yes``, ``fgt:<run>:no``.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.context import Context
from bot.core.messages import Incoming, Option
from bot.core.routes import MenuCommand
from bot.services import forgetting, requests
from handlers import status, ui
from handlers.routes import ModuleRoutes

FLOW = "forget"
PREFIX = "fgt"


class Step(StrEnum):
    CONFIRM = "confirm"


async def start(ctx: Context) -> None:
    """Say what will be deleted and ask to confirm."""
    ctx.end()
    ctx.goto(FLOW, Step.CONFIRM, run=ui.new_run())
    _ask(ctx)


def _ask(ctx: Context, hint: str = "") -> None:
    assert ctx.state is not None
    run = str(ctx.state.data.get("run", ""))
    text = ctx.tr(
        "Delete everything?\n"
        "This deletes all the bot holds about you: your requests (open ones are cancelled), "
        "community reports, alert areas and any peer or coordinator role. Only anonymous "
        "daily totals stay. Nobody is told who you were.\n"
        "It can't be undone. If you write again later, you start fresh."
    )
    options = [
        Option(ctx.tr("Delete everything"), ui.payload(PREFIX, run, "yes")),
        Option(ctx.tr("Keep"), ui.payload(PREFIX, run, "no")),
    ]
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=2)


async def on_command(msg: Incoming, ctx: Context) -> None:
    """``/forget``."""
    await start(ctx)


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``fgt:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step != Step.CONFIRM:
        ui.expired(ctx)
    elif press.action == "yes":
        await _forget(ctx)
    elif press.action == "no":
        ctx.end()
        ui.show_menu(ctx, ctx.tr("Kept. Nothing was deleted."))
    else:
        ui.expired(ctx)


async def _forget(ctx: Context) -> None:
    contact_id = ctx.person.contact_id
    for request in await requests.open_for_contact(ctx.session, contact_id=contact_id):
        await status.cancel_request(ctx, request.id)
    await forgetting.forget(
        ctx.session, contact_id=contact_id, pseudonym_key=ctx.deps.keys.pseudonym
    )
    # "Everything" includes a peer or coordinator role, as the question says: the staff
    # contact goes too (its roles and what hangs on them cascade).
    if ctx.person.staff_contact_id is not None:
        await forgetting.forget(
            ctx.session,
            contact_id=ctx.person.staff_contact_id,
            pseudonym_key=ctx.deps.keys.pseudonym,
        )
    ctx.end()
    # On a shared phone the chat itself is the last trace: only the person can remove it.
    ctx.reply(ctx.tr("Deleted.\nTo remove these messages from this phone too, delete this chat."))


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text or a location while deciding: ask again."""
    _ask(ctx, ui.please_choose(ctx))


async def on_unusable(msg: Incoming, ctx: Context) -> None:
    """A sticker, photo...: say what can be read, and ask again."""
    _ask(ctx, ui.unreadable(ctx))


ROUTES = ModuleRoutes(
    commands={"forget": on_command},
    options={PREFIX: on_option},
    flows={FLOW: on_input},
    unusable={FLOW: on_unusable},
    menu=(MenuCommand("forget", "Delete everything the bot holds about you"),),
)
