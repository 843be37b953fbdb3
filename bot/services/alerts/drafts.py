"""Composing: create and edit drafts, confirm one made from a report, and start a follow-up
(update or all clear) of a sent alert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    delete,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Gazetteer
from bot.db.models import (
    Alert,
    AlertArea,
    FollowUp,
)
from bot.domain import AlertKind, AlertStatus
from bot.services.alerts.fields import (
    DEFAULT_LIFETIME,
    _check_areas,
    _check_lifetime,
    _check_severity,
    check_confidence,
    check_locale,
    check_routes,
    validate_fields,
    validate_translations,
)
from bot.services.alerts.model import AlertError, AlertView
from bot.services.alerts.reading import _areas, _require, _view


async def create_draft(
    session: AsyncSession,
    *,
    kind: AlertKind,
    severity: int,
    areas: Sequence[str],
    fields: Mapping[str, str | None],
    gazetteer: Gazetteer,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
    created_by_id: int | None = None,
    locale: str | None = None,
    needs_check: bool = False,
    confidence: str | None = None,
    routes: Sequence[str] = (),
) -> AlertView:
    """A new draft; raises AlertError for an unknown area, a bad field, severity, confidence
    or route. ``locale`` is the language the fields are written in (the composer's).
    ``needs_check`` holds it until :func:`mark_checked` or an edit of its fields (text from a
    report); such a draft is a ``community`` report unless ``confidence`` says otherwise."""
    codes = _check_areas(areas, gazetteer)
    if confidence is None and needs_check:
        confidence = "community"
    alert = Alert(
        kind=AlertKind(kind),
        severity=_check_severity(severity),
        status=AlertStatus.DRAFT,
        fields=validate_fields(fields),
        lifetime_seconds=_check_lifetime(lifetime),
        created_by_id=created_by_id,
        created_at=now,
        base_locale=check_locale(locale) if locale is not None else None,
        needs_check=needs_check,
        confidence=check_confidence(confidence),
        routes=_stored_routes(routes),
    )
    session.add(alert)
    await session.flush()
    session.add_all([AlertArea(alert_id=alert.id, area_code=code) for code in codes])
    await session.flush()
    return _view(alert, sorted(codes))


async def update_draft(
    session: AsyncSession,
    *,
    alert_id: int,
    gazetteer: Gazetteer,
    kind: AlertKind | None = None,
    severity: int | None = None,
    areas: Sequence[str] | None = None,
    fields: Mapping[str, str | None] | None = None,
    lifetime: timedelta | None = None,
    confidence: str | None = None,
    routes: Sequence[str] | None = None,
) -> AlertView:
    """Change a draft (only what is given). ``fields`` replaces all fields; texts in other
    languages keep only the fields still there (AlertError if one no longer fits). Fields
    written again count as the check a draft from a report needs. ``confidence=""`` takes
    the confidence line away; ``routes=()`` the routes."""
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("only a draft can be edited")
    if kind is not None:
        if alert.parent_id is not None:
            raise AlertError("an update keeps the kind of its alert")
        alert.kind = AlertKind(kind)
    if severity is not None:
        alert.severity = _check_severity(severity)
    if fields is not None:
        alert.fields = validate_fields(fields)
        alert.needs_check = False
        if alert.translations:
            kept = {
                locale: {k: v for k, v in texts.items() if k in alert.fields}
                for locale, texts in alert.translations.items()
            }
            alert.translations = (
                validate_translations(alert.fields, kept, base_locale=alert.base_locale) or None
            )
    if lifetime is not None:
        alert.lifetime_seconds = _check_lifetime(lifetime)
    if confidence is not None:
        alert.confidence = check_confidence(confidence or None)
    if routes is not None:
        alert.routes = _stored_routes(routes)
    if areas is not None:
        if alert.parent_id is not None:
            raise AlertError("an update goes to the audience of its alert")
        codes = _check_areas(areas, gazetteer)
        await session.execute(delete(AlertArea).where(AlertArea.alert_id == alert_id))
        session.add_all([AlertArea(alert_id=alert_id, area_code=code) for code in codes])
    await session.flush()
    return _view(alert, await _areas(session, alert_id))


def _stored_routes(routes: Sequence[str]) -> str | None:
    return ",".join(check_routes(routes)) or None


async def mark_checked(session: AsyncSession, *, alert_id: int) -> AlertView:
    """A coordinator read a draft made from a report and found no one identifiable in it:
    it may now be sent or scheduled."""
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("only a draft can be checked")
    alert.needs_check = False
    await session.flush()
    return _view(alert, await _areas(session, alert_id))


def _refuse_unchecked(alert: Alert) -> None:
    if alert.needs_check:
        raise AlertError(
            "a draft from a community report must be edited or checked first", code="unchecked"
        )


async def create_follow_up(
    session: AsyncSession,
    *,
    parent_id: int,
    follow_up: FollowUp,
    fields: Mapping[str, str | None] | None = None,
    now: datetime,
    created_by_id: int | None = None,
    lifetime: timedelta | None = None,
    locale: str | None = None,
    translations: Mapping[str, Mapping[str, str | None]] | None = None,
) -> AlertView:
    """A draft update or all clear for an alert that was sent (or is being sent).

    It keeps the parent's kind, severity and areas and goes to the parent's audience. An
    update needs fields; an all clear may carry advice. Its free text is its own, so it has
    its own languages: ``translations`` ({locale: {field: text}}) of its own ``fields``,
    written in ``locale`` (the parent's language when not given).
    """
    parent = await _require(session, parent_id)
    if parent.status not in (AlertStatus.SENDING, AlertStatus.SENT) or parent.recurrence:
        raise AlertError("only an alert that was sent can be updated")
    given = dict(fields or {})
    if follow_up is FollowUp.ALL_CLEAR and not any(given.values()):
        clean: dict[str, str] = {}
    else:
        clean = validate_fields(given)
    base_locale = check_locale(locale) if locale is not None else parent.base_locale
    written = validate_translations(clean, translations or {}, base_locale=base_locale)
    # An update is about the same batch: it keeps what was said of it (how sure, which routes)
    # until the coordinator changes that. An all clear says neither.
    same = follow_up is FollowUp.UPDATE
    alert = Alert(
        kind=parent.kind,
        severity=parent.severity,
        status=AlertStatus.DRAFT,
        fields=clean,
        parent_id=parent.id,
        follow_up=FollowUp(follow_up),
        base_locale=base_locale,
        translations=written or None,
        lifetime_seconds=(
            _check_lifetime(lifetime) if lifetime is not None else parent.lifetime_seconds
        ),
        created_by_id=created_by_id if created_by_id is not None else parent.created_by_id,
        created_at=now,
        confidence=parent.confidence if same else None,
        routes=parent.routes if same else None,
        # Paid when its alert was: news about a batch goes out as fast as the alert did
        # (the cap is checked again at sending; the preview can turn it off).
        paid=bool(parent.paid),
    )
    session.add(alert)
    await session.flush()
    codes = await _areas(session, parent.id)
    session.add_all([AlertArea(alert_id=alert.id, area_code=code) for code in codes])
    await session.flush()
    return _view(alert, codes)
