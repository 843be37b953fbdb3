"""Coordinators: an urgent warning in four actions to its preview.

::

    /broadcast → [🚨 Urgent warning]   (or /urgent straight away)
        → one area, or Everywhere (one tap)
        → one typed message: what it is, where, what to do ("What's happening")
        → preview: a bad-batch warning, "danger", current for 24 hours → [Send now]
    More areas, the other fields, how serious, how long: [Add details…] on the preview
    (:mod:`handlers.broadcast_add`).

Part of the ``/broadcast`` conversation (its flow and button prefix); the preview to show is
given as an argument, so it imports no other broadcast module. What is typed is alert content:
it goes into the draft and nowhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Final

from bot.core.context import Context
from bot.core.messages import Option
from bot.db.models import EVERYWHERE
from bot.domain import AlertKind
from bot.services import alerts
from bot.services.alerts import AlertError, AlertView
from handlers import ui
from handlers.broadcast_common import FLOW, PREFIX, Step, ask, button, data, field_prompt, run

__all__ = ["LIFETIME", "SEVERITY", "ask_area", "on_input", "on_option"]

Preview = Callable[[Context, AlertView, str], Awaitable[None]]

FIELD: Final = "summary"
# A warning that cannot wait is about danger to life; "danger" is the top of the scale.
SEVERITY: Final = 3
# Long enough to cover the night and the next day, short enough that a warning nobody follows
# up does not linger for days; longer (or shorter) from the preview.
LIFETIME: Final = timedelta(hours=24)


def ask_area(ctx: Context, number: int = 0, hint: str = "") -> None:
    """Where: one tap on an area (more can be added from the preview), or Everywhere."""
    ctx.goto(FLOW, Step.URGENT_AREA, page=number)
    choices = [
        button(ctx, area.name, "uarea", area.code) for area in ctx.deps.content.gazetteer.areas
    ]
    back = [button(ctx, ctx.tr("Everywhere"), "uarea", EVERYWHERE), _cancel(ctx)]
    more = ui.payload(PREFIX, run(ctx), "upage")
    options = ui.page(choices, number, more=more, back=back, tr=ctx.tr)
    ask(ctx, hint, ctx.tr("🚨 Urgent warning. Where?"), list(options), columns=2)


def _ask_text(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.URGENT_TEXT)
    text = ctx.tr(
        "{question}\nType it (up to {n} characters).",
        question=field_prompt(ctx.tr, FIELD),
        n=alerts.FIELD_LIMITS[FIELD],
    )
    ask(ctx, hint, text, [_cancel(ctx)])


def _cancel(ctx: Context) -> Option:
    return button(ctx, ctx.tr("Cancel"), "quit")


async def on_option(ctx: Context, step: str, action: str, arg: str) -> bool:
    """Handle a ``bc:`` press of this part; False when it is not one."""
    if step != Step.URGENT_AREA or action not in ("uarea", "upage"):
        return False
    gazetteer = ctx.deps.content.gazetteer
    if action == "upage" and (number := ui.as_int(arg)) is not None:
        ask_area(ctx, min(number, ui.pages_of(len(gazetteer.areas)) - 1))
    elif action == "uarea" and (arg == EVERYWHERE or gazetteer.by_code(arg) is not None):
        ctx.goto(FLOW, Step.URGENT_TEXT, areas=[arg])
        _ask_text(ctx)
    else:
        ui.expired(ctx)
    return True


async def on_input(ctx: Context, step: str, typed: str, preview: Preview) -> bool:
    """Typed text while this part asks: the message (or, at the area step, ask again)."""
    if step == Step.URGENT_AREA:
        number = ui.as_int(str(data(ctx).get("page", 0))) or 0
        ask_area(ctx, number, ui.please_choose(ctx))
        return True
    if step != Step.URGENT_TEXT:
        return False
    try:
        text = alerts.check_field(FIELD, typed)
    except AlertError:
        text = ""
    if not text:
        hint = ctx.tr(
            "That can't be used: plain text only, up to {n} characters. Please type it again.",
            n=alerts.FIELD_LIMITS[FIELD],
        )
        _ask_text(ctx, hint)
        return True
    areas = data(ctx).get("areas")
    try:
        draft = await alerts.create_draft(
            ctx.session,
            kind=AlertKind.BAD_BATCH,
            severity=SEVERITY,
            areas=[a for a in areas if isinstance(a, str)] if isinstance(areas, list) else [],
            fields={FIELD: text},
            gazetteer=ctx.deps.content.gazetteer,
            now=ctx.now,
            lifetime=LIFETIME,
            created_by_id=ctx.person.coordinator_id,
            locale=ctx.tr.locale,
        )
    except (AlertError, ValueError):
        ctx.end()
        ctx.reply(ctx.tr("Something in this alert was not right. Nothing was saved. /broadcast"))
        return True
    await preview(ctx, draft, "")
    return True
