"""The route table: every conversation module, listed explicitly, merged into one ``Routes``.

Each module declares its own commands, option prefixes and flows in a ``ROUTES`` value; a
prefix or command claimed twice is a start-up error, not a silent override.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType

from bot.core.context import Context
from bot.core.messages import Incoming
from bot.core.routes import Handler, MenuCommand, Routes


@dataclass(frozen=True)
class ModuleRoutes:
    """What one handler module answers."""

    commands: Mapping[str, Handler] = field(default_factory=dict)
    options: Mapping[str, Handler] = field(default_factory=dict)
    flows: Mapping[str, Handler] = field(default_factory=dict)
    menu: tuple[MenuCommand, ...] = ()
    # Which of ``flows`` are staff work (state kept on the staff contact, see Person).
    staff_flows: frozenset[str] = frozenset()
    # Per flow: input no step can use (a sticker...) is answered by asking the step again.
    unusable: Mapping[str, Handler] = field(default_factory=dict)


def merge(
    parts: tuple[ModuleRoutes, ...],
    *,
    fallback: Handler,
    unknown_command: Handler,
    unsupported: Handler,
) -> Routes:
    """Merge module route tables, refusing any name claimed twice."""
    commands: dict[str, Handler] = {}
    options: dict[str, Handler] = {}
    flows: dict[str, Handler] = {}
    unusable: dict[str, Handler] = {}
    menu: list[MenuCommand] = []
    staff_flows: set[str] = set()
    for part in parts:
        staff_flows.update(part.staff_flows)
        for table, entries in (
            (commands, part.commands),
            (options, part.options),
            (flows, part.flows),
            (unusable, part.unusable),
        ):
            for name, handler in entries.items():
                if name in table:
                    raise ValueError(f"route {name!r} claimed twice")
                table[name] = handler
        menu.extend(part.menu)
    return Routes(
        commands=commands,
        options=options,
        flows=flows,
        fallback=fallback,
        unknown_command=unknown_command,
        unsupported=unsupported,
        menu=tuple(menu),
        staff_flows=frozenset(staff_flows),
        unusable=unusable,
    )


def module_routes(module: ModuleType) -> ModuleRoutes:
    """The ``ROUTES`` a handler module declares."""
    routes = getattr(module, "ROUTES", None)
    if not isinstance(routes, ModuleRoutes):
        raise TypeError(f"{module.__name__} has no ROUTES")
    return routes


def build_routes() -> Routes:
    """The bot's whole route table."""
    from handlers import (
        alerts,
        broadcast,
        broadcast_languages,
        closures,
        console,
        consult,
        coordinator,
        feedback,
        forget,
        gave,
        info,
        language,
        naloxone,
        peer,
        referral,
        relay,
        report,
        reversals,
        start,
        status,
        supplies,
        survey,
        team,
        waiting,
    )

    modules = (
        start,
        supplies,
        naloxone,
        reversals,
        referral,
        status,
        info,
        language,
        forget,
        alerts,
        peer,
        gave,
        closures,
        coordinator,
        team,
        console,
        broadcast,
        broadcast_languages,
        report,
        relay,
        waiting,
        feedback,
        survey,
        consult,
    )
    routes = merge(
        tuple(module_routes(m) for m in modules),
        fallback=start.fallback,
        unknown_command=start.unknown_command,
        unsupported=start.unsupported,
    )
    # STOP typed in the middle of any conversation stops alerts; a coordinator composing an
    # alert (in any language) is typing its content, so there it stays text; in a
    # consultation it stops answering (handlers.survey).
    composing = (broadcast.FLOW, broadcast_languages.FLOW, survey.FLOW)
    flows = {
        name: handler if name in composing else stop_first(handler, alerts.is_stop, alerts.stop)
        for name, handler in routes.flows.items()
    }
    return replace(routes, flows=flows)


def stop_first(
    handler: Handler,
    is_stop: Callable[[Incoming], bool],
    stop: Callable[[Context], Awaitable[None]],
) -> Handler:
    """``handler``, except that a plain STOP goes to ``stop`` first."""

    async def flow(msg: Incoming, ctx: Context) -> None:
        if is_stop(msg):
            await stop(ctx)
        else:
            await handler(msg, ctx)

    return flow
