"""Translation tooling: extract the words people read, update and compile catalogues, check them.

``python -m bot.i18n messages`` (``make messages``) extracts every string from the code and from
the content files into ``content/locales/hrbot.pot`` and updates each language's ``.po``;
``compile`` (``make compile``) writes ``.mo`` files; ``check`` (part of ``make lint``) fails on
anything a translator still has to do. See ``README.md`` → "Adding a language".
"""

from __future__ import annotations

from pathlib import Path

from bot.core.words import DOMAIN, LOCALES_DIR

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The repository (tooling runs on a source checkout, not an installed wheel)."""
MAPPING_FILE = "babel.cfg"
TEMPLATE_NAME = f"{DOMAIN}.pot"
SOURCE_LOCALE = "en"
"""Message ids are English; the ``en`` catalogue mirrors them (``msgstr`` = ``msgid``)."""


def default_locales_dir(root: Path = PROJECT_ROOT) -> Path:
    """``<root>/content/locales``."""
    return root / "content" / LOCALES_DIR
