"""Coordinators: write an alert's free text again in other languages, from its preview.

::

    preview (handlers.broadcast) → [Add a language] → choose one of the bot's languages
        → each field the alert has, in that language (the first text shown; Skip keeps it)
        → back to the preview: "Also written in: …", [Preview in …] per language
    [Preview in Русский] → exactly what a subscriber reading Русский gets → [Back] [Remove]

The structured parts of an alert are rendered from catalogues in each subscriber's language;
only what the coordinator typed needs writing again. A field left out falls back to the first
text (:func:`bot.services.alerts.render_alert`). Questions are asked in the coordinator's own
language; the choices are the languages with a catalogue, minus the alert's first language and
those already written. Nothing is kept until the last field is answered, so a conversation
left half-way leaves the draft as it was. Validation is the alerts service's.

Buttons: ``bcl:<run>:<action>[:<arg>]``; ``add`` and ``show`` come from the preview and carry
its run tag.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option
from bot.domain import AlertStatus
from bot.services import alert_languages, alerts
from bot.services.alerts import AlertError, AlertView
from handlers import broadcast, broadcast_followup, ui
from handlers.broadcast_common import FLOW as BROADCAST_FLOW
from handlers.broadcast_common import Step as BroadcastStep
from handlers.broadcast_common import field_label, refuse
from handlers.broadcast_languages_preview import (
    PREFIX,
    base_locale,
    choices_left,
    language_name,
    written_in,
)
from handlers.routes import ModuleRoutes

FLOW = "broadcast_language"
FIELDS = tuple(alerts.FIELD_LIMITS)


class Step(StrEnum):
    PICK = "pick"
    FIELD = "field"
    SHOWN = "shown"


# --- state ---------------------------------------------------------------------------------------


def _data(ctx: Context) -> dict[str, Any]:
    assert ctx.state is not None
    return ctx.state.data


async def _draft(ctx: Context) -> AlertView | None:
    """The draft this conversation is about, while it is still a draft."""
    alert_id = _data(ctx).get("alert")
    if not isinstance(alert_id, int):
        return None
    view = await alerts.get(ctx.session, alert_id=alert_id)
    return view if view is not None and view.status is AlertStatus.DRAFT else None


def _texts(ctx: Context) -> dict[str, str]:
    texts = _data(ctx).get("texts")
    if not isinstance(texts, dict):
        return {}
    return {k: v for k, v in texts.items() if k in FIELDS and isinstance(v, str)}


async def _back(ctx: Context, hint: str = "") -> None:
    """Back to the draft's preview (which shows what was written), or expired if it is gone."""
    draft = await _draft(ctx) if ctx.state is not None else None
    if draft is None:
        ctx.end()
        ui.expired(ctx)
        return
    await _preview(ctx, draft, hint)


async def _preview(ctx: Context, draft: AlertView, hint: str = "") -> None:
    """The preview this draft came from: a new alert's, or an update's / all clear's."""
    if draft.parent_id is not None:
        await broadcast_followup.show_preview(ctx, draft, hint)
    else:
        await broadcast.show_preview(ctx, draft, hint)


# --- steps ---------------------------------------------------------------------------------------


def _ask_language(ctx: Context, draft: AlertView, hint: str = "") -> None:
    ctx.goto(FLOW, Step.PICK, run=ui.new_run(), alert=draft.id)
    run = _data(ctx)["run"]
    options = [
        Option(language_name(ctx, code), ui.payload(PREFIX, run, "pick", code))
        for code in choices_left(ctx, draft)
    ]
    options.append(Option(ctx.tr("Back"), ui.payload(PREFIX, run, "back")))
    text = ctx.tr(
        "Which language? People who read it will get the words you type, and everything "
        "else in their language."
    )
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=2, in_place=True)


async def _ask_field(ctx: Context, draft: AlertView, after: int, hint: str = "") -> None:
    """Ask the first field after index ``after`` that the draft has; keep the texts when all
    are asked."""
    following = [i for i, name in enumerate(FIELDS) if i > after and name in draft.fields]
    if not following:
        await _keep(ctx, draft)
        return
    index = following[0]
    ctx.goto(FLOW, Step.FIELD, field=index)
    name, locale, run = FIELDS[index], str(_data(ctx)["locale"]), str(_data(ctx)["run"])
    text = ctx.tr(
        "{field}, in {language}:\n(first written as: {base})\n"
        "Type it (up to {n} characters), or Skip to keep the text above.",
        field=field_label(ctx.tr, name),
        language=language_name(ctx, locale),
        base=draft.fields[name],
        n=alerts.FIELD_LIMITS[name],
    )
    options = [
        Option(ctx.tr("Skip"), ui.payload(PREFIX, run, "skip", index)),
        Option(ctx.tr("Back"), ui.payload(PREFIX, run, "back")),
    ]
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=2, in_place=True)


async def _keep(ctx: Context, draft: AlertView) -> None:
    locale = str(_data(ctx)["locale"])
    language = language_name(ctx, locale)
    texts = _texts(ctx)
    if not texts:
        await _back(
            ctx,
            ctx.tr(
                "Nothing was written in {language}: people who read it get the text as "
                "first written.",
                language=language,
            ),
        )
        return
    try:
        await alert_languages.set_translation(
            ctx.session,
            alert_id=draft.id,
            locale=locale,
            fields=texts,
            base_locale=base_locale(ctx, draft),
        )
    except AlertError:
        hint = ctx.tr(
            "The {language} text was not kept: at most {n} characters in all fields together.",
            language=language,
            n=alerts.MAX_FIELDS_TOTAL,
        )
    else:
        hint = ctx.tr("Written in {language}.", language=language)
    await _back(ctx, hint)


async def _show(ctx: Context, draft: AlertView, locale: str, hint: str = "") -> None:
    """Exactly what a subscriber reading ``locale`` gets."""
    ctx.goto(FLOW, Step.SHOWN, run=ui.new_run(), alert=draft.id, locale=locale)
    run = _data(ctx)["run"]
    content = ctx.deps.content
    shown = await alerts.preview(
        ctx.session,
        alert_id=draft.id,
        t=ctx.deps.words.locales[locale],
        gazetteer=content.gazetteer,
        cards=content.cards,
        directory=content.directory,
        now=ctx.now,
    )
    language = language_name(ctx, locale)
    lines = [
        ctx.tr("What people who read {language} will get:", language=language),
        "———",
        shown.text,
        "———",
    ]
    options = [
        Option(ctx.tr("Back"), ui.payload(PREFIX, run, "back")),
        Option(ctx.tr("Remove {language}", language=language), ui.payload(PREFIX, run, "drop")),
    ]
    text = "\n".join(lines)
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=2, in_place=True)


# --- entry points --------------------------------------------------------------------------------


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``bcl:`` button."""
    if refuse(ctx):
        return
    press = ui.parse(msg.option, PREFIX)
    if press is not None and press.action in ("add", "show"):
        await _from_preview(ctx, press)
        return
    step = ui.current(ctx, FLOW, press)
    draft = await _draft(ctx) if step is not None else None
    if press is None or step is None or draft is None:
        ctx.end()
        ui.expired(ctx)
    elif press.action == "back":
        await _back(ctx)
    elif press.action == "pick" and step == Step.PICK and press.arg in choices_left(ctx, draft):
        ctx.goto(FLOW, Step.FIELD, locale=press.arg, texts={})
        await _ask_field(ctx, draft, -1)
    elif (
        press.action == "skip"
        and step == Step.FIELD
        and ui.as_int(press.arg) == _data(ctx).get("field")
    ):
        await _ask_field(ctx, draft, int(press.arg))
    elif press.action == "drop" and step == Step.SHOWN:
        locale = str(_data(ctx).get("locale"))
        await alert_languages.remove_translation(ctx.session, alert_id=draft.id, locale=locale)
        language = language_name(ctx, locale) if locale in ctx.deps.words.locales else locale
        await _back(ctx, ctx.tr("Removed {language}.", language=language))
    else:
        ui.expired(ctx)


async def _from_preview(ctx: Context, press: ui.Press) -> None:
    """``add`` or ``show`` pressed under a preview: only that preview's, while a draft."""
    step = ui.current(ctx, BROADCAST_FLOW, press)
    previews = (BroadcastStep.PREVIEW, BroadcastStep.FU_PREVIEW)
    draft = await _draft(ctx) if step in previews else None
    if draft is None:
        ctx.end()
        ui.expired(ctx)
    elif press.action == "add" and ui.as_int(press.arg) == draft.id:
        if choices_left(ctx, draft):
            _ask_language(ctx, draft)
        else:
            hint = ctx.tr("It is written in every language the bot speaks.")
            await _preview(ctx, draft, hint)
    elif press.action == "show" and press.arg in written_in(ctx, draft):
        await _show(ctx, draft, press.arg)
    else:
        ui.expired(ctx)


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text: a field in the chosen language; anywhere else, ask again."""
    if refuse(ctx):
        return
    draft = await _draft(ctx)
    if draft is None:
        ctx.end()
        ui.expired(ctx)
        return
    assert ctx.state is not None
    step, index = ctx.state.step, _data(ctx).get("field")
    hint = ui.please_choose(ctx)
    if step == Step.FIELD and isinstance(index, int) and 0 <= index < len(FIELDS):
        await _on_field(ctx, draft, index, msg.text if msg.kind is InputKind.TEXT else "")
    elif step == Step.PICK:
        _ask_language(ctx, draft, hint)
    elif step == Step.SHOWN and (locale := str(_data(ctx).get("locale"))) in written_in(ctx, draft):
        await _show(ctx, draft, locale, hint)
    else:
        await _back(ctx, hint)


async def _on_field(ctx: Context, draft: AlertView, index: int, typed: str) -> None:
    name = FIELDS[index]
    try:
        text = alerts.check_field(name, typed)
    except AlertError:
        text = ""
    if not text:
        hint = ctx.tr(
            "That can't be used: plain text only, up to {n} characters. Type it again, or Skip.",
            n=alerts.FIELD_LIMITS[name],
        )
        await _ask_field(ctx, draft, index - 1, hint)
        return
    ctx.goto(FLOW, Step.FIELD, texts={**_texts(ctx), name: text})
    await _ask_field(ctx, draft, index)


ROUTES = ModuleRoutes(
    options={PREFIX: on_option}, flows={FLOW: on_input}, staff_flows=frozenset({FLOW})
)
