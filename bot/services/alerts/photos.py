"""The photo sent with an alert: set or removed while it is a draft, read by the outbox.

Only what :func:`bot.privacy.images.strip_image` made is accepted here (the caller strips;
this module checks again that the bytes carry no metadata), so a person's original file never
reaches the database. A recurring series' occurrences go out with the template's photo; an
update or all clear has only its own (none unless one was attached to it).
"""

from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Alert, AlertPhoto
from bot.domain import AlertStatus
from bot.privacy.images import hidden_data
from bot.services.alerts.model import AlertError
from bot.services.alerts.reading import _require

# What strip_image makes stays far below this (1600 px, quality 85); a guard, not a limit.
MAX_PHOTO_BYTES = 5 * 1024 * 1024


async def set_photo(session: AsyncSession, *, alert_id: int, jpeg: bytes) -> None:
    """Attach (or replace) the draft's photo: a JPEG already stripped of all metadata."""
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("only a draft can be edited", code="not_draft")
    if not jpeg.startswith(b"\xff\xd8") or len(jpeg) > MAX_PHOTO_BYTES or hidden_data(jpeg):
        raise AlertError("the photo must be a stripped JPEG", code="photo")
    row = await session.get(AlertPhoto, alert_id)
    if row is None:
        session.add(AlertPhoto(alert_id=alert_id, jpeg=jpeg))
    else:
        row.jpeg = jpeg
    await session.flush()


async def remove_photo(session: AsyncSession, *, alert_id: int) -> bool:
    """Take the photo off a draft; False when it had none."""
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("only a draft can be edited", code="not_draft")
    return await drop_photo(session, alert_id=alert_id)


async def drop_photo(session: AsyncSession, *, alert_id: int) -> bool:
    """Delete an alert's photo whatever its state (cancelled, or retention); True if it had one."""
    result = await session.execute(
        delete(AlertPhoto).where(AlertPhoto.alert_id == alert_id).returning(AlertPhoto.alert_id)
    )
    return bool(result.all())


async def has_photo(session: AsyncSession, *, alert_id: int) -> bool:
    """Whether the alert itself carries a photo (not counting a series template's)."""
    return bool(await session.scalar(select(exists().where(AlertPhoto.alert_id == alert_id))))


async def photo_for(session: AsyncSession, *, alert_id: int) -> bytes | None:
    """The JPEG to send with ``alert_id``: its own, or for an occurrence of a recurring
    series, the template's."""
    own = await session.scalar(select(AlertPhoto.jpeg).where(AlertPhoto.alert_id == alert_id))
    if own is not None:
        return own
    series = await session.scalar(select(Alert.series_id).where(Alert.id == alert_id))
    if series is None:
        return None
    return await session.scalar(select(AlertPhoto.jpeg).where(AlertPhoto.alert_id == series))
