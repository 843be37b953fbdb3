"""Words people read, looked up per locale from gettext catalogues in ``content/locales``.

Source strings are English and double as message ids; placeholders are named
(``"Your reference is {ref}"``) so translators can move them.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from pathlib import Path

from babel.support import Translations

DOMAIN = "hrbot"
DEFAULT_LOCALE = "en"


class Translator:
    """Translate and fill in named placeholders for one locale."""

    def __init__(self, locale: str, catalogue: gettext.NullTranslations) -> None:
        self.locale = locale
        self._catalogue = catalogue

    def __call__(self, message: str, /, **params: object) -> str:
        text = self._catalogue.gettext(message)
        return text.format(**params) if params else text

    def plural(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        """Plural-aware lookup; ``n`` is also available as ``{n}``."""
        text = self._catalogue.ngettext(singular, plural, n)
        return text.format(n=n, **params)


class Words:
    """Every locale's catalogue, loaded once at start-up."""

    def __init__(self, locales_dir: Path | None = None, locales: tuple[str, ...] = ()) -> None:
        self._translators: dict[str, Translator] = {
            DEFAULT_LOCALE: Translator(DEFAULT_LOCALE, gettext.NullTranslations())
        }
        for locale in locales:
            if locales_dir is None or locale == DEFAULT_LOCALE:
                continue
            catalogue = Translations.load(str(locales_dir), [locale], DOMAIN)
            self._translators[locale] = Translator(locale, catalogue)

    @property
    def locales(self) -> Mapping[str, Translator]:
        return self._translators

    def for_locale(self, locale: str | None) -> Translator:
        """The best translator for ``locale`` (``ru-RU`` → ``ru``), English otherwise."""
        if locale:
            tag = locale.replace("-", "_")
            for candidate in (tag, tag.split("_")[0].lower()):
                if candidate in self._translators:
                    return self._translators[candidate]
        return self._translators[DEFAULT_LOCALE]
