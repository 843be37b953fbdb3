"""Coordinators: add to a draft from its preview, one detail at a time.

::

    preview → [Add details…] → [What's happening] [Sold as] … [Advice] (✓ when written)
                               [How serious] [How long it stays current] [Areas] [Back]
        a text → type it (or [Leave it out] / [Back]) → the preview again
        How serious / How long → one tap → the preview again
        Areas → choose each one, then Done (or Everywhere) → the preview again

So an urgent warning (:mod:`handlers.broadcast_urgent`) goes out with one message and grows
only if there is time. The draft is changed through the alerts service (as the console changes
drafts), so its rules hold here too. Part of the ``/broadcast`` conversation; the preview to go
back to is given as an argument.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.core.context import Context
from bot.core.messages import Option
from bot.db.models import EVERYWHERE
from bot.services import alerts
from bot.services.alert_words import lifetime_label, severity_label
from bot.services.alerts import LIFETIME_CHOICES, AlertError, AlertView
from handlers import ui
from handlers.broadcast_common import (
    FIELDS,
    FLOW,
    PREFIX,
    Step,
    ask,
    button,
    data,
    draft_of,
    field_label,
    field_prompt,
    own_draft,
    run,
)

__all__ = ["on_input", "on_option", "preview_section"]

Preview = Callable[[Context, AlertView, str], Awaitable[None]]

_STEPS = frozenset(
    {
        Step.DETAILS,
        Step.DETAIL_FIELD,
        Step.DETAIL_SEVERITY,
        Step.DETAIL_LIFETIME,
        Step.DETAIL_AREAS,
    }
)


def preview_section(ctx: Context, draft: AlertView, _run: str) -> tuple[list[str], list[Option]]:
    """What the preview adds: [Add details…]."""
    return [], [button(ctx, ctx.tr("Add details…"), "more", draft.id)]


def _menu(ctx: Context, draft: AlertView, hint: str = "") -> None:
    ctx.goto(FLOW, Step.DETAILS)
    options = [
        button(ctx, ("✓ " if name in draft.fields else "") + field_label(ctx.tr, name), "dfield", i)
        for i, name in enumerate(FIELDS)
    ]
    options += [
        button(ctx, ctx.tr("How serious"), "dsev"),
        button(ctx, ctx.tr("How long it stays current"), "dttl"),
    ]
    if draft.parent_id is None:  # an update goes to its alert's audience
        options.append(button(ctx, ctx.tr("Areas"), "dareas"))
    options.append(button(ctx, ctx.tr("Back"), "dback"))
    ask(ctx, hint, ctx.tr("What do you want to add or change?"), options, columns=2)


def _ask_field(ctx: Context, draft: AlertView, index: int, hint: str = "") -> None:
    ctx.goto(FLOW, Step.DETAIL_FIELD, field=index)
    name = FIELDS[index]
    text = ctx.tr(
        "{question}\nType it (up to {n} characters).",
        question=field_prompt(ctx.tr, name),
        n=alerts.FIELD_LIMITS[name],
    )
    if name in draft.fields:
        text = ctx.tr("Now: {text}", text=draft.fields[name]) + "\n\n" + text
    options = [button(ctx, ctx.tr("Back"), "dmenu")]
    if name in draft.fields and len(draft.fields) > 1:
        options.insert(0, button(ctx, ctx.tr("Leave it out"), "domit", index))
    ask(ctx, hint, text, options, columns=2)


def _ask_severity(ctx: Context) -> None:
    ctx.goto(FLOW, Step.DETAIL_SEVERITY)
    options = [button(ctx, severity_label(ctx.tr, n), "dsevn", n) for n in alerts.SEVERITIES]
    options.append(button(ctx, ctx.tr("Back"), "dmenu"))
    ask(ctx, "", ctx.tr("How serious is it?"), options, columns=3)


def _ask_lifetime(ctx: Context) -> None:
    ctx.goto(FLOW, Step.DETAIL_LIFETIME)
    options = [button(ctx, lifetime_label(ctx.tr, h), "dttln", h) for h in LIFETIME_CHOICES]
    options.append(button(ctx, ctx.tr("Back"), "dmenu"))
    ask(ctx, "", ctx.tr("How long should it stay current?"), options, columns=2)


def _chosen(ctx: Context) -> list[str]:
    areas = data(ctx).get("areas")
    return [a for a in areas if isinstance(a, str)] if isinstance(areas, list) else []


def _ask_areas(ctx: Context, number: int = 0, hint: str = "") -> None:
    ctx.goto(FLOW, Step.DETAIL_AREAS, page=number)
    chosen = set(_chosen(ctx))
    choices = [
        button(ctx, ("✓ " if a.code in chosen else "") + a.name, "darea", a.code)
        for a in ctx.deps.content.gazetteer.areas
    ]
    back = [
        button(ctx, ctx.tr("Everywhere"), "darea", EVERYWHERE),
        button(ctx, ctx.tr("Done"), "ddone"),
    ]
    more = ui.payload(PREFIX, run(ctx), "dpage")
    options = ui.page(choices, number, more=more, back=back, tr=ctx.tr)
    text = ctx.tr("Which areas? Choose each one, then Done.")
    ask(ctx, hint, text, list(options), columns=2)


async def _change(ctx: Context, draft: AlertView, preview: Preview, **change: object) -> None:
    """Change the draft through the service, then show the preview again."""
    try:
        edited = await alerts.update_draft(
            ctx.session,
            alert_id=draft.id,
            gazetteer=ctx.deps.content.gazetteer,
            **change,  # type: ignore[arg-type]
        )
    except AlertError:
        hint = ctx.tr("That would leave the alert empty or too long. Nothing was changed.")
        await preview(ctx, draft, hint)
        return
    await preview(ctx, edited, ctx.tr("Changed. This is how it reads now."))


async def on_option(ctx: Context, step: str, action: str, arg: str, preview: Preview) -> bool:
    """Handle a ``bc:`` press of this part; False when it is not one."""
    if step == Step.PREVIEW and action == "more":
        draft = await draft_of(ctx, arg)
        if draft is None or draft.needs_check:
            ctx.end()
            ui.expired(ctx)
        else:
            _menu(ctx, draft)
        return True
    if step not in _STEPS or not action.startswith("d"):
        return False
    draft = await own_draft(ctx)
    if draft is None:
        return True
    number = ui.as_int(arg)
    if action == "dback":
        await preview(ctx, draft, "")
    elif action == "dmenu":
        _menu(ctx, draft)
    elif action == "dfield" and step == Step.DETAILS and number is not None:
        if number < len(FIELDS):
            _ask_field(ctx, draft, number)
        else:
            ui.expired(ctx)
    elif (
        action == "domit"
        and step == Step.DETAIL_FIELD
        and number is not None
        and number == data(ctx).get("field")
        and number < len(FIELDS)
    ):
        kept = {k: v for k, v in draft.fields.items() if k != FIELDS[number]}
        await _change(ctx, draft, preview, fields=kept)
    elif action == "dsev" and step == Step.DETAILS:
        _ask_severity(ctx)
    elif action == "dsevn" and step == Step.DETAIL_SEVERITY and number in alerts.SEVERITIES:
        await _change(ctx, draft, preview, severity=number)
    elif action == "dttl" and step == Step.DETAILS:
        _ask_lifetime(ctx)
    elif action == "dttln" and step == Step.DETAIL_LIFETIME and number in LIFETIME_CHOICES:
        await _change(ctx, draft, preview, lifetime=timedelta(hours=number))
    elif action == "dareas" and step == Step.DETAILS and draft.parent_id is None:
        ctx.goto(FLOW, Step.DETAIL_AREAS, areas=list(draft.areas))
        _ask_areas(ctx)
    elif step == Step.DETAIL_AREAS and action in ("darea", "dpage", "ddone"):
        await _on_areas(ctx, draft, action, arg, preview)
    else:
        ui.expired(ctx)
    return True


async def _on_areas(
    ctx: Context, draft: AlertView, action: str, arg: str, preview: Preview
) -> None:
    chosen = [code for code in _chosen(ctx) if code != EVERYWHERE]
    page = ui.as_int(str(data(ctx).get("page", 0))) or 0
    gazetteer = ctx.deps.content.gazetteer
    if action == "darea" and arg == EVERYWHERE:
        await _change(ctx, draft, preview, areas=[EVERYWHERE])
    elif action == "darea" and gazetteer.by_code(arg) is not None:
        chosen = [c for c in chosen if c != arg] if arg in chosen else [*chosen, arg]
        ctx.goto(FLOW, Step.DETAIL_AREAS, areas=chosen)
        _ask_areas(ctx, page)
    elif action == "dpage" and (number := ui.as_int(arg)) is not None:
        _ask_areas(ctx, min(number, ui.pages_of(len(gazetteer.areas)) - 1))
    elif action == "ddone" and chosen:
        await _change(ctx, draft, preview, areas=chosen)
    elif action == "ddone":
        _ask_areas(ctx, page, ctx.tr("Choose at least one area, or Everywhere."))
    else:
        ui.expired(ctx)


async def on_input(ctx: Context, step: str, typed: str, preview: Preview) -> bool:
    """Typed text at one of this part's steps: a field's new text; elsewhere, ask again."""
    if step not in _STEPS:
        return False
    draft = await own_draft(ctx)
    if draft is None:
        return True
    index = data(ctx).get("field")
    if step != Step.DETAIL_FIELD or not isinstance(index, int) or not 0 <= index < len(FIELDS):
        hint = ui.please_choose(ctx)
        if step == Step.DETAIL_AREAS:
            _ask_areas(ctx, ui.as_int(str(data(ctx).get("page", 0))) or 0, hint)
        else:
            _menu(ctx, draft, hint)
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
        _ask_field(ctx, draft, index, hint)
        return True
    await _change(ctx, draft, preview, fields={**draft.fields, name: text})
    return True
