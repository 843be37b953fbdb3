"""What the ``/broadcast`` modules share: the flow's name and steps, its state, and labels.

``/broadcast`` is one conversation (one flow, one button prefix) spread over small modules:
composing (:mod:`handlers.broadcast`), repeating (:mod:`handlers.broadcast_repeat`), updates and
all clears (:mod:`handlers.broadcast_followup`) and progress (:mod:`handlers.broadcast_progress`).
They meet here so none of them imports another's internals. The words they share with the
console (labels, questions) are :mod:`bot.services.alert_words`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from bot.core.context import Context
from bot.core.messages import Option
from bot.domain import AlertStatus
from bot.services import alerts
from bot.services.alert_words import field_label, field_prompt, kind_label
from bot.services.alerts import WHEN_FORMAT, AlertView
from handlers import ui

FLOW = "broadcast"
PREFIX = "bc"
FIELDS = tuple(alerts.FIELD_LIMITS)
# The fields the step-by-step composing asks in turn (new alerts and updates). "What's
# happening" is the urgent warning's one message; elsewhere it is added from the preview.
COMPOSED = tuple(name for name in FIELDS if name != "summary")
# ``A12``, ``a12`` or ``12``: how a coordinator names an alert.
_REFERENCE = re.compile(r"[Aa]?(\d{1,9})")


__all__ = [
    "COMPOSED",
    "FIELDS",
    "FLOW",
    "PREFIX",
    "WHEN_FORMAT",
    "Step",
    "ask",
    "button",
    "data",
    "draft_of",
    "field_label",
    "field_prompt",
    "fields",
    "kind_label",
    "own_draft",
    "parse_reference",
    "refuse",
    "run",
]


class Step(StrEnum):
    MODE = "mode"
    KIND = "kind"
    SEVERITY = "severity"
    AREAS = "areas"
    FIELD = "field"
    LIFETIME = "lifetime"
    PREVIEW = "preview"
    HOW = "how"  # once or repeat
    WHEN = "when"
    DAYS = "days"
    TIME = "time"
    PICK = "pick"  # which earlier alert to follow up
    FU_FIELD = "fu_field"
    FU_NOTE = "fu_note"
    FU_PREVIEW = "fu_preview"
    CHECK_FIELD = "check_field"  # a report-born draft: each field kept, changed or left out
    CONFIDENCE = "confidence"  # how sure it is (handlers.broadcast_details)
    ROUTES = "routes"  # routes of use its advice is for (handlers.broadcast_details)
    URGENT_AREA = "urgent_area"  # an urgent warning: one area (or everywhere)...
    URGENT_TEXT = "urgent_text"  # ...and one message, then the preview
    DETAILS = "details"  # from the preview: which detail to add or change
    DETAIL_FIELD = "detail_field"
    DETAIL_SEVERITY = "detail_severity"
    DETAIL_LIFETIME = "detail_lifetime"
    DETAIL_AREAS = "detail_areas"


def refuse(ctx: Context) -> bool:
    """Say the neutral line to anyone who is not a coordinator; True when refused."""
    if ctx.person.is_coordinator:
        return False
    ctx.end()
    ctx.reply(ctx.tr("This command is for coordinators."))
    return True


def parse_reference(text: str) -> int | None:
    """The alert id in ``A12`` (or ``12``), or None."""
    match = _REFERENCE.fullmatch(text.strip())
    return int(match[1]) if match else None


# --- state ---------------------------------------------------------------------------------------


def data(ctx: Context) -> dict[str, Any]:
    assert ctx.state is not None
    return ctx.state.data


def run(ctx: Context) -> str:
    return str(data(ctx).get("run", ""))


def fields(ctx: Context) -> dict[str, str]:
    """The fields typed so far in this conversation."""
    kept = data(ctx).get("fields")
    if not isinstance(kept, dict):
        return {}
    return {k: v for k, v in kept.items() if k in FIELDS and isinstance(v, str)}


def ask(ctx: Context, hint: str, text: str, options: list[Option], columns: int = 1) -> None:
    """Ask the next question in the flow's message: after a button press that message is
    replaced (one message on screen, no stale buttons); after typed text it is a new one."""
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=columns, in_place=True)


def button(ctx: Context, label: str, action: str, arg: object = None) -> Option:
    """An option of this conversation."""
    return Option(label, ui.payload(PREFIX, run(ctx), action, arg))


async def draft_of(ctx: Context, arg: object) -> AlertView | None:
    """The draft this conversation made, if ``arg`` names it and it is still a draft."""
    alert_id = ui.as_int(str(arg))
    if alert_id is None or alert_id != data(ctx).get("alert"):
        return None
    view = await alerts.get(ctx.session, alert_id=alert_id)
    return view if view is not None and view.status is AlertStatus.DRAFT else None


async def own_draft(ctx: Context) -> AlertView | None:
    """This conversation's draft; when it is gone (sent, cancelled), the conversation ends
    and the person hears that the buttons expired."""
    draft = await draft_of(ctx, data(ctx).get("alert"))
    if draft is None:
        ctx.end()
        ui.expired(ctx)
    return draft
