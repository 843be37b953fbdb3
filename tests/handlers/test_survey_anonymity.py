"""Nobody's consultation answers can be linked to them: every table and column is searched.

zed answers with a free text nobody else writes and a combination of choices nobody else
makes (Gastown, Night, Test strips only, 1 on the scale). Afterwards the whole database is
dumped: the text is in ``consultation_texts`` alone, under an id found nowhere else; the only
rows naming zed (contact id, pseudonym, sealed address) are zed's contact, subscription and
participant row, and none of those tables holds an answer, a choice, an area said in the
consultation or a time; the answer tables refer to no contact and hold no time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, MetaData, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Contact
from tests.handlers.peer_world import Sessions, World, make_world
from tests.handlers.test_survey import answer_all, consultation, subscribe

UNIQUE = "zebra quartz lantern near the bridge"


async def dump(session: AsyncSession) -> dict[str, tuple[Table, list[dict[str, Any]]]]:
    """Every table, reflected from the database itself, with every row."""
    connection = await session.connection()
    metadata = MetaData()
    await connection.run_sync(metadata.reflect)
    found: dict[str, tuple[Table, list[dict[str, Any]]]] = {}
    for table in metadata.sorted_tables:
        rows = [dict(row._mapping) for row in (await session.execute(select(table))).all()]
        found[table.name] = (table, rows)
    return found


def refers_to_contacts(table: Table, column: str) -> bool:
    return any(fk.column.table.name == "contacts" for fk in table.c[column].foreign_keys)


async def zed_answers(world: World) -> None:
    await world.chat.say("zed", "/survey")
    await world.chat.tap("zed", "Opening hours")
    await world.chat.tap("zed", "Gastown")
    await world.chat.tap("zed", "Night")
    await world.chat.tap("zed", "Test strips")
    await world.chat.tap("zed", "Done")
    await world.chat.tap("zed", "1")
    thanks = await world.chat.say("zed", UNIQUE)
    assert "Thank you!" in thanks[0].text


async def test_no_row_links_a_person_to_an_answer(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await consultation(world)
    for who in ("ana", "bo", "cy", "di", "eve", "fay"):
        await subscribe(world, who)
        await answer_all(world, who)
    zed = await subscribe(world, "zed")
    await zed_answers(world)

    async with world.sessions() as session:
        contact = await session.get(Contact, zed)
        assert contact is not None
        secrets_of_zed = [contact.pseudonym, contact.reply_address]
        tables = await dump(session)

    # Where zed is named: by a contacts foreign key holding zed's id, or the pseudonym or
    # sealed address anywhere.
    naming: dict[str, list[dict[str, Any]]] = {}
    for name, (table, rows) in tables.items():
        for row in rows:
            by_key = any(
                (refers_to_contacts(table, col) or (name == "contacts" and col == "id"))
                and value == zed
                for col, value in row.items()
            )
            by_value = any(
                value is not None and any(value == s for s in secrets_of_zed)
                for value in row.values()
            )
            if by_key or by_value:
                naming.setdefault(name, []).append(row)
    assert set(naming) == {"contacts", "subscriptions", "consultation_participants"}, naming
    assert set(tables["consultation_participants"][0].c.keys()) == {
        "consultation_id",
        "contact_id",
    }
    # None of the rows naming zed holds an answer, a time finer than the hour, or Gastown
    # (zed's subscription is for the DTES; Gastown was said only in the consultation).
    for name, rows in naming.items():
        for row in rows:
            for value in row.values():
                assert value != "gastown", name
                assert not (isinstance(value, str) and UNIQUE[:10] in value), name

    # Where the answers are: the text in one table only, under an id found nowhere else.
    holding_text = {
        name
        for name, (_, rows) in tables.items()
        for row in rows
        for value in row.values()
        if isinstance(value, str | bytes) and UNIQUE[:10] in str(value)
    }
    assert holding_text == {"consultation_texts"}
    [text_row] = [r for r in tables["consultation_texts"][1] if UNIQUE[:10] in r["text"]]
    elsewhere = [
        name
        for name, (_, rows) in tables.items()
        if name != "consultation_texts"
        for row in rows
        if any(str(value) == text_row["id"] for value in row.values())
    ]
    assert elsewhere == []
    # zed's unique combination is in the counters, which say nothing of who.
    counts = {
        (r["question"], r["value"], r["area_code"]): r["count"]
        for r in tables["consultation_counts"][1]
    }
    assert counts[(1, "3", "gastown")] == 1
    assert counts[(0, "done", "gastown")] == 1
    for name in ("consultation_counts", "consultation_texts"):
        table = tables[name][0]
        assert not any(refers_to_contacts(table, col.name) for col in table.c), name
        assert not any(isinstance(col.type, DateTime) for col in table.c), name
    # And nothing of zed's answers waits in a conversation or a queue.
    assert not [r for r in tables["conversation_states"][1] if r["contact_id"] == zed]
    assert not [r for r in tables["pending_messages"][1] if r["contact_id"] == zed]
