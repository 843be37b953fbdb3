"""``/broadcast``: an optional photo of the sample or its packaging, sent with the alert.

::

    preview → [Add photo] → "Send the photo now…" → (a photo) → preview, "a photo is attached"
                                                               with [Remove photo]

The photo is re-encoded from its pixels alone (:func:`bot.privacy.images.strip_image`) before
anything is stored: place, time, camera and every other hidden field are gone, and only that
JPEG is kept, with the alert (deleted with it, on cancel and at retention). The original is
fetched from the platform only here, at this step, and never written anywhere. Nothing about
the photo is logged. Hooked into :mod:`handlers.broadcast` by :func:`preview_options`,
:func:`on_option` and :func:`on_input`. Buttons: ``bc:<run>:photo|nophoto|photoback:<id>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option, PhotoUnavailable
from bot.privacy.images import ImageRejected, strip_image
from bot.services import alerts
from bot.services.alerts import AlertError, AlertView
from handlers import ui
from handlers.broadcast_common import FLOW, PREFIX, Step, ask, data, draft_of, run

PHOTO_STEP = "photo"
_ACTIONS = frozenset({"photo", "nophoto", "photoback"})

ShowPreview = Callable[[Context, AlertView, str], Awaitable[None]]


async def preview_options(
    ctx: Context, draft: AlertView, run: str
) -> tuple[list[str], list[Option]]:
    """What the preview adds: a line when a photo is attached, and [Add photo] or
    [Remove photo]."""
    if await alerts.has_photo(ctx.session, alert_id=draft.id):
        line = ctx.tr("📷 A photo is attached. It is sent with the alert, without hidden data.")
        remove = Option(ctx.tr("Remove photo"), ui.payload(PREFIX, run, "nophoto", draft.id))
        return [line], [remove]
    return [], [Option(ctx.tr("Add photo"), ui.payload(PREFIX, run, "photo", draft.id))]


def _ask_photo(ctx: Context, draft: AlertView, hint: str = "") -> None:
    ctx.goto(FLOW, PHOTO_STEP)
    back = Option(ctx.tr("Back"), ui.payload(PREFIX, run(ctx), "photoback", draft.id))
    text = ctx.tr(
        "Send the photo now (it is sent with the alert; all hidden data such as place and "
        "camera is removed)."
    )
    ask(ctx, hint, text, [back])


async def on_option(
    ctx: Context, step: str, action: str, arg: str, show_preview: ShowPreview
) -> bool:
    """[Add photo], [Remove photo] and [Back]; False for any other button."""
    if action not in _ACTIONS:
        return False
    draft = await draft_of(ctx, arg)
    if step not in (Step.PREVIEW, PHOTO_STEP) or draft is None or draft.needs_check:
        ctx.end()
        ui.expired(ctx)
    elif action == "photo":
        _ask_photo(ctx, draft)
    elif action == "nophoto":
        await alerts.remove_photo(ctx.session, alert_id=draft.id)
        await show_preview(ctx, draft, ctx.tr("The photo is removed."))
    else:
        await show_preview(ctx, draft, "")
    return True


async def on_input(ctx: Context, msg: Incoming, step: str, show_preview: ShowPreview) -> bool:
    """A photo at the photo step; elsewhere in ``/broadcast`` a photo or sticker is
    unreadable input, as before. False for text at any other step."""
    if step != PHOTO_STEP:
        if msg.kind is InputKind.UNSUPPORTED:
            ctx.reply(ui.unreadable(ctx))  # nothing fetched, read or kept
            return True
        return False
    draft = await draft_of(ctx, data(ctx).get("alert"))
    if draft is None:
        ctx.end()
        ui.expired(ctx)
        return True
    if msg.photo is None:
        _ask_photo(ctx, draft, ctx.tr("That is not a photo. Send a photo, or go back."))
        return True
    try:
        original = await msg.photo()
        # Decoding a large photo takes a moment: off the event loop.
        jpeg = await asyncio.to_thread(strip_image, original)
    except PhotoUnavailable:
        _ask_photo(ctx, draft, ctx.tr("That photo could not be fetched (up to 10 MB). Try again."))
        return True
    except ImageRejected as refused:
        _ask_photo(ctx, draft, _refusal(ctx, refused.reason))
        return True
    del original  # never stored: only the re-encoded copy goes on
    try:
        await alerts.set_photo(ctx.session, alert_id=draft.id, jpeg=jpeg)
    except AlertError:
        ctx.end()
        ui.expired(ctx)
        return True
    await show_preview(ctx, draft, ctx.tr("The photo is attached, with its hidden data removed."))
    return True


def _refusal(ctx: Context, reason: str) -> str:
    if reason == "too_large":
        return ctx.tr("That file is too large: up to 10 MB. Send a smaller photo.")
    if reason == "too_many_pixels":
        return ctx.tr("That image is too large to use. Send a smaller photo.")
    return ctx.tr("That is not a photo this bot can use. Send a JPEG or PNG photo.")
