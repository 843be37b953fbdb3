"""``/language``: choose the language the bot writes in, stored with the contact.

On first contact the platform's language hint decides (see :mod:`bot.core.engine`); this
overrides it for good. The choices are the languages that have a catalogue in
``content/locales``, each in its own name, so a new catalogue is a new choice with no code
change. ``/language ru`` or ``/language Русский`` chooses directly.

Buttons: ``lang:<locale>``. They only set the sender's own language, so they carry no
conversation tag and work whenever pressed; an unknown locale is an expired button.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Incoming, Option
from bot.core.routes import MenuCommand
from bot.services import contacts
from handlers import ui
from handlers.routes import ModuleRoutes

PREFIX = "lang"


def _choices(ctx: Context) -> list[Option]:
    return [
        Option(translator.language_name, f"{PREFIX}:{code}")
        for code, translator in ctx.deps.words.locales.items()
    ]


def hint(ctx: Context) -> str:
    """``🌐 English · Русский · دری: /language``, for a welcome; empty with one language."""
    names = [translator.language_name for translator in ctx.deps.words.locales.values()]
    if len(names) < 2:
        return ""
    return "🌐 " + " · ".join(names) + ": /language"


def _find(ctx: Context, wanted: str) -> str | None:
    """The locale a typed code or language name means, if any."""
    wanted = wanted.strip().casefold().replace("-", "_")
    for code, translator in ctx.deps.words.locales.items():
        if wanted in (code.casefold(), translator.language_name.casefold()):
            return code
    return None


async def show(ctx: Context) -> None:
    """The languages to choose from."""
    ctx.end()
    ctx.reply(ctx.tr("Choose your language:"), [*_choices(ctx), ui.back_to_menu(ctx.tr)])


async def _choose(ctx: Context, locale: str) -> None:
    await contacts.set_locale(ctx.session, contact_id=ctx.person.contact_id, locale=locale)
    if ctx.person.staff_contact_id is not None:  # offers and staff notices speak it too
        await contacts.set_locale(
            ctx.session, contact_id=ctx.person.staff_contact_id, locale=locale
        )
    ctx.t = ctx.deps.words.for_locale(locale)  # answer in the new language at once
    ctx.end()
    ui.show_menu(ctx, ctx.tr("Language set: {language}.", language=ctx.tr.language_name))


async def on_command(msg: Incoming, ctx: Context) -> None:
    """``/language`` (the choices) or ``/language <code or name>``."""
    wanted = msg.args.strip()
    locale = _find(ctx, wanted) if wanted else None
    if locale is None:
        await show(ctx)
    else:
        await _choose(ctx, locale)


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``lang:<locale>`` button."""
    locale = (msg.option or "").partition(":")[2]
    if locale not in ctx.deps.words.locales:
        ui.expired(ctx)
        return
    await _choose(ctx, locale)


ROUTES = ModuleRoutes(
    commands={"language": on_command},
    options={PREFIX: on_option},
    menu=(MenuCommand("language", "Change the language"),),
)
