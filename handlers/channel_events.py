"""Notices about the channels themselves, for coordinators (no person is involved)."""

from __future__ import annotations

from bot.core.context import Scope
from bot.core.messages import Reply
from bot.core.words import Translator
from handlers.offers import coordinator_contacts


async def signal_needs_captcha(scope: Scope, *, tokens: tuple[str, ...] = ()) -> int:
    """Tell every coordinator that Signal paused sending until a captcha is solved.

    Messages stay queued meanwhile (alert deliveries, and replies and notices in
    :mod:`bot.services.notices`; answers to a person's own message for 10 minutes, notices
    such as a pickup code until the request expires); returns how many coordinators were told.
    """

    def render(t: Translator) -> Reply:
        lines = [
            t("Signal sending is paused"),
            t(
                "Signal asked the bot's number to solve a captcha before it sends more. "
                "Messages wait in the queue until then."
            ),
            t("What to do: see 'Signal captcha' in the README."),
        ]
        if tokens:
            lines.append(t("Challenge token: {token}", token=tokens[0]))
        return Reply("\n".join(lines))

    contacts = await coordinator_contacts(scope.session)
    for contact_id in contacts:
        scope.notify(contact_id, render)
    return len(contacts)
