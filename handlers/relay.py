"""The masked line: a person and the peer who accepted their request write to each other.

Both sides get the line's buttons on their accepted-request message and on every message the
line brings: four quick replies, [Message] (the next text typed is passed on, once), and
[Close the line]; the peer also [Handed over] and [Release]. What arrives reads
``X3WBEY · Peer: I'm here``: the reference and a side, never a name, number or username (the
bot has none to give; free text is masked and re-sent as text, nothing is forwarded). The text
is never stored: it lives in the notice until it is sent (see :mod:`bot.services.relay`).

Outreach: when the accepting outlet meets nearby, the person is offered [Meet nearby]; they name
a public place, which goes to the peer through the line like any message.

Payloads (``<r>`` a request id, re-checked on every press)::

    ln:q:<r>:<quick>  quick reply     ln:m:<r>  type one message     ln:x:<r>  close the line
    ln:meet:<r>       meet nearby     ln:pick:<r>  pick up at the outlet after all
    ln:k              don't send
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option, Reply
from bot.core.words import Translator
from bot.services import relay
from bot.services.relay import Line, Quick, Sent, Side
from handlers import ui
from handlers.routes import ModuleRoutes

PREFIX = "ln"
# The person's one-message step is kept on their own contact, the peer's on their staff
# contact (a staff flow): nothing stored ties the two roles of one human together.
FLOW = "relay"
STAFF_FLOW = "relay_staff"
STEP_TEXT = "text"
STEP_PLACE = "place"
# handlers.peer's buttons: handed over (asks for the code), release (asks to confirm first).
HANDED_OVER = "pk:h:{}"
RELEASE = "pk:r:{}"
_ID = r"([0-9]{1,9})"
_PRESS = re.compile(rf"ln:(q|m|x|meet|pick):{_ID}(?::([a-z]{{1,8}}))?")


def quick_label(t: Translator, quick: Quick) -> str:
    """A quick reply in ``t``'s language."""
    if quick is Quick.ON_MY_WAY:
        return t("On my way")
    if quick is Quick.LATE:
        return t("10 minutes late")
    if quick is Quick.HERE:
        return t("I'm here")
    return t("I can't make it")


def line_options(t: Translator, request_id: int, side: Side) -> tuple[Option, ...]:
    """The line's buttons for one side of ``request_id`` (a peer's with Handed over first and
    Release last: someone writing "I'm here" is about to be handed their things)."""
    options = (
        [Option(t("Handed over"), HANDED_OVER.format(request_id))] if side is Side.PEER else []
    )
    options += [Option(quick_label(t, q), f"{PREFIX}:q:{request_id}:{q.value}") for q in Quick]
    options.append(Option(t("Message"), f"{PREFIX}:m:{request_id}"))
    options.append(Option(t("Close the line"), f"{PREFIX}:x:{request_id}"))
    if side is Side.PEER:
        options.append(Option(t("Release"), RELEASE.format(request_id)))
    return tuple(options)


def meet_options(t: Translator, request_id: int) -> tuple[Option, ...]:
    """Pickup or meet, for a person whose outlet meets nearby."""
    return (
        Option(t("Pick up there"), f"{PREFIX}:pick:{request_id}"),
        Option(t("Meet nearby"), f"{PREFIX}:meet:{request_id}"),
    )


def line_hint(t: Translator, side: Side) -> str:
    """One line under an accepted request saying the line is there."""
    if side is Side.PERSON:
        return t(
            "You can write to the peer through the bot with the choices below: they never "
            "see your name or number, and you never see theirs."
        )
    return t(
        "You can write to the person through the bot with the choices below: they never "
        "see your name or number, and you never see theirs."
    )


def _leave(ctx: Context) -> None:
    """Leave the one-message step, if in it: a quick reply pressed in the middle of another
    conversation (a new request, typing a pickup code) must not end that one."""
    if ctx.state is not None and ctx.state.flow in (FLOW, STAFF_FLOW):
        ctx.end()


def _dont_send(ctx: Context) -> tuple[Option, ...]:
    """The way out of a step whose next text is passed on: on Signal it answers to 0, not to
    its place in the list, so a message that is only "1" is sent as "1"."""
    return (Option(ctx.tr("Don't send"), f"{PREFIX}:k", key="0"),)


def _speaker(t: Translator, side: Side) -> str:
    return t("Peer") if side is Side.PEER else t("Person")


# --- buttons ---------------------------------------------------------------------------------


async def on_option(msg: Incoming, ctx: Context) -> None:
    """An ``ln:`` button."""
    if msg.option == f"{PREFIX}:k":
        _leave(ctx)
        ctx.reply(ctx.tr("OK, nothing was sent."))
        return
    match = _PRESS.fullmatch(msg.option or "")
    if match is None:
        ctx.reply(ui.no_longer_valid(ctx))
        return
    action, request_id, arg = match.group(1), int(match.group(2)), match.group(3)
    found = await _line(ctx, request_id)
    if found is None:
        return
    line, side = found
    if action == "q":
        quick = next((q for q in Quick if q.value == arg), None)
        if quick is None:
            ctx.reply(ui.no_longer_valid(ctx))
            return
        await _pass_on(ctx, line, side, lambda t: quick_label(t, quick))
    elif action == "m":
        ctx.goto(STAFF_FLOW if side is Side.PEER else FLOW, STEP_TEXT, request=request_id)
        ctx.reply(
            ctx.tr(
                "Type your message for {ref} (up to {n} characters). Phone numbers, @names "
                "and links are hidden, and the message is not kept.",
                ref=line.reference,
                n=relay.MAX_CHARS,
            ),
            _dont_send(ctx),
        )
    elif action == "x":
        await _close(ctx, line, side)
    else:
        await _choose(ctx, line, side, meet=action == "meet")


async def _line(ctx: Context, request_id: int) -> tuple[Line, Side] | None:
    """The open line and the sender's side, or None after saying why not."""
    line = await relay.find(ctx.session, request_id=request_id)
    side = None
    if line is not None:
        side = await relay.side_of(
            ctx.session, line, contact_id=ctx.person.contact_id, peer_ids=ctx.person.peer_ids
        )
    if line is None or side is None:
        _leave(ctx)
        ctx.reply(
            ctx.tr(
                "This line is closed: the request was handed over, cancelled, released or "
                "has expired. Nothing was sent."
            )
        )
        return None
    if line.closed:
        _leave(ctx)
        ctx.reply(ctx.tr("The line for {ref} was closed. Nothing was sent.", ref=line.reference))
        return None
    return line, side


async def _pass_on(
    ctx: Context, line: Line, side: Side, words: Callable[[Translator], str]
) -> bool:
    """Count and send one message to the other side; ``words`` is a quick reply (worded per
    reader) or masked text (the same for both)."""
    sent = await relay.count(ctx.session, line, side=side, now=ctx.now)
    if sent is Sent.CLOSED:
        _leave(ctx)
        ctx.reply(ctx.tr("The line for {ref} was closed. Nothing was sent.", ref=line.reference))
        return False
    if sent is Sent.LIMITED:
        _leave(ctx)
        ctx.reply(
            ctx.tr(
                "You've sent {n} messages on {ref} this hour, the most the line takes. "
                "Nothing was sent; please wait a while.",
                n=relay.LIMIT,
                ref=line.reference,
            )
        )
        return False
    reference, other = line.reference, Side.PERSON if side is Side.PEER else Side.PEER

    def render(t: Translator) -> Reply:
        return Reply(
            f"{reference} · {_speaker(t, side)}: {words(t)}",
            line_options(t, line.request_id, other),
            columns=2,
        )

    if other is Side.PERSON:
        recipients = [line.person_contact_id]
    else:
        recipients = await relay.peer_contacts(ctx.session, line, now=ctx.now)
    for contact_id in recipients:
        ctx.notify(contact_id, render)
    _leave(ctx)
    ctx.reply(
        ctx.tr("Sent on {ref}: {text}", ref=reference, text=words(ctx.tr)),
        line_options(ctx.tr, line.request_id, side),
        columns=2,
    )
    return True


async def _close(ctx: Context, line: Line, side: Side) -> None:
    _leave(ctx)
    if not await relay.close(ctx.session, line):
        ctx.reply(ctx.tr("The line for {ref} was closed. Nothing was sent.", ref=line.reference))
        return
    reference = line.reference
    ctx.reply(ctx.tr("You closed the line for {ref}.", ref=reference))

    def render(t: Translator) -> Reply:
        if side is Side.PEER:
            return Reply(t("{ref} · The peer closed the line.", ref=reference))
        return Reply(t("{ref} · The person closed the line.", ref=reference))

    if side is Side.PEER:
        ctx.notify(line.person_contact_id, render)
    else:
        for contact_id in await relay.peer_contacts(ctx.session, line, now=ctx.now):
            ctx.notify(contact_id, render)


async def _choose(ctx: Context, line: Line, side: Side, *, meet: bool) -> None:
    """Pickup or meet nearby: the person's choice, where the outlet meets."""
    if side is not Side.PERSON or not line.meets_nearby:
        ctx.reply(ui.no_longer_valid(ctx))
        return
    await relay.choose(ctx.session, line, meet=meet)
    if not meet and line.meet:
        # The peer was told where to meet: tell them it's the outlet after all.
        await _pass_on(ctx, line, side, lambda t: t("I'll pick up at the outlet after all."))
        return
    if not meet:
        _leave(ctx)
        ctx.reply(
            ctx.tr("OK: pick up at the outlet, as in the message above."),
            line_options(ctx.tr, line.request_id, side),
            columns=2,
        )
        return
    ctx.goto(FLOW, STEP_PLACE, request=line.request_id)
    ctx.reply(
        ctx.tr(
            "Name a public place in the area where you can meet the peer (a library, a café, "
            "a bus stop), up to {n} characters. It goes to the peer through the line and is "
            "not kept. Don't give your address.",
            n=relay.MAX_CHARS,
        ),
        _dont_send(ctx),
    )


# --- typed text ------------------------------------------------------------------------------


async def on_input(msg: Incoming, ctx: Context) -> None:
    """The one message typed after [Message] (or the meeting place after [Meet nearby])."""
    state = ctx.state
    request_id = state.data.get("request") if state is not None else None
    if state is None or not isinstance(request_id, int) or isinstance(request_id, bool):
        _leave(ctx)
        ctx.reply(ui.no_longer_valid(ctx))
        return
    found = await _line(ctx, request_id)
    if found is None:
        return
    line, side = found
    text = relay.clean(msg.text) if msg.kind is InputKind.TEXT else None
    if text is None:
        # Stay in the step: the next text is still the message.
        ctx.reply(
            ctx.tr("Please type a short text message (up to {n} characters).", n=relay.MAX_CHARS),
            _dont_send(ctx),
        )
        return
    masked = relay.masked(text, gazetteer=ctx.deps.content.gazetteer)
    if state.step == STEP_PLACE and side is Side.PERSON:
        await _pass_on(ctx, line, side, lambda t: t("Let's meet at: {place}", place=masked))
    else:
        await _pass_on(ctx, line, side, lambda t: masked)


ROUTES = ModuleRoutes(
    options={PREFIX: on_option},
    flows={FLOW: on_input, STAFF_FLOW: on_input},
    staff_flows=frozenset({STAFF_FLOW}),
)
