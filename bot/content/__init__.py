"""Content: the item catalogue, area gazetteer and referral directory, validated on load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.content.areas import AreaSpec, City, Gazetteer, load_gazetteer, normalize_name
from bot.content.errors import ContentError, Problem
from bot.content.geo import haversine_km
from bot.content.hours import OpeningHours
from bot.content.items import Catalogue, ItemCategory, ItemSpec, load_catalogue
from bot.content.outlets import OutletKind, OutletSpec, load_outlets
from bot.content.referrals import Directory, ReferralService, ServiceType, load_directory

__all__ = [
    "AreaSpec",
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


def load_content(content_dir: Path) -> Content:
    """Load ``items.yaml``, ``areas.yaml`` and ``referrals.yaml`` from ``content_dir``.

    Raises one ContentError listing the problems of every file that failed.
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
    return Content(catalogue=catalogue, gazetteer=gazetteer, directory=directory)
