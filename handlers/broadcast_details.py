"""Coordinators: how sure an alert is and which routes of use its advice is for, set from the
preview.

::

    preview → [Confidence…] → [Confirmed by drug checking] [Seen by peers]
                              [Community report, not confirmed] [No line] [Back] → preview
            → [Route…] → [✓ Smoked] [Injected] [Snorted] [Swallowed] (toggle) [Done] → preview

Each choice is saved on the draft at once (the alerts service validates it), so the preview
that follows is exactly what people will read. Part of the ``/broadcast`` conversation (its
flow and button prefix); :mod:`handlers.broadcast` asks :func:`preview_options` for the
buttons and passes presses to :func:`on_option` with the preview to go back to (so this module
imports no other broadcast module: no circle).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.context import Context
from bot.core.messages import Option
from bot.services import alerts
from bot.services.alerts import CONFIDENCES, ROUTES, AlertError, AlertView
from handlers import ui
from handlers.broadcast_common import FLOW, PREFIX, Step, ask, button, draft_of, own_draft

__all__ = ["on_input", "on_option", "preview_options"]

Preview = Callable[[Context, AlertView, str], Awaitable[None]]

# Not a confidence: the choice that takes the line away.
_NONE = "none"


def preview_options(ctx: Context, draft: AlertView, run: str) -> list[Option]:
    """[Confidence…] and [Route…] for the preview of ``draft``."""
    return [
        Option(ctx.tr("Confidence…"), ui.payload(PREFIX, run, "dconf", draft.id)),
        Option(ctx.tr("Route…"), ui.payload(PREFIX, run, "droutes", draft.id)),
    ]


def _ask_confidence(ctx: Context, draft: AlertView, hint: str = "") -> None:
    ctx.goto(FLOW, Step.CONFIDENCE)
    options = [
        button(
            ctx,
            ("✓ " if draft.confidence == c else "") + alerts.confidence_label(ctx.tr, c),
            "dset",
            c,
        )
        for c in CONFIDENCES
    ]
    options += [
        button(ctx, ("✓ " if draft.confidence is None else "") + ctx.tr("No line"), "dset", _NONE),
        button(ctx, ctx.tr("Back"), "dback"),
    ]
    text = ctx.tr("How sure is it? People read this line under the heading.")
    ask(ctx, hint, text, options)


def _ask_routes(ctx: Context, draft: AlertView, hint: str = "") -> None:
    ctx.goto(FLOW, Step.ROUTES)
    options = [
        button(ctx, ("✓ " if r in draft.routes else "") + alerts.route_label(ctx.tr, r), "dtog", r)
        for r in ROUTES
    ]
    options.append(button(ctx, ctx.tr("Done"), "dback"))
    text = ctx.tr(
        "Which routes of use is it about? Each one chosen adds a line of advice for it. "
        "Choose each, then Done."
    )
    ask(ctx, hint, text, options, columns=2)


async def on_option(ctx: Context, step: str, action: str, arg: str, preview: Preview) -> bool:
    """Handle a ``bc:`` press of this part (``preview`` shows the draft again); False when it
    is not one."""
    if step == Step.PREVIEW and action in ("dconf", "droutes"):
        draft = await draft_of(ctx, arg)
        if draft is None:
            ctx.end()
            ui.expired(ctx)
        elif action == "dconf":
            _ask_confidence(ctx, draft)
        else:
            _ask_routes(ctx, draft)
        return True
    mine = (step == Step.CONFIDENCE and action in ("dset", "dback")) or (
        step == Step.ROUTES and action in ("dtog", "dback")
    )
    if not mine:
        return False
    draft = await own_draft(ctx)
    if draft is None:
        return True
    if action == "dback":
        await preview(ctx, draft, "")
    elif action == "dset" and (arg in CONFIDENCES or arg == _NONE):
        changed = await _update(ctx, draft, confidence="" if arg == _NONE else arg)
        await preview(ctx, changed, "")
    elif action == "dtog" and arg in ROUTES:
        routes = set(draft.routes) ^ {arg}
        _ask_routes(ctx, await _update(ctx, draft, routes=tuple(routes)))
    else:
        ui.expired(ctx)
    return True


async def _update(
    ctx: Context,
    draft: AlertView,
    *,
    confidence: str | None = None,
    routes: tuple[str, ...] | None = None,
) -> AlertView:
    try:
        return await alerts.update_draft(
            ctx.session,
            alert_id=draft.id,
            gazetteer=ctx.deps.content.gazetteer,
            confidence=confidence,
            routes=routes,
        )
    except AlertError:  # only the buttons' own values reach here: nothing to say but no change
        return draft


async def on_input(ctx: Context, step: str) -> bool:
    """Typed text while choosing: the choices again. False when not this part's step."""
    if step not in (Step.CONFIDENCE, Step.ROUTES):
        return False
    draft = await own_draft(ctx)
    if draft is None:
        return True
    if step == Step.CONFIDENCE:
        _ask_confidence(ctx, draft, ui.please_choose(ctx))
    else:
        _ask_routes(ctx, draft, ui.please_choose(ctx))
    return True
