"""Column helpers: enums stored as short strings, timestamps in UTC."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum
from sqlalchemy.orm import mapped_column

from bot.db.base import UTCDateTime


def enum_column(enum: type[StrEnum], **kwargs: Any) -> Any:
    """A VARCHAR column holding ``enum`` values (not a native enum: migrations stay simple)."""
    return mapped_column(
        Enum(
            enum,
            native_enum=False,
            length=16,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        ),
        **kwargs,
    )


def created_column() -> Any:
    """When the row was created (UTC): always given by the service from its caller's clock.

    No ``default=utcnow`` on purpose: a default would read the wall clock behind the caller's
    back, so a test on a fixed clock (or a run a year from now) would write another time.
    """
    return mapped_column(UTCDateTime(), nullable=False)


def when_column(**kwargs: Any) -> Any:
    """An optional UTC timestamp."""
    kwargs.setdefault("nullable", True)
    return mapped_column(UTCDateTime(), **kwargs)


__all__ = ["created_column", "datetime", "enum_column", "when_column"]
