"""What a draft's preview shows of its other languages: "Also written in: …", [Preview in …]
per language and [Add a language] (the buttons :mod:`handlers.broadcast_languages` answers).

Kept apart so the previews (:mod:`handlers.broadcast`, :mod:`handlers.broadcast_followup`) can
show it without importing the conversation that returns to them.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Option
from bot.services.alerts import AlertView
from handlers import ui

PREFIX = "bcl"


def language_name(ctx: Context, locale: str) -> str:
    """A language in its own name (Русский, دری), as /language shows it."""
    return ctx.deps.words.locales[locale].language_name


def base_locale(ctx: Context, draft: AlertView) -> str:
    # A draft made from a community report does not know its language: it is being composed
    # by this coordinator, so theirs.
    return draft.base_locale or ctx.tr.locale


def choices_left(ctx: Context, draft: AlertView) -> list[str]:
    """Languages the draft can still be written in."""
    base = base_locale(ctx, draft)
    return [
        code for code in ctx.deps.words.locales if code != base and code not in draft.translations
    ]


def written_in(ctx: Context, draft: AlertView) -> list[str]:
    """Languages the draft is already written in, besides its first."""
    return [code for code in draft.translations if code in ctx.deps.words.locales]


def preview_section(ctx: Context, draft: AlertView, run: str) -> tuple[list[str], list[Option]]:
    """What the preview adds: the languages written so far, [Preview in …] for each, and
    [Add a language] while one is left."""
    written = written_in(ctx, draft)
    lines = []
    if written:
        names = ctx.tr.join([language_name(ctx, code) for code in written])
        lines.append(ctx.tr("Also written in: {languages}", languages=names))
    options = [
        Option(
            ctx.tr("Preview in {language}", language=language_name(ctx, code)),
            ui.payload(PREFIX, run, "show", code),
        )
        for code in written
    ]
    if draft.fields and choices_left(ctx, draft):  # an all clear may have no free text at all
        options.append(Option(ctx.tr("Add a language"), ui.payload(PREFIX, run, "add", draft.id)))
    return lines, options
