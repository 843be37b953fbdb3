"""An update or an all clear for an earlier alert, to the people that alert reached.

::

    /broadcast → [Update an earlier alert] | [All clear] → the current alerts as buttons
    /broadcast update A12 | /broadcast allclear A12 → straight to A12
    update:    sold as → … → advice (each skippable, at least one) → preview → [Send now]
    all clear: an optional short note → preview → [Send now]

Only a *current* alert can be followed up (:mod:`bot.services.followups`); anything else gets a
short reason and nothing changes. The parent is checked again at every step, so one that ended
meanwhile (another coordinator's all clear) is never followed up twice. What a coordinator
types is alert content: it goes into the alert and nowhere else (no logs).
"""

from __future__ import annotations

from bot.core.context import Context
from bot.db.models import FollowUp
from bot.services import alerts, followups
from bot.services.alerts import AlertError, AlertView
from bot.services.followups import NOTE_CHARS, Standing
from handlers import broadcast_languages_preview, broadcast_paid, broadcast_progress, ui
from handlers.alerts import area_name
from handlers.broadcast_common import (
    COMPOSED,
    FIELDS,
    FLOW,
    Step,
    ask,
    button,
    data,
    draft_of,
    field_prompt,
    fields,
    kind_label,
    own_draft,
    parse_reference,
)

SNIPPET_CHARS = 30


def _follow(ctx: Context) -> FollowUp:
    return FollowUp.ALL_CLEAR if data(ctx).get("follow") == FollowUp.ALL_CLEAR else FollowUp.UPDATE


def summary(ctx: Context, view: AlertView) -> str:
    """``A12 · Bad batch · Gastown · down``: enough to recognise an alert by."""
    areas = ", ".join(area_name(ctx, code) for code in view.areas)
    first = next((view.fields[name] for name in FIELDS if view.fields.get(name)), "")
    parts = [view.reference, kind_label(ctx.tr, view.kind), areas]
    if first:
        parts.append(ui.quote(first, SNIPPET_CHARS))
    return " · ".join(parts)


def why_not(ctx: Context, standing: Standing, alert_id: int | None) -> str:
    """The short reason an alert cannot be followed up."""
    ref = f"A{alert_id}"
    if standing is Standing.NOT_SENT:
        return ctx.tr("{ref} did not go out as an alert, so it cannot be followed up.", ref=ref)
    if standing is Standing.EXPIRED:
        return ctx.tr("{ref} has expired, so it is no longer current. Nothing was sent.", ref=ref)
    if standing is Standing.CLEARED:
        return ctx.tr("{ref} already had an all clear. Nothing was sent.", ref=ref)
    return ctx.tr("No alert has that reference. /broadcast lists the current ones.")


async def choose(ctx: Context, follow: FollowUp, hint: str = "") -> None:
    """List the current alerts as buttons."""
    current = await followups.current(ctx.session, now=ctx.now)
    if not current:
        ctx.end()
        ctx.reply(ctx.tr("No alert is current now, so there is nothing to update or clear."))
        return
    ctx.goto(FLOW, Step.PICK, follow=follow.value)
    if follow is FollowUp.ALL_CLEAR:
        text = ctx.tr("Which alert is over?")
    else:
        text = ctx.tr("Which alert do you want to update?")
    options = [button(ctx, summary(ctx, view), "pick", view.id) for view in current]
    options.append(button(ctx, ctx.tr("Cancel"), "quit"))
    ask(ctx, hint, text, options)


async def direct(ctx: Context, follow: FollowUp, typed: str) -> None:
    """``/broadcast update A12`` or ``/broadcast allclear A12`` (a fresh conversation)."""
    ctx.goto(FLOW, Step.PICK, run=ui.new_run(), follow=follow.value, fields={})
    await _picked(ctx, parse_reference(typed))


async def _picked(ctx: Context, alert_id: int | None) -> None:
    standing, view = Standing.UNKNOWN, None
    if alert_id is not None:
        standing, view = await followups.standing(ctx.session, alert_id=alert_id, now=ctx.now)
    if standing is not Standing.CURRENT or view is None:
        ctx.end()
        ctx.reply(why_not(ctx, standing, alert_id))
        return
    ctx.goto(FLOW, Step.PICK, parent=view.id, fields={})
    if _follow(ctx) is FollowUp.ALL_CLEAR:
        _ask_note(ctx)
    else:
        _ask_field(ctx, 0)


def _parent_ref(ctx: Context) -> str:
    return f"A{data(ctx).get('parent')}"


def _ask_field(ctx: Context, index: int, hint: str = "") -> None:
    ctx.goto(FLOW, Step.FU_FIELD, field=index)
    name = COMPOSED[index]
    text = ctx.tr(
        "Update to {ref}. {question}\nType what is new (up to {n} characters), or Skip.",
        ref=_parent_ref(ctx),
        question=field_prompt(ctx.tr, name),
        n=alerts.FIELD_LIMITS[name],
    )
    options = [button(ctx, ctx.tr("Skip"), "fskip", index), button(ctx, ctx.tr("Cancel"), "quit")]
    ask(ctx, hint, text, options, columns=2)


def _ask_note(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.FU_NOTE)
    text = ctx.tr(
        "All clear for {ref}. Add a short note (up to {n} characters), or No note.",
        ref=_parent_ref(ctx),
        n=NOTE_CHARS,
    )
    options = [button(ctx, ctx.tr("No note"), "nonote"), button(ctx, ctx.tr("Cancel"), "quit")]
    ask(ctx, hint, text, options, columns=2)


async def _next_field(ctx: Context, index: int) -> None:
    if index + 1 < len(COMPOSED):
        _ask_field(ctx, index + 1)
        return
    try:
        alerts.validate_fields(fields(ctx))
    except AlertError:
        ctx.goto(FLOW, Step.FU_FIELD, fields={})
        hint = ctx.tr(
            "An update needs at least one field, and at most {n} characters in all. "
            "Let's fill them in again.",
            n=alerts.MAX_FIELDS_TOTAL,
        )
        _ask_field(ctx, 0, hint)
        return
    await _make_draft(ctx)


async def _still_current(ctx: Context, parent: object) -> bool:
    """Check the parent again; if it ended meanwhile say why, drop any draft, end."""
    parent_id = parent if isinstance(parent, int) else None
    standing = Standing.UNKNOWN
    if parent_id is not None:
        standing, _ = await followups.standing(ctx.session, alert_id=parent_id, now=ctx.now)
    if standing is Standing.CURRENT:
        return True
    draft = data(ctx).get("alert")
    if isinstance(draft, int):
        await alerts.cancel(ctx.session, alert_id=draft, now=ctx.now)
    ctx.end()
    ctx.reply(why_not(ctx, standing, parent_id))
    return False


async def _make_draft(ctx: Context) -> None:
    parent = data(ctx).get("parent")
    if not await _still_current(ctx, parent):
        return
    assert isinstance(parent, int)
    try:
        draft = await alerts.create_follow_up(
            ctx.session,
            parent_id=parent,
            follow_up=_follow(ctx),
            fields=fields(ctx),
            now=ctx.now,
            created_by_id=ctx.person.coordinator_id,
            locale=ctx.tr.locale,  # what this coordinator types is in their language
        )
    except AlertError:
        ctx.end()
        ctx.reply(ctx.tr("Something in this alert was not right. Nothing was saved. /broadcast"))
        return
    ctx.goto(FLOW, Step.FU_PREVIEW, alert=draft.id)
    await _preview(ctx, draft)


async def show_preview(ctx: Context, draft: AlertView, hint: str = "") -> None:
    """The follow-up draft's preview; also the way back from writing it in another language
    (:mod:`handlers.broadcast_languages`), which left this conversation."""
    if ctx.state is None or ctx.state.flow != FLOW:
        follow = draft.follow_up or FollowUp.UPDATE
        ctx.end()
        ctx.goto(
            FLOW, Step.FU_PREVIEW, run=ui.new_run(), parent=draft.parent_id, follow=follow.value
        )
    ctx.goto(FLOW, Step.FU_PREVIEW, alert=draft.id)
    await _preview(ctx, draft, hint)


async def _preview(ctx: Context, draft: AlertView, hint: str = "") -> None:
    content = ctx.deps.content
    shown = await alerts.preview(
        ctx.session,
        alert_id=draft.id,
        t=ctx.tr,
        gazetteer=content.gazetteer,
        cards=content.cards,
        directory=content.directory,
        now=ctx.now,
    )
    lines = [
        ctx.tr(
            "Preview of {ref} for {parent}: this is exactly what people will get.",
            ref=draft.reference,
            parent=_parent_ref(ctx),
        ),
        "———",
        shown.text,
        "———",
        ctx.tr.plural(
            "It goes to {n} person who got {parent}.",
            "It goes to the {n} people who got {parent}.",
            shown.recipients,
            parent=_parent_ref(ctx),
        ),
    ]
    run = str(data(ctx).get("run", ""))
    languages, language_options = broadcast_languages_preview.preview_section(ctx, draft, run)
    lines += languages
    paid_lines, paid = await broadcast_paid.preview_section(ctx, draft, run)
    lines += paid_lines
    options = [
        button(ctx, ctx.tr("Send now"), "fsend", draft.id),
        *language_options,
        *paid,
        button(ctx, ctx.tr("Cancel"), "quit"),
    ]
    ask(ctx, hint, "\n".join(lines), options)


async def _send(ctx: Context, arg: str) -> None:
    draft = await draft_of(ctx, arg)
    if draft is None:
        ctx.end()
        ui.expired(ctx)
        return
    outcome = await followups.send(
        ctx.session,
        alert_id=draft.id,
        now=ctx.now,
        max_paid_stars=ctx.deps.config.pace.max_stars,
    )
    if outcome.standing is not Standing.CURRENT:
        ctx.end()
        ctx.reply(why_not(ctx, outcome.standing, draft.parent_id))
        return
    ctx.wake_outbox()
    ctx.end()
    sent = await alerts.get(ctx.session, alert_id=draft.id)
    assert sent is not None
    await broadcast_progress.show(ctx, sent, broadcast_paid.went_free(ctx, draft, sent))


# --- dispatch from the /broadcast conversation ---------------------------------------------------


async def on_option(ctx: Context, step: str, action: str, arg: str) -> bool:
    """A press in a follow-up step; False when it is not one of ours."""
    if action == "pick" and step == Step.PICK:
        await _picked(ctx, ui.as_int(arg))
    elif action == "fskip" and step == Step.FU_FIELD and ui.as_int(arg) == data(ctx).get("field"):
        await _next_field(ctx, int(arg))
    elif action == "nonote" and step == Step.FU_NOTE:
        ctx.goto(FLOW, Step.FU_NOTE, fields={})
        await _make_draft(ctx)
    elif action == "fsend" and step == Step.FU_PREVIEW:
        await _send(ctx, arg)
    else:
        return False
    return True


async def on_input(ctx: Context, step: str, typed: str) -> bool:
    """Typed text in a follow-up step; False when the step is not ours."""
    if step == Step.PICK:
        alert_id = parse_reference(typed)
        if alert_id is None:
            await choose(ctx, _follow(ctx), ui.please_choose(ctx))
        else:
            await _picked(ctx, alert_id)
    elif step == Step.FU_FIELD:
        await _on_field(ctx, typed)
    elif step == Step.FU_NOTE:
        await _on_note(ctx, typed)
    elif step == Step.FU_PREVIEW:
        draft = await own_draft(ctx)
        if draft is not None:
            await _preview(ctx, draft, ui.please_choose(ctx))
    else:
        return False
    return True


async def _on_field(ctx: Context, typed: str) -> None:
    index = data(ctx).get("field")
    if not isinstance(index, int) or not 0 <= index < len(COMPOSED):
        ctx.end()
        ui.expired(ctx)
        return
    name = COMPOSED[index]
    limit = alerts.FIELD_LIMITS[name]
    try:
        text = alerts.check_field(name, typed)
    except AlertError:
        text = ""
    if not text:
        hint = ctx.tr(
            "That can't be used: plain text only, up to {n} characters. Type it again, or Skip.",
            n=limit,
        )
        _ask_field(ctx, index, hint)
        return
    ctx.goto(FLOW, Step.FU_FIELD, fields={**fields(ctx), name: text})
    await _next_field(ctx, index)


async def _on_note(ctx: Context, typed: str) -> None:
    try:
        note = followups.note_fields(typed)
    except AlertError:
        note = {}
    if not note:
        hint = ctx.tr(
            "That can't be used: one line of plain text, up to {n} characters. "
            "Type it again, or No note.",
            n=NOTE_CHARS,
        )
        _ask_note(ctx, hint)
        return
    ctx.goto(FLOW, Step.FU_NOTE, fields=note)
    await _make_draft(ctx)
