"""The catalogue check (``make lint``, CI): one line per problem, exit status 1 if any.

Fails on: a template out of date with the source (extraction would change it); a message of
the template missing, untranslated or fuzzy in a language; placeholders (``{name}``) that differ
between the English and a translation, or a broken one (a lone brace); a plural translation
with the wrong number of forms for its language; a catalogue that does not parse or compile;
a card review flag for a language that has no catalogue.

Run it as ``python -m bot.i18n check`` or ``python -m bot.i18n.check``.
"""

from __future__ import annotations

import io
import string
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.support import Translations

from bot.content.errors import ContentError
from bot.core.words import compile_catalogue, discover_locales, po_path, read_catalogue
from bot.i18n import PROJECT_ROOT, default_locales_dir
from bot.i18n.catalogues import fresh_template, render, template_path, without_dates

Key = str | tuple[str, str]  # a message id, or (id, context)
_SHOWN = 60  # characters of a message id quoted in a problem line
_FORMATTER = string.Formatter()


def _short(message: Message) -> str:
    text = message.id if isinstance(message.id, str) else message.id[0]
    text = " ".join(text.split())
    quoted = text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
    context = f" (context {message.context!r})" if message.context else ""
    return f"msgid {quoted!r}{context}"


def placeholders(text: str) -> set[str]:
    """The named fields of a ``str.format`` template; ValueError for a broken one."""
    return {name for _, name, _, _ in _FORMATTER.parse(text) if name is not None}


def _ids(message: Message) -> tuple[str, ...]:
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def _forms(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, str):
        return (message.string,)
    return tuple(message.string or ())


def _key(message: Message) -> Key:
    base = message.id if isinstance(message.id, str) else message.id[0]
    return (base, message.context) if message.context else base


def check_template(root: Path, locales_dir: Path) -> list[str]:
    """The template against a fresh extraction from the source."""
    pot = template_path(locales_dir)
    shown = _display(pot, root)
    fresh = fresh_template(root)
    if not pot.exists():
        return [f"{shown}: missing: run `make messages`"]
    try:
        current = read_catalogue(pot)
    except ContentError as exc:
        return [str(problem) for problem in exc.problems]
    if without_dates(render(fresh)) == without_dates(pot.read_bytes()):
        return []
    now, then = {_key(m): m for m in fresh if m.id}, {_key(m): m for m in current if m.id}
    problems = [
        f"{shown}: out of date: new in the source: {_short(m)}"
        for key, m in now.items()
        if key not in then
    ]
    problems += [
        f"{shown}: out of date: no longer in the source: {_short(m)}"
        for key, m in then.items()
        if key not in now
    ]
    if not problems:
        problems.append(f"{shown}: out of date (comments or locations changed)")
    return [f"{line} (run `make messages`)" for line in problems]


def check_language(
    path: Path, locale: str, template: Catalog, *, root: Path = PROJECT_ROOT
) -> list[str]:
    """One language's catalogue against the template."""
    shown = _display(path, root)
    try:
        catalogue = read_catalogue(path)
    except ContentError as exc:
        return [f"{problem} [{locale}]" for problem in exc.problems]
    problems = [f"{shown}: {locale}: {line}" for line in _plural_header(catalogue, locale)]
    try:
        Translations(io.BytesIO(compile_catalogue(catalogue)))
    except Exception as exc:  # anything gettext raises on a bad .mo or plural expression
        problems.append(f"{shown}: {locale}: does not compile: {exc}")
    messages = {_key(m): m for m in catalogue if m.id}
    for wanted in template:
        if not wanted.id:
            continue
        found = messages.get(_key(wanted))
        line = _message_problem(wanted, found, catalogue.num_plurals)
        if line:
            problems.append(f"{shown}: {locale}: {line}: {_short(wanted)}")
    known = {_key(m) for m in template if m.id}
    problems += [
        f"{shown}: {locale}: not in the template (run `make messages`): {_short(m)}"
        for key, m in messages.items()
        if key not in known
    ]
    return problems


def _plural_header(catalogue: Catalog, locale: str) -> list[str]:
    try:
        expected = get_plural(locale).num_plurals
    except Exception:  # a locale Babel does not know: its own Plural-Forms header decides
        return []
    if catalogue.num_plurals != expected:
        return [
            f"Plural-Forms header has {catalogue.num_plurals} forms; "
            f"the language has {expected} (nplurals={expected})"
        ]
    return []


def _message_problem(wanted: Message, found: Message | None, plurals: int) -> str | None:
    if found is None:
        return "missing translation"
    if found.fuzzy:
        return "fuzzy (check the translation, then remove the fuzzy flag)"
    forms = _forms(found)
    if not forms or not all(form.strip() for form in forms):
        return "untranslated"
    plural = not isinstance(wanted.id, str)
    if plural and len(forms) != plurals:
        return f"{len(forms)} plural forms, the language has {plurals}"
    if not plural and len(forms) != 1:
        return "plural forms for a message without a plural"
    try:
        expected = set().union(*(placeholders(text) for text in _ids(wanted)))
    except ValueError:
        return "broken placeholder in the English (a lone brace?)"
    for form in forms:
        try:
            named = placeholders(form)
        except ValueError:
            return "broken placeholder (a lone brace? write a literal brace twice)"
        # A plural form may leave out {n} ("one pack"), never another name.
        if (named - {"n"} if plural else named) != (expected - {"n"} if plural else expected):
            return f"placeholders {_names(named)} differ from the English {_names(expected)}"
    if plural and "n" in expected and not any("n" in placeholders(f) for f in forms):
        return "placeholder {n} is in no plural form"
    return None


def _names(names: Iterable[str]) -> str:
    return "{" + ", ".join(sorted(names)) + "}" if names else "none"


def check_card_reviews(content_dir: Path, locales: Sequence[str], root: Path) -> list[str]:
    """Card review flags must name languages that exist."""
    path = content_dir / "cards.yaml"
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cards = data.get("cards") if isinstance(data, dict) else None
    problems = []
    for card in cards if isinstance(cards, list) else []:
        reviewed = card.get("reviewed") if isinstance(card, dict) else None
        for locale in reviewed if isinstance(reviewed, dict) else {}:
            if locale not in locales:
                code = card.get("code", "?")
                problems.append(
                    f"{_display(path, root)}: card {code!r}: reviewed names {locale!r}, "
                    "which has no catalogue"
                )
    return problems


def check(root: Path = PROJECT_ROOT, locales_dir: Path | None = None) -> list[str]:
    """Every problem with the catalogues of the project at ``root``."""
    locales_dir = locales_dir or default_locales_dir(root)
    problems = check_template(root, locales_dir)
    pot = template_path(locales_dir)
    try:
        template = read_catalogue(pot) if pot.exists() else fresh_template(root)
    except ContentError:
        template = fresh_template(root)
    locales = discover_locales(locales_dir)
    if not locales:
        problems.append(f"{_display(locales_dir, root)}: no catalogues found")
    for locale in locales:
        problems += check_language(po_path(locales_dir, locale), locale, template, root=root)
    problems += check_card_reviews(locales_dir.parent, locales, root)
    return problems


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Print each problem on its own line; 0 when there is none, else 1."""
    from bot.i18n.__main__ import main as cli

    return cli(["check", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
