"""The numbered options last shown to a Signal address, for whichever instance reads the answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column


class ShownMenu(Base):
    """The options of the last list sent to one Signal address (see
    :mod:`bot.services.shown_menus`).

    ``holder`` is a keyed hash of the address under a label of its own, so without the key
    the row joins neither the person's contact nor their staff contact; ``sealed`` holds the
    options (labels and payloads, no text) encrypted with the address key; ``shown_at`` is
    the hour. A row goes a day after that hour, or when a plain message retires the list.
    """

    __tablename__ = "shown_menus"

    holder: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    shown_at: Mapped[datetime] = created_column()
