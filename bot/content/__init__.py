"""Content: item catalogue, area gazetteer, referral directory, info cards and common kits,
validated on load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.content.areas import AreaSpec, City, Gazetteer, load_gazetteer, normalize_name
from bot.content.cards import Card, Cards, load_cards
from bot.content.errors import ContentError, Problem
from bot.content.geo import haversine_km
from bot.content.hours import OpeningHours
from bot.content.items import Catalogue, ItemCategory, ItemSpec, load_catalogue
from bot.content.kits import Kits, KitSpec, load_kits
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
    "KitSpec",
    "Kits",
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
    "load_kits",
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
    kits: Kits = field(default_factory=Kits)


def load_content(content_dir: Path) -> Content:
    """Load ``items.yaml``, ``areas.yaml``, ``referrals.yaml``, ``cards.yaml`` and (if there)
    ``kits.yaml``.

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
    kits = None
    # Referrals are checked against the areas, so they wait for a good gazetteer; kits against
    # both the areas and the catalogue.
    if gazetteer is not None:
        try:
            directory = load_directory(content_dir / "referrals.yaml", gazetteer)
        except ContentError as exc:
            problems += exc.problems
        if catalogue is not None:
            try:
                kits = load_kits(content_dir / "kits.yaml", catalogue, gazetteer)
            except ContentError as exc:
                problems += exc.problems
    if catalogue is None or gazetteer is None or directory is None or kits is None:
        raise ContentError(problems)  # each None above came with its problems
    cards = load_cards(content_dir / "cards.yaml")
    return Content(
        catalogue=catalogue, gazetteer=gazetteer, directory=directory, cards=cards, kits=kits
    )
