"""An alert's free text written again in other languages.

A coordinator writes an alert's fields (sold as, found to contain...) in their own language,
the alert's *base* language, then may write the same fields in any other: stored on the alert
as ``translations`` = {locale: {field: text}}. Each language's texts are checked exactly as the
base is (:func:`bot.services.alerts.validate_translation`) and may only fill fields the base
has; a field left out falls back to the base text when rendered
(:func:`bot.services.alerts.render_alert`).

Only a draft changes. Each change is one conditional ``UPDATE ... WHERE status = 'draft'``, so
a draft sent meanwhile is never rewritten. Keyword-only and session-first, like every service.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Alert
from bot.domain import AlertStatus
from bot.services import alerts
from bot.services.alerts import AlertError, AlertView

__all__ = ["remove_translation", "set_translation"]


async def _draft(session: AsyncSession, alert_id: int) -> Alert:
    alert = await session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        raise AlertError("no such alert")
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("only a draft can be edited")
    return alert


async def _write(
    session: AsyncSession,
    alert_id: int,
    translations: dict[str, dict[str, str]],
    base_locale: str | None,
) -> AlertView:
    won = await session.scalar(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == AlertStatus.DRAFT)
        .values(translations=translations or None, base_locale=base_locale)
        .returning(Alert.id)
    )
    if won is None:
        raise AlertError("only a draft can be edited")
    view = await alerts.get(session, alert_id=alert_id)
    assert view is not None
    return view


async def set_translation(
    session: AsyncSession,
    *,
    alert_id: int,
    locale: str,
    fields: Mapping[str, str | None],
    base_locale: str | None = None,
) -> AlertView:
    """Write the draft's fields in ``locale`` (replacing what was written in it before).

    ``base_locale`` names the language the fields are in when the draft does not know yet (a
    draft made from a community report); the draft's own is kept otherwise. Raises AlertError
    for a bad text, a field the base does not have, the base language itself, or nothing
    written at all (use :func:`remove_translation`).
    """
    alert = await _draft(session, alert_id)
    base = alert.base_locale or (alerts.check_locale(base_locale) if base_locale else None)
    if base is None:
        raise AlertError("first say which language the alert is written in")
    written: dict[str, Mapping[str, str | None]] = dict(alert.translations or {})
    written[alerts.check_locale(locale)] = fields
    clean = alerts.validate_translations(alert.fields or {}, written, base_locale=base)
    if locale not in clean:
        raise AlertError("write at least one field in that language", code="empty")
    return await _write(session, alert_id, clean, base)


async def remove_translation(session: AsyncSession, *, alert_id: int, locale: str) -> AlertView:
    """Forget what the draft says in ``locale``: people reading it get the base text again."""
    alert = await _draft(session, alert_id)
    written = {k: dict(v) for k, v in (alert.translations or {}).items() if k != locale}
    return await _write(session, alert_id, written, alert.base_locale)
