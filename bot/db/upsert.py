"""Insert-or-replace statements keyed by one column, built once per dialect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Executable, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase


def upserts(
    model: type[DeclarativeBase], key: str, values: Sequence[str]
) -> Mapping[str, Executable]:
    """Per dialect name, ``INSERT … ON CONFLICT (key) DO UPDATE SET`` ``values``, every column
    bound by its name: execute ``upserts(...)[dialect]`` with a dict of them.

    Built once at import: on a hot path building the statement cost more CPU than running it.
    On the table, not the mapped class: no ORM bulk-insert machinery for one plain row.
    """
    table = model.__table__
    assert isinstance(table, Table)
    built: dict[str, Executable] = {}
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert)):
        statement = insert(table).values({c: bindparam(c) for c in (key, *values)})
        built[name] = statement.on_conflict_do_update(
            index_elements=[key], set_={c: statement.excluded[c] for c in values}
        )
    return built
