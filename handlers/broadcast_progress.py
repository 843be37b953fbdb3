"""How far an alert has gone: "Sending A12 to N people" with a live tally and [Refresh].

Shown after Send now, and by ``/broadcast status A12``. The finish report ("A12 is done: sent
…") comes separately from the outbox once every delivery is final.

[Refresh] (``bcp:<tag>:refresh:<alert id>``) only reads counts, so it is not tied to a
conversation: it works from an old message and leaves whatever the coordinator is doing now
alone. Each press is still re-authorised (coordinators only) and its alert id re-checked; a
forged one gets a short answer.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Incoming, Option
from bot.domain import AlertStatus
from bot.services import alerts
from bot.services.alert_words import tally_line, took_line
from bot.services.alerts import AlertView
from handlers import ui
from handlers.broadcast_common import WHEN_FORMAT, parse_reference, refuse

PREFIX = "bcp"


async def show(ctx: Context, view: AlertView, lead: str = "") -> None:
    """The alert's progress (or, when it has not gone out, what it is waiting for)."""
    lines = [lead] if lead else []
    options: list[Option] = []
    if view.status in (AlertStatus.SENDING, AlertStatus.SENT, AlertStatus.CANCELLED):
        tally = await alerts.progress(ctx.session, alert_id=view.id)
        if view.status is AlertStatus.SENDING:
            lines.append(
                ctx.tr.plural(
                    "Sending {ref} to {n} person. You'll get a summary when it is done.",
                    "Sending {ref} to {n} people. You'll get a summary when it is done.",
                    tally.total,
                    ref=view.reference,
                )
            )
            options.append(
                Option(ctx.tr("Refresh"), ui.payload(PREFIX, ui.new_run(), "refresh", view.id))
            )
        elif view.status is AlertStatus.SENT:
            lines.append(ctx.tr("{ref} has been sent: it is done.", ref=view.reference))
            if view.issued_at is not None and view.finished_at is not None:
                lines.append(took_line(ctx.tr, view.finished_at - view.issued_at))
        else:
            lines.append(ctx.tr("{ref} was stopped.", ref=view.reference))
        lines.append(tally_line(ctx.tr, tally))
    elif view.status is AlertStatus.SCHEDULED and view.due_at is not None:
        zone = alerts.zone_for(view.areas, ctx.deps.content.gazetteer)
        lines.append(
            ctx.tr(
                "{ref} is scheduled; next time {when} ({zone}). /scheduled lists it.",
                ref=view.reference,
                when=view.due_at.astimezone(zone).strftime(WHEN_FORMAT),
                zone=zone.key,
            )
        )
    else:
        lines.append(ctx.tr("{ref} has not gone out.", ref=view.reference))
    ctx.reply("\n".join(lines), options, in_place=True)


async def status(ctx: Context, typed: str) -> None:
    """``/broadcast status A12``."""
    alert_id = parse_reference(typed)
    view = await alerts.get(ctx.session, alert_id=alert_id) if alert_id is not None else None
    if view is None or view.status is AlertStatus.DRAFT:
        ctx.reply(ctx.tr("No alert has that reference. Try /broadcast status A12."))
        return
    await show(ctx, view)


async def on_refresh(msg: Incoming, ctx: Context) -> None:
    """A ``bcp:`` button."""
    if refuse(ctx):
        return
    press = ui.parse(msg.option, PREFIX)
    alert_id = ui.as_int(press.arg) if press is not None and press.action == "refresh" else None
    view = await alerts.get(ctx.session, alert_id=alert_id) if alert_id is not None else None
    if view is None or view.status is AlertStatus.DRAFT:
        ctx.reply(ui.expired_words(ctx))
        return
    await show(ctx, view)
