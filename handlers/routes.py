"""The route table: every conversation module, listed explicitly, merged into one ``Routes``.

Each module declares its own commands, option prefixes and flows in a ``ROUTES`` value; a
prefix or command claimed twice is a start-up error, not a silent override.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType

from bot.core.routes import Handler, MenuCommand, Routes


@dataclass(frozen=True)
class ModuleRoutes:
    """What one handler module answers."""

    commands: Mapping[str, Handler] = field(default_factory=dict)
    options: Mapping[str, Handler] = field(default_factory=dict)
    flows: Mapping[str, Handler] = field(default_factory=dict)
    menu: tuple[MenuCommand, ...] = ()


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
    menu: list[MenuCommand] = []
    for part in parts:
        for table, entries in (
            (commands, part.commands),
            (options, part.options),
            (flows, part.flows),
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
        coordinator,
        forget,
        info,
        language,
        naloxone,
        peer,
        referral,
        start,
        status,
        supplies,
    )

    modules = (
        start,
        supplies,
        naloxone,
        referral,
        status,
        info,
        language,
        forget,
        peer,
        coordinator,
    )
    return merge(
        tuple(module_routes(m) for m in modules),
        fallback=start.fallback,
        unknown_command=start.unknown_command,
        unsupported=start.unsupported,
    )
