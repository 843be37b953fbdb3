"""Coordinators: a draft made from a community report is checked before it can go out.

::

    /reports → [Make draft alert] → preview: the masked text, what was hidden, and
        [Edit the text] [I checked: no one can be identified] [Cancel] (no Send now yet)
    I checked → the preview with [Send now] [Schedule…]
    Edit the text → each field as it reads now → type it anew, [Keep it] or [Leave it out]
        → back to the preview; text changed counts as the check, nothing changed does not

Masking is a heuristic (:mod:`bot.privacy.masking`): a lone first name, a nickname or "the tall
guy in the red jacket" pass it. So a person reads the text before everyone subscribed does.
The alerts service refuses to send or schedule such a draft (``needs_check``) whatever button
is pressed; this module is the way through.

Part of the ``/broadcast`` conversation (its flow and button prefix); it takes the preview to
go back to as an argument, so it imports no other broadcast module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.context import Context
from bot.core.messages import Option
from bot.privacy.hidden_text import hidden_line
from bot.privacy.masking import hidden
from bot.services import alerts
from bot.services.alerts import AlertError, AlertView
from handlers import ui
from handlers.broadcast_common import (
    FIELDS,
    FLOW,
    Step,
    button,
    data,
    draft_of,
    field_label,
    own_draft,
)

__all__ = ["on_input", "on_option", "preview_section"]

Preview = Callable[[Context, AlertView, str], Awaitable[None]]


def preview_section(ctx: Context, draft: AlertView) -> tuple[list[str], list[Option]]:
    """What an unchecked draft's preview shows instead of Send now and Schedule."""
    lines = []
    line = hidden_line(ctx.tr, hidden(*draft.fields.values()))
    if line:
        lines.append(line)
    lines.append(
        ctx.tr(
            "It comes from a community report. Read it once more: could anyone be recognised "
            "from it (a name, a nickname, an address, a number, a description)? Edit the text, "
            "or confirm that no one can be identified. Until then it cannot be sent."
        )
    )
    options = [
        button(ctx, ctx.tr("Edit the text"), "edit", draft.id),
        button(ctx, ctx.tr("I checked: no one can be identified"), "checked", draft.id),
    ]
    return lines, options


def _texts(ctx: Context) -> dict[str, str]:
    kept = data(ctx).get("texts")
    if not isinstance(kept, dict):
        return {}
    return {k: v for k, v in kept.items() if k in FIELDS and isinstance(v, str)}


async def _ask_field(ctx: Context, draft: AlertView, after: int, preview: Preview) -> None:
    """Show the first field after index ``after`` that the draft has; finish after the last."""
    following = [i for i, name in enumerate(FIELDS) if i > after and name in draft.fields]
    if not following:
        await _finish(ctx, draft, preview)
        return
    _show_field(ctx, draft, following[0])


def _show_field(ctx: Context, draft: AlertView, index: int, hint: str = "") -> None:
    ctx.goto(FLOW, Step.CHECK_FIELD, field=index)
    name = FIELDS[index]
    text = ctx.tr(
        "{field}, as it reads now:\n{text}\n\n"
        "Type what people should read instead (up to {n} characters), keep it, or leave it out.",
        field=field_label(ctx.tr, name),
        text=draft.fields[name],
        n=alerts.FIELD_LIMITS[name],
    )
    options = [
        button(ctx, ctx.tr("Keep it"), "keep", index),
        button(ctx, ctx.tr("Leave it out"), "omit", index),
        button(ctx, ctx.tr("Back"), "back"),
    ]
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=2, in_place=True)


async def _finish(ctx: Context, draft: AlertView, preview: Preview) -> None:
    texts = _texts(ctx)
    if texts == dict(draft.fields):
        hint = ctx.tr(
            "Nothing was changed. Edit the text, or confirm that no one can be identified in it."
        )
        await preview(ctx, draft, hint)
        return
    try:
        edited = await alerts.update_draft(
            ctx.session, alert_id=draft.id, gazetteer=ctx.deps.content.gazetteer, fields=texts
        )
    except AlertError:
        hint = ctx.tr("That would leave the alert empty or too long. Nothing was changed.")
        await preview(ctx, draft, hint)
        return
    await preview(ctx, edited, ctx.tr("The text is changed. Read it once more, then send it."))


async def on_option(ctx: Context, step: str, action: str, arg: str, preview: Preview) -> bool:
    """Handle a ``bc:`` press of this part; False when it is not one."""
    if step == Step.PREVIEW and action in ("checked", "edit"):
        draft = await draft_of(ctx, arg)
        if draft is None or not draft.needs_check:
            ctx.end()
            ui.expired(ctx)
        elif action == "checked":
            checked = await alerts.mark_checked(ctx.session, alert_id=draft.id)
            await preview(ctx, checked, ctx.tr("Checked. It can go out now."))
        else:
            ctx.goto(FLOW, Step.CHECK_FIELD, texts=dict(draft.fields))
            await _ask_field(ctx, draft, -1, preview)
        return True
    if step != Step.CHECK_FIELD or action not in ("keep", "omit", "back"):
        return False
    draft = await own_draft(ctx)
    index = data(ctx).get("field") if draft is not None else None
    if draft is None or not isinstance(index, int):
        return True
    if action == "back":
        await preview(ctx, draft, "")
    elif ui.as_int(arg) != index:
        ui.expired(ctx)
    else:
        if action == "omit":
            ctx.goto(
                FLOW,
                Step.CHECK_FIELD,
                texts={k: v for k, v in _texts(ctx).items() if k != FIELDS[index]},
            )
        await _ask_field(ctx, draft, index, preview)
    return True


async def on_input(ctx: Context, step: str, typed: str, preview: Preview) -> bool:
    """Typed text while a field is shown: its new wording. False when not this part's step."""
    if step != Step.CHECK_FIELD:
        return False
    draft = await own_draft(ctx)
    index = data(ctx).get("field") if draft is not None else None
    if draft is None:
        return True
    if not isinstance(index, int) or not 0 <= index < len(FIELDS):
        ctx.end()
        ui.expired(ctx)
        return True
    name = FIELDS[index]
    try:
        text = alerts.check_field(name, typed)
    except AlertError:
        text = ""
    if not text:
        hint = ctx.tr(
            "That can't be used: plain text only, up to {n} characters. Please type it again.",
            n=alerts.FIELD_LIMITS[name],
        )
        _show_field(ctx, draft, index, hint)
        return True
    ctx.goto(FLOW, Step.CHECK_FIELD, texts={**_texts(ctx), name: text})
    await _ask_field(ctx, draft, index, preview)
    return True
