"""One tap after a handover: 👍 / 👎, and for 👎 three optional reasons.

::

    fb:u:<request>   👍        fb:d:<request>   👎 (then the reasons, if nothing else is open)
    fb:r:<run>:<reason>        a reason, once, for the 👎 just given   fb:r:<run>:skip

The thumbs come with the handover notice, outside any conversation, so they carry the request
id; the service counts a tap only for the tapper's own handed-over request, once. A reason is
accepted only from the conversation the 👎 opened (its run tag), then the conversation ends: a
forged or repeated tap changes nothing. Only the day's counters keep the answers.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Incoming, Option, Reply
from bot.core.words import Translator
from bot.services import feedback
from handlers import ui
from handlers.routes import ModuleRoutes

PREFIX = "fb"
FLOW = "feedback"
STEP = "reason"
SKIP = "skip"


def ask(t: Translator, request_id: int, reference: str) -> Reply:
    """The handover notice for the person, with the two thumbs under it."""
    text = "\n\n".join(
        [
            t("Thanks for picking up {ref}. Take care.", ref=reference),
            t("How did it go? Your answer is only added to anonymous daily totals."),
        ]
    )
    options = (Option("👍", f"{PREFIX}:u:{request_id}"), Option("👎", f"{PREFIX}:d:{request_id}"))
    return Reply(text, options, columns=2)


def _reason_label(tr: Translator, reason: str) -> str:
    labels = {
        "waited": tr("I waited too long"),
        "not_asked": tr("Not what I asked for"),
        "unsafe": tr("I felt unsafe"),
    }
    return labels[reason]


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``fb:`` button."""
    parts = (msg.option or "").split(":")
    if len(parts) == 3 and parts[1] in ("u", "d"):
        await _rate(ctx, ui.as_int(parts[2]), good=parts[1] == "u")
    elif len(parts) == 4 and parts[1] == "r":
        await _reason(ctx, run=parts[2], reason=parts[3])
    else:
        ui.expired(ctx)


async def _rate(ctx: Context, request_id: int | None, *, good: bool) -> None:
    counted = request_id is not None and await feedback.rate(
        ctx.session,
        request_id=request_id,
        contact_id=ctx.person.contact_id,
        good=good,
        now=ctx.now,
    )
    if not counted:
        ui.expired(ctx)  # not theirs, not handed over, purged, or answered already
        return
    if good:
        ctx.reply(ctx.tr("Thank you."))
        return
    if ctx.state is not None:
        # Mid-way through something else: the 👎 counts, and that conversation stays.
        ctx.reply(ctx.tr("Thank you. Sorry it didn't go well."))
        return
    run = ui.new_run()
    ctx.goto(FLOW, STEP, run=run)
    options = [
        Option(_reason_label(ctx.tr, reason), f"{PREFIX}:r:{run}:{reason}")
        for reason in feedback.REASONS
    ]
    options.append(Option(ctx.tr("Skip"), f"{PREFIX}:r:{run}:{SKIP}"))
    ctx.reply(ctx.tr("Sorry it didn't go well. If you like, tell us what went wrong:"), options)


async def _reason(ctx: Context, *, run: str, reason: str) -> None:
    state = ctx.state
    if state is None or state.flow != FLOW or state.data.get("run") != run:
        ui.expired(ctx)
        return
    if reason != SKIP and reason not in feedback.REASONS:
        ui.expired(ctx)
        return
    ctx.end()
    if reason != SKIP:
        feedback.add_reason(ctx.session, reason=reason, now=ctx.now)
    ctx.reply(ctx.tr("Thank you."))


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Anything typed instead of a reason: the reasons were optional, so the menu."""
    ctx.end()
    ui.show_menu(ctx, ctx.tr("What do you need?"))


ROUTES = ModuleRoutes(options={PREFIX: on_option}, flows={FLOW: on_input})
