"""The catalogue tooling: the shipped catalogues pass the check, and planted faults fail it.

Faults are planted in copies (tmp dirs); the source is the repository's own, except where a
tiny project is built to show that extraction picks up a new string.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.words import Words, po_path
from bot.i18n import PROJECT_ROOT, default_locales_dir
from bot.i18n.__main__ import main
from bot.i18n.catalogues import compile_all, init_language, template_path, update_messages
from bot.i18n.check import check

LOCALES = default_locales_dir()
RU = "content/locales/ru/LC_MESSAGES/hrbot.po"

Edit = Callable[[str, Callable[[str], str]], None]


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    """A copy of the shipped catalogues (and cards.yaml beside it, as in content/)."""
    target = tmp_path / "content" / "locales"
    shutil.copytree(LOCALES, target)
    shutil.copy(LOCALES.parent / "cards.yaml", target.parent / "cards.yaml")
    return target


@pytest.fixture
def edit(locales: Path) -> Edit:
    """Rewrite one catalogue (``ru``, ``fa_AF``, ``en`` or ``hrbot.pot``) of the copy."""

    def _edit(name: str, change: Callable[[str], str]) -> None:
        path = template_path(locales) if name == "hrbot.pot" else po_path(locales, name)
        before = path.read_text(encoding="utf-8")
        after = change(before)
        assert after != before, "the planted fault did not change the file"
        path.write_text(after, encoding="utf-8")

    return _edit


def problems(locales: Path) -> list[str]:
    return check(PROJECT_ROOT, locales)


def test_the_shipped_catalogues_pass() -> None:
    assert check() == []
    assert main(["check"]) == 0


def test_a_missing_translation_key_fails(
    locales: Path, edit: Edit, capsys: pytest.CaptureFixture[str]
) -> None:
    edit("ru", lambda po: po.replace('msgid "Send it?"\nmsgstr "Отправить?"\n', ""))
    found = problems(locales)
    assert len(found) == 1
    assert re.fullmatch(
        r".*locales/ru/LC_MESSAGES/hrbot\.po: ru: missing translation: "
        r"msgid 'Send it\?'",
        found[0],
    )
    assert main(["--locales", str(locales), "check"]) == 1
    assert "missing translation: msgid 'Send it?'" in capsys.readouterr().out


def test_a_placeholder_that_differs_fails(locales: Path, edit: Edit) -> None:
    edit(
        "fa_AF",
        lambda po: po.replace('msgstr "شمارهٔ درخواست: {ref}"', 'msgstr "شماره: {reference}"'),
    )
    [line] = problems(locales)
    assert (
        "fa_AF/LC_MESSAGES/hrbot.po: fa_AF: placeholders {reference} differ from the English {ref}"
        in line
    )
    assert "msgid 'Reference: {ref}'" in line


def test_a_dropped_placeholder_and_a_lone_brace_fail(locales: Path, edit: Edit) -> None:
    edit("ru", lambda po: po.replace('msgstr "Район: {area}"', 'msgstr "Район"'))
    edit("ru", lambda po: po.replace('msgstr "Где: {name}"', 'msgstr "Где: {name"'))
    found = problems(locales)
    assert any("placeholders none differ from the English {area}" in p for p in found)
    assert any("broken placeholder" in p and "Where: {name}" in p for p in found)


def test_untranslated_and_fuzzy_fail(locales: Path, edit: Edit) -> None:
    edit("ru", lambda po: po.replace('msgstr "Отправить?"', 'msgstr ""'))
    edit("ru", lambda po: po.replace('msgid "Cancel"\n', '#, fuzzy\nmsgid "Cancel"\n'))
    found = problems(locales)
    assert any("ru: untranslated: msgid 'Send it?'" in p for p in found)
    assert any("ru: fuzzy" in p and "msgid 'Cancel'" in p for p in found)


def test_a_wrong_number_of_plural_forms_fails(locales: Path, edit: Edit) -> None:
    edit("ru", lambda po: po.replace('msgstr[2] "Готово ({n} позиций)"\n', ""))
    [line] = problems(locales)
    assert "ru: untranslated: msgid 'Done ({n} item)'" in line  # a form is missing
    edit(
        "ru",
        lambda po: po.replace(
            'msgstr[1] "Готово ({n} позиции)"\n',
            'msgstr[1] "Готово ({n} позиции)"\nmsgstr[2] "x {n}"\nmsgstr[3] "y {n}"\n',
        ),
    )
    [line] = problems(locales)
    assert "ru/LC_MESSAGES/hrbot.po: not a valid catalogue" in line
    assert "more translations than num_plurals" in line


def test_a_plural_header_wrong_for_the_language_fails(locales: Path, edit: Edit) -> None:
    # A translator who followed a wrong header: two forms everywhere, where Russian has three.
    def two_forms(po: str) -> str:
        po = re.sub(
            r'"Plural-Forms: [^"]*"\n(?:"[^"]*"\n)?',
            lambda _: '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n',
            po,
        )
        return re.sub(r'msgstr\[2\] "[^"]*"\n', "", po)

    edit("ru", two_forms)
    [line] = problems(locales)
    assert "ru: Plural-Forms header has 2 forms; the language has 3 (nplurals=3)" in line


def test_a_catalogue_that_does_not_compile_fails(locales: Path, edit: Edit) -> None:
    edit("fa_AF", lambda po: po.replace("plural=(n > 1);", "plural=(n >);"))
    assert any("fa_AF: does not compile" in p for p in problems(locales))
    edit("ru", lambda po: po + "\ngarbage line\n")
    assert any(
        "ru/LC_MESSAGES/hrbot.po" in p and "not a valid catalogue" in p for p in problems(locales)
    )


def test_a_template_out_of_date_with_the_source_fails(locales: Path, edit: Edit) -> None:
    edit("hrbot.pot", lambda pot: pot.replace('msgid "Send it?"\nmsgstr ""\n', ""))
    edit("hrbot.pot", lambda pot: pot + '\nmsgid "Gone from the code"\nmsgstr ""\n')
    found = problems(locales)
    assert any(
        "hrbot.pot: out of date: new in the source: msgid 'Send it?' (run `make messages`)" in p
        for p in found
    )
    assert any("no longer in the source: msgid 'Gone from the code'" in p for p in found)


def test_an_entry_the_template_no_longer_has_fails(locales: Path, edit: Edit) -> None:
    edit("ru", lambda po: po + '\nmsgid "Old words"\nmsgstr "Старые слова"\n')
    [line] = problems(locales)
    assert "ru: not in the template (run `make messages`): msgid 'Old words'" in line


def test_a_card_review_for_an_unknown_language_fails(locales: Path) -> None:
    cards = locales.parent / "cards.yaml"
    cards.write_text(
        cards.read_text(encoding="utf-8").replace("{ru: false, fa_AF: false}", "{de: true}", 1),
        encoding="utf-8",
    )
    [line] = problems(locales)
    assert "card 'overdose': reviewed names 'de', which has no catalogue" in line


# --- the whole tool chain on a tiny project --------------------------------------------------


def _project(root: Path, *strings: str) -> None:
    shutil.copy(PROJECT_ROOT / "babel.cfg", root / "babel.cfg")
    (root / "handlers").mkdir(exist_ok=True)
    calls = "\n".join(f"    ctx.tr({s!r})" for s in strings)
    (root / "handlers" / "hello.py").write_text(f"def hello(ctx):\n{calls}\n", encoding="utf-8")


def test_messages_picks_up_new_strings_and_compile_writes_mo(tmp_path: Path) -> None:
    locales = tmp_path / "content" / "locales"
    _project(tmp_path, "Hello {name}")
    assert main(["--root", str(tmp_path), "messages"]) == 0
    init_language(locales, "en")
    init_language(locales, "ru")
    assert po_path(locales, "en").read_text(encoding="utf-8").count('msgstr "Hello {name}"') == 1
    # Someone adds a string: extraction and update pick it up, and the check says what to do.
    _project(tmp_path, "Hello {name}", "Bye")
    assert any("new in the source: msgid 'Bye'" in p for p in check(tmp_path, locales))
    assert main(["--root", str(tmp_path), "messages"]) == 0
    found = check(tmp_path, locales)
    assert any("ru: untranslated: msgid 'Bye'" in p for p in found)
    assert any("ru: untranslated: msgid 'Hello {name}'" in p for p in found)
    assert not any(": en:" in p for p in found)  # English mirrors the source
    # Running it again changes nothing.
    before = {p: p.read_bytes() for p in locales.rglob("*.po*")}
    assert update_messages(tmp_path, locales).template is False
    assert {p: p.read_bytes() for p in locales.rglob("*.po*")} == before
    # A changed English string turns its translation fuzzy.
    ru = po_path(locales, "ru")
    ru.write_text(
        ru.read_text(encoding="utf-8").replace(
            'msgid "Hello {name}"\nmsgstr ""', 'msgid "Hello {name}"\nmsgstr "Привет, {name}"'
        ),
        encoding="utf-8",
    )
    _project(tmp_path, "Hello there {name}", "Bye")
    update_messages(tmp_path, locales)
    assert any("ru: fuzzy" in p and "Hello there {name}" in p for p in check(tmp_path, locales))
    # compile writes .mo files that gettext reads.
    written = compile_all(locales)
    assert sorted(p.parent.parent.name for p in written) == ["en", "ru"]
    assert all(p.suffix == ".mo" and p.stat().st_size > 0 for p in written)


def test_init_refuses_an_existing_or_unknown_language(locales: Path) -> None:
    with pytest.raises(ValueError, match="exists already"):
        init_language(locales, "ru")
    with pytest.raises(ValueError, match="Plural-Forms"):
        init_language(locales, "xx")
    assert set(Words(locales).locales) == {"en", "fa_AF", "ru"}
