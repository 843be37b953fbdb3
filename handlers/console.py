"""``/console``: a coordinator or peer asks for a sign-in link to the web console.

The link works once, for a few minutes, and opens a session for the member's staff contact
(:mod:`bot.services.console_access`); a person with no staff role is told the command is for
the team, as other staff commands do.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.messages import Incoming
from bot.services import console_access
from handlers.routes import ModuleRoutes

SIGN_IN_PATH = "/console/signin/"


async def console_command(msg: Incoming, ctx: Context) -> None:
    """Send a fresh sign-in link, or say why there is none."""
    person = ctx.person
    if person.staff_contact_id is None or not (person.is_coordinator or person.is_peer):
        ctx.reply(ctx.tr("The web console is for coordinators and peer workers."))
        return
    base = ctx.deps.config.console_url
    if base is None:
        ctx.reply(ctx.tr("The web console is not set up on this server."))
        return
    token = await console_access.mint_link(
        ctx.session, contact_id=person.staff_contact_id, locale=person.locale, now=ctx.now
    )
    minutes = int(console_access.LINK_TTL.total_seconds() // 60)
    link = f"{base}{SIGN_IN_PATH}{token}"
    ctx.reply(
        ctx.tr(
            "Your sign-in link for the web console. It works once, within {minutes} "
            "minutes; do not forward it.\n{link}",
            minutes=minutes,
            link=link,
        )
    )


ROUTES = ModuleRoutes(commands={"console": console_command})
