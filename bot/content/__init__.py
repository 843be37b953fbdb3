"""Content: item catalogue, area gazetteer, referral directory and info cards, validated on load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.content.areas import AreaSpec, City, Gazetteer, load_gazetteer, normalize_name
from bot.content.cards import Card, Cards, load_cards
from bot.content.errors import ContentError, Problem
from bot.content.geo import haversine_km
from bot.content.hours import OpeningHours
from bot.content.items import Catalogue, ItemCategory, ItemSpec, load_catalogue
from bot.content.outlets import OutletKind, OutletSpec, load_outlets
from bot.content.referrals import Directory, ReferralService, ServiceType, load_directory

__all__ = [
    "AreaSpec",
    "Card",
    "Cards",
    "Catalogue",
    "City",
    "Content",
    "ContentError",
    "Directory",
    "Gazetteer",
    "ItemCategory",
    "ItemSpec",
    "OpeningHours",
    "OutletKind",
    "OutletSpec",
    "Problem",
    "ReferralService",
    "ServiceType",
    "haversine_km",
    "load_cards",
    "load_catalogue",
    "load_content",
    "load_directory",
    "load_gazetteer",
    "load_outlets",
    "normalize_name",
]


@dataclass(frozen=True, slots=True)
class Content:
    """Everything loaded from the content directory."""

    catalogue: Catalogue
    gazetteer: Gazetteer
    directory: Directory
    cards: Cards


def load_content(content_dir: Path) -> Content:
    """Load ``items.yaml``, ``areas.yaml``, ``referrals.yaml`` and ``cards.yaml``.

    Raises one ContentError listing the problems of every file that failed. Cards are read once
    the other files are sound: their placeholders are filled from the gazetteer, and a list of
    problems is easier to work through when it starts with the files everything else needs.
    """
    problems: list[Problem] = []
    catalogue = gazetteer = directory = None
    try:
        catalogue = load_catalogue(content_dir / "items.yaml")
    except ContentError as exc:
        problems += exc.problems
    try:
        gazetteer = load_gazetteer(content_dir / "areas.yaml")
    except ContentError as exc:
        problems += exc.problems
    # Referrals are checked against the areas, so they wait for a good gazetteer.
    if gazetteer is not None:
        try:
            directory = load_directory(content_dir / "referrals.yaml", gazetteer)
        except ContentError as exc:
            problems += exc.problems
    if catalogue is None or gazetteer is None or directory is None:
        raise ContentError(problems)  # each None above came with its problems
    cards = load_cards(content_dir / "cards.yaml")
    return Content(catalogue=catalogue, gazetteer=gazetteer, directory=directory, cards=cards)
