"""The text people get: :func:`render_alert` in the reader's language, and :func:`preview`
(that text and how many would receive it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Cards, Directory, Gazetteer
from bot.core import bidi
from bot.core.words import Translator
from bot.db.models import (
    EVERYWHERE,
    FollowUp,
)
from bot.domain import AlertKind
from bot.services.alerts import details
from bot.services.alerts.audience import audience_size
from bot.services.alerts.model import AlertError, AlertView, Preview
from bot.services.alerts.reading import get

EMERGENCY_CARD: Final = "overdose"

# Telegram's longest message (fields.MAX_FIELDS_TOTAL keeps the rest well under it).
MESSAGE_LIMIT: Final = 4096


def _first_line(alert: AlertView, t: Translator) -> str:
    # Shown on lock screens: never a drug word, never a field a coordinator typed.
    if alert.follow_up is FollowUp.ALL_CLEAR:
        return t("✅ All clear on an earlier notice from your community group")
    if alert.follow_up is FollowUp.UPDATE:
        return t("🔁 Update to an earlier notice from your community group")
    if alert.kind is AlertKind.BAD_BATCH:
        if alert.severity >= 3:
            return t("🔴 Urgent notice from your community group")
        if alert.severity == 2:
            return t("🟠 Important notice from your community group")
        return t("🟡 Notice from your community group")
    if alert.kind is AlertKind.SAFETY:
        return t("💬 A reminder from your community group")
    return t("ℹ️ Service news from your community group")


def _heading(alert: AlertView, t: Translator) -> str:
    if alert.kind is AlertKind.BAD_BATCH:
        return t("Bad batch warning")
    if alert.kind is AlertKind.SAFETY:
        return t("Safety message")
    return t("Service change")


def _area_names(alert: AlertView, t: Translator, gazetteer: Gazetteer) -> str:
    if EVERYWHERE in alert.areas or not alert.areas:
        return t("everywhere")
    names = []
    for code in alert.areas:
        area = gazetteer.by_code(code)
        names.append(area.name if area is not None else code)
    return ", ".join(names)


def _emergency_number(alert: AlertView, gazetteer: Gazetteer) -> str:
    numbers: list[str] = []
    for code in alert.areas:
        area = gazetteer.by_code(code)
        number = area.emergency_number if area is not None else gazetteer.city.emergency_number
        if number not in numbers:
            numbers.append(number)
    return " / ".join(numbers) or gazetteer.city.emergency_number


def _set_apart(value: str, t: Translator) -> str:
    """Free text set apart from the recipient's writing direction where it runs the other way.

    A Dari text in an English line (or a Latin or number run in a Dari one) is otherwise
    reordered by its neighbours: "Sold as: <Dari> 2" would show the 2 in the wrong place. Each
    line is isolated (FSI … PDI) on its own, as a line break ends every isolate. A right-to-
    left translator isolates placeholder values itself; doing it here too is harmless (an
    isolated value is not wrapped twice) and covers a template that is not translated yet.
    """
    if t.rtl:
        return bidi.isolate(value)
    if not bidi.has_rtl(value):
        return value
    return "\n".join(f"{bidi.FSI}{line}{bidi.PDI}" if line else line for line in value.split("\n"))


def _field_lines(written: Mapping[str, str], t: Translator) -> list[str]:
    fields = {name: _set_apart(text, t) for name, text in written.items()}
    lines = []
    # Each label a literal, so message extraction finds it.
    if "summary" in fields:
        lines.append(t("What's happening: {value}", value=fields["summary"]))
    if "sold_as" in fields:
        lines.append(t("Sold as: {value}", value=fields["sold_as"]))
    if "found_to_contain" in fields:
        lines.append(t("Found to contain: {value}", value=fields["found_to_contain"]))
    if "appearance" in fields:
        lines.append(t("Looks like: {value}", value=fields["appearance"]))
    if "symptoms" in fields:
        lines.append(t("Effects seen: {value}", value=fields["symptoms"]))
    if "advice" in fields:
        lines.append(t("Advice: {value}", value=fields["advice"]))
    return lines


def render_alert(
    alert: AlertView,
    t: Translator,
    gazetteer: Gazetteer,
    cards: Cards,
    *,
    directory: Directory | None = None,
    now: datetime | None = None,
) -> str:
    """The text recipients get, in ``t``'s language.

    A discreet first line (the lock-screen preview), a blank line, then the facts: kind and
    areas, until when it is current and how sure the group is, the structured fields, advice
    per route of use, the nearest drug checking and supervised consumption sites (from
    ``directory``), and the emergency number for the areas; a bad-batch warning also carries
    the overdose steps (with naloxone) from the info cards (:mod:`.details`: only the lines
    that apply).

    "Current until" is the expiry once sent; for an alert not sent yet it is its lifetime from
    when it is due, or from ``now`` (a preview: "if sent now"); without either it is left out.

    The structured parts come from ``t``'s catalogue; the free text is the coordinator's, in
    ``t``'s language where they wrote it in that language and in the base language otherwise
    (field by field): a bad-batch warning in another language beats no warning at all.
    """
    areas = _area_names(alert, t, gazetteer)
    number = _emergency_number(alert, gazetteer)
    lines = [_first_line(alert, t), ""]
    if alert.follow_up is FollowUp.ALL_CLEAR:
        lines.append(
            t(
                "{heading} for {areas}: the earlier warning is over.",
                heading=_heading(alert, t),
                areas=areas,
            )
        )
    else:
        lines.append(t("{heading} · Areas: {areas}", heading=_heading(alert, t), areas=areas))
    for line in (
        details.until_line(alert, t, gazetteer, now),
        details.confidence_line(alert, t),
    ):
        if line:
            lines.append(line)
    lines += _field_lines(alert.fields_in(t.locale), t)
    lines += details.route_lines(alert, t)
    head = "\n".join(lines)
    lines = [""]
    card = cards.by_code(EMERGENCY_CARD)
    if alert.kind is AlertKind.BAD_BATCH and alert.follow_up is not FollowUp.ALL_CLEAR and card:
        city = gazetteer.city.name
        lines.append(t(card.title))
        lines.append(t(card.text, emergency_number=number, city=city).strip())
    else:
        lines.append(
            t(
                "If someone can't be woken or isn't breathing: call {number}, give naloxone, "
                "and stay with them. /emergency shows the steps.",
                number=number,
            )
        )
    tail = "\n".join(lines)
    # The nearest sites are the one part of variable length the fields' limits do not bound
    # (the directory's names, addresses, hours): the last ones give way so that the alert
    # stays one Telegram message (a person can still ask /referral).
    sites = details.nearest_sites(alert, gazetteer, directory)
    while True:
        named = details.site_lines(t, sites)
        text = "\n".join([head, *([""] if named else []), *named, tail]).strip()
        if not sites or _units(text) <= MESSAGE_LIMIT:
            return text
        sites = sites[:-1]


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


async def preview(
    session: AsyncSession,
    *,
    alert_id: int,
    t: Translator,
    gazetteer: Gazetteer,
    cards: Cards,
    directory: Directory | None = None,
    now: datetime | None = None,
) -> Preview:
    """What recipients will read (in ``t``'s language) and how many would receive it now
    (``now`` also dates an unsent alert's "current until", as if sent now)."""
    view = await get(session, alert_id=alert_id)
    if view is None:
        raise AlertError("no such alert")
    return Preview(
        text=render_alert(view, t, gazetteer, cards, directory=directory, now=now),
        recipients=await audience_size(session, alert_id=alert_id),
    )
