"""Words people read, looked up per locale from gettext catalogues in ``content/locales``.

Source strings are English and double as message ids; placeholders are named
(``"Your reference is {ref}"``) so translators can move them. Each language is a catalogue
``content/locales/<locale>/LC_MESSAGES/hrbot.po``; the ``.po`` files are compiled in memory at
start-up, so a fresh clone needs no build step and a stale ``.mo`` can never shadow a newer
``.po``. Adding a directory there adds a language: nothing in the code lists them.

Marking strings for extraction (``make messages``, see :mod:`bot.i18n`): the keywords are
``tr``/``t`` (a translator call), ``plural`` (``t.plural(singular, plural, n)``), ``pgettext``,
``N_`` (a constant looked up later) and the description of a ``MenuCommand``.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from babel.core import UnknownLocaleError
from babel.lists import format_list
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.support import Translations

from bot.content.errors import ContentError
from bot.core import bidi

DOMAIN = "hrbot"
DEFAULT_LOCALE = "en"
LOCALES_DIR = "locales"
"""Where catalogues live, under the content directory."""
# Platform hints that name a language by another code. Telegram sends "fa" for Persian (and
# so for Dari): a hint's language also matches any loaded locale of that language (fa → fa_AF).
LANGUAGE_ALIASES: Mapping[str, str] = {"prs": "fa", "pes": "fa"}


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (it is looked up later)."""
    return message


class Translator:
    """Translate and fill in named placeholders for one locale.

    For a right-to-left locale, a translated text is made to display in order on every client
    (:mod:`bot.core.bidi`): placeholder values and Latin/number runs are isolated, and lines
    get a right-to-left mark where needed.
    """

    def __init__(
        self,
        locale: str,
        catalogue: gettext.NullTranslations,
        *,
        rtl: bool = False,
        known: frozenset[str] = frozenset(),
    ) -> None:
        self.locale = locale
        self.rtl = rtl
        self._catalogue = catalogue
        self._known = known

    def __call__(self, message: str, /, **params: object) -> str:
        return self._fill(self._catalogue.gettext(message), params, always=False)

    def plural(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        """Plural-aware lookup; ``n`` is also available as ``{n}``."""
        text = self._catalogue.ngettext(singular, plural, n)
        return self._fill(text, {"n": n, **params}, always=True)

    def pgettext(self, context: str, message: str, /, **params: object) -> str:
        """Lookup of ``message`` in a context (the same English word meaning another thing)."""
        return self._fill(self._catalogue.pgettext(context, message), params, always=False)

    def has(self, message: str) -> bool:
        """Whether this locale's catalogue carries a translation of ``message``."""
        return message in self._known

    def join(self, items: Sequence[str]) -> str:
        """``A, B and C`` as this language writes a list (CLDR patterns, through Babel):
        Dari joins with ``،`` and ``و``, Russian with ``и``."""
        try:
            return format_list(list(items), locale=self.locale)
        except (UnknownLocaleError, ValueError):  # a catalogue CLDR does not know
            return format_list(list(items), locale="en")

    @property
    def language_name(self) -> str:
        """This language's name for itself (English, Русский, دری)."""
        # TRANSLATORS: your language's name for itself (Русский, دری), shown by /language.
        return self.pgettext("language name", "English")

    def _fill(self, text: str, params: Mapping[str, object], *, always: bool) -> str:
        if self.rtl and bidi.has_rtl(text):
            return bidi.format_rtl(text, params) if params or always else bidi.finish(text)
        return text.format(**params) if params or always else text


class Words:
    """Every locale's catalogue, loaded once at start-up.

    ``Words()`` is English only; ``Words(locales_dir)`` loads every catalogue found there;
    ``locales`` limits it to those codes.
    """

    def __init__(
        self, locales_dir: Path | None = None, locales: Sequence[str] | None = None
    ) -> None:
        self._translators: dict[str, Translator] = {
            DEFAULT_LOCALE: Translator(DEFAULT_LOCALE, gettext.NullTranslations())
        }
        if locales_dir is None:
            return
        wanted = discover_locales(locales_dir) if locales is None else tuple(locales)
        for locale in wanted:
            translations, known = load_catalogue(po_path(locales_dir, locale))
            rtl = bidi.is_rtl_locale(locale)
            self._translators[locale] = Translator(locale, translations, rtl=rtl, known=known)

    @classmethod
    def from_content(cls, content_dir: Path) -> Words:
        """Every language in ``content_dir/locales``."""
        return cls(content_dir / LOCALES_DIR)

    @property
    def locales(self) -> Mapping[str, Translator]:
        return self._translators

    def resolve(self, hint: str | None) -> str:
        """The loaded locale that best serves ``hint`` (``ru-RU`` → ``ru``, ``fa`` → ``fa_AF``,
        ``prs`` → ``fa_AF``), English otherwise."""
        if not hint:
            return DEFAULT_LOCALE
        parts = hint.strip().replace("-", "_").split("_")
        language = parts[0].lower()
        language = LANGUAGE_ALIASES.get(language, language)
        region = parts[1].upper() if len(parts) > 1 and len(parts[1]) == 2 else None
        for candidate in (f"{language}_{region}" if region else None, language):
            if candidate in self._translators:
                return candidate
        for code in self._translators:
            if code.split("_")[0].lower() == language:
                return code
        return DEFAULT_LOCALE

    def for_locale(self, locale: str | None) -> Translator:
        """The best translator for ``locale`` (see :meth:`resolve`)."""
        return self._translators[self.resolve(locale)]


def po_path(locales_dir: Path, locale: str) -> Path:
    """``<locales_dir>/<locale>/LC_MESSAGES/hrbot.po``."""
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def discover_locales(locales_dir: Path) -> tuple[str, ...]:
    """Every locale with a catalogue in ``locales_dir``, sorted."""
    found = locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
    return tuple(sorted(path.parent.parent.name for path in found))


def read_catalogue(path: Path) -> Catalog:
    """Parse one ``.po`` file; a broken one raises ContentError naming the file and line."""
    try:
        with path.open("rb") as handle:
            return read_po(handle, abort_invalid=True)
    except PoFileError as exc:
        raise ContentError.single(str(path), f"not a valid catalogue: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ContentError.single(str(path), f"cannot read the catalogue: {exc}") from None


def usable(catalogue: Catalog) -> Catalog:
    """The messages of ``catalogue`` that may be shown: translated in full, not fuzzy."""
    kept = Catalog(locale=None, fuzzy=False)
    kept.mime_headers = catalogue.mime_headers
    for message in catalogue:
        if not message.id or message.fuzzy:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(forms):
            kept[message.id] = message
    return kept


def compile_catalogue(catalogue: Catalog) -> bytes:
    """The ``.mo`` bytes of the usable messages of ``catalogue``."""
    buffer = io.BytesIO()
    write_mo(buffer, usable(catalogue))
    return buffer.getvalue()


def load_catalogue(path: Path) -> tuple[Translations, frozenset[str]]:
    """Compile ``path`` in memory: the translations and the message ids they cover."""
    catalogue = read_catalogue(path)
    try:
        translations = Translations(io.BytesIO(compile_catalogue(catalogue)), domain=DOMAIN)
    except (OSError, ValueError, SyntaxError) as exc:
        raise ContentError.single(str(path), f"does not compile: {exc}") from None
    known = frozenset(
        message.id if isinstance(message.id, str) else message.id[0]
        for message in usable(catalogue)
        if message.id
    )
    return translations, known
