"""Coordinators: how long an alert takes to reach everyone, and Telegram's paid broadcast,
chosen per alert from its preview after seeing what it costs.

::

    preview: "Reaches everyone in about 2 min."
             "Paid broadcast: 600 Telegram messages × 0.1 Stars = 60.0 Stars (at most 100)."
             [Paid broadcast (60.0 Stars)] → saved on the draft → the preview again, faster
             [✓ Paid broadcast] → back to free → the preview again

The button is offered only when paid broadcast is on (``HRBOT_PAID_BROADCAST_MAX_STARS``)
and the cost is within the cap; the alerts service checks both again when saving, and the
cap once more at sending (:mod:`bot.services.alerts.reach`). Part of the ``/broadcast``
conversation, on the preview of a new alert and of an update or all clear; the preview to go
back to is given as an argument. Buttons: ``bc:<run>:paid|free:<alert id>``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.context import Context
from bot.core.messages import Option
from bot.services import alerts
from bot.services.alert_words import paid_lines, reach_line, stars_label, went_free_line
from bot.services.alerts import AlertError, AlertView
from handlers import ui
from handlers.broadcast_common import PREFIX, Step, draft_of

__all__ = ["on_option", "preview_section", "went_free"]

Preview = Callable[[Context, AlertView, str], Awaitable[None]]

_ACTIONS = frozenset({"paid", "free"})
_STEPS = frozenset({Step.PREVIEW, Step.FU_PREVIEW})


async def preview_section(
    ctx: Context, draft: AlertView, run: str, *, choose: bool = True
) -> tuple[list[str], list[Option]]:
    """Lines: how long reaching everyone takes, and what a paid broadcast costs; with
    ``choose``, the button to choose it (or go back to free)."""
    pace = ctx.deps.config.pace
    reach = await alerts.reach(ctx.session, alert_id=draft.id)
    if not reach.total:
        return [], []
    allowed = reach.paid_allowed(pace)
    lines = [reach_line(ctx.tr, reach, pace, paid=draft.paid and allowed)]
    lines += paid_lines(ctx.tr, reach, pace, paid=draft.paid)
    options: list[Option] = []
    if choose and draft.paid:
        options.append(
            Option(ctx.tr("✓ Paid broadcast"), ui.payload(PREFIX, run, "free", draft.id))
        )
    elif choose and allowed:
        label = ctx.tr("Paid broadcast ({stars} Stars)", stars=stars_label(reach))
        options.append(Option(label, ui.payload(PREFIX, run, "paid", draft.id)))
    return lines, options


async def on_option(ctx: Context, step: str, action: str, arg: str, preview: Preview) -> bool:
    """[Paid broadcast] and [✓ Paid broadcast] on a preview; False for any other press."""
    if action not in _ACTIONS or step not in _STEPS:
        return False
    draft = await draft_of(ctx, arg)
    if draft is None:
        ctx.end()
        ui.expired(ctx)
        return True
    hint = ""
    try:
        draft = await alerts.set_paid(
            ctx.session, alert_id=draft.id, paid=action == "paid", pace=ctx.deps.config.pace
        )
    except AlertError:
        # More recipients since the preview, or the setting changed: say so, stay free.
        hint = ctx.tr("A paid broadcast is not possible for this alert now: it stays free.")
    await preview(ctx, draft, hint)
    return True


def went_free(ctx: Context, draft: AlertView, sent: AlertView) -> str:
    """What to say when a paid draft went out free (over the cap by then); else nothing."""
    return went_free_line(ctx.tr, draft.reference) if draft.paid and not sent.paid else ""
