"""The seizure test of issue 14, on both databases: a realistic month, then three adversaries.

The run: a coordinator, peers at two outlets, a person served from a shared location, a
subscriber, a community report naming someone, turned into an alert, an offer that times out
and cascades, a person who sends ``/forget``, a peer removed, a purge after the retention
period; then, the day the server is taken, a peer asking for naloxone for themselves, a person
with an open request, one half-way through a request and a new community report.

Then each adversary tries to name people (platform ids, reply addresses, names, numbers,
street addresses, precise places, the words of a report) and to link a person to a staff role:

- (a) a copy of the data folder (SQLite: the database file and its side files; raw bytes,
  free pages and write-ahead log included) learns nothing of either;
- (b) a full database dump (every row of every table) learns nothing of either;
- (c) the dump plus the key opens the reply addresses of exactly the people the bot is serving
  that day (open requests, a conversation in progress, subscribers, staff), and can link a
  staff member to their own activity only through one that is open; nobody served and gone,
  forgotten or removed, and still no name, number, street address, precise place or report
  wording.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, select

from bot.db.base import Base
from bot.privacy import AddressBox, AddressUnreadable, pseudonym
from bot.services.outbox import run_alert_due
from handlers.due import run_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import Clock, texts

START = datetime(2026, 11, 2, 18, 41, 7, 250_000, tzinfo=UTC)
# Where people stand when they share a location: a doorstep, not a cell centre.
DOORSTEP = (49.28137, -123.09871)
FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_\-]{40,}={0,2}")
CODE = re.compile(r"Your pickup code: ([0-9]{6})")
REFERENCE = re.compile(r"Reference: ([A-Z0-9]{4,12})")
SYRINGES = '1 ml syringe, 29G ½" fixed needle'
# What a report says, word for word: who, where, how to reach them.
REPORT_TEXT = (
    "my friend Dave Smith OD'd at 123 Main St apt 4, phone 604-555-0199, call @davesmith88"
)
IDENTIFYING = ("Dave Smith", "Smith", "123 Main St", "604-555-0199", "6045550199", "davesmith88")
EVERYONE = ("coco", "pat", "quinn", "rae", "ana", "bo", "cy", "dee", "eve", "fay", "gus")


@dataclass
class Month:
    """What the run left for the adversaries to look for."""

    gone_references: list[str]  # requests served, cascaded or forgotten before the purge
    open_references: list[str]


async def _ask_for_syringes(world: World, who: str) -> str:
    chat = world.chat
    await chat.say(who, "/supplies")
    await chat.tap(who, "Kit for injecting and smoking")
    await chat.tap(who, SYRINGES)
    await chat.tap(who, "2")
    await chat.tap(who, "Done: choose where")
    await chat.share_location(who, *DOORSTEP)
    sent = texts(await chat.tap(who, "Send request"))
    match = REFERENCE.search(sent)
    assert match is not None, sent
    return match.group(1)


async def _report(world: World, who: str) -> None:
    chat = world.chat
    await chat.say(who, "/report")
    await chat.say(who, "down")
    await chat.say(who, "strathcona")
    await chat.say(who, REPORT_TEXT)
    await chat.tap(who, "Skip")
    assert "Thank you" in texts(await chat.tap(who, "Send report"))


async def _report_to_alert(world: World) -> None:
    """``coco`` turns the newest report into an alert and sends it."""
    chat = world.chat
    [queue] = await chat.say("coco", "/reports")
    draft = next(o.label for o in queue.options if o.label.startswith("Make draft alert"))
    [preview] = await chat.tap("coco", draft)
    assert "Hidden so no one can be identified" in preview.text
    await chat.tap("coco", "I checked: no one can be identified")
    await chat.tap("coco", "Send now")
    await run_alert_due(world.engine, budget=2.0)


async def _month(world: World) -> Month:
    chat = world.chat
    await world.outlet("alpha")
    await world.outlet("beta", east_km=2.5)
    await world.peer("pat", "alpha")
    await world.peer("quinn", "beta")
    await world.peer("rae", "beta")

    # ana is served at alpha from a shared location.
    served = await _ask_for_syringes(world, "ana")
    assert "You accepted" in texts(await chat.tap("pat", "Accept"))
    code = CODE.search("\n".join(r.text for r in chat.inbox("ana")))
    assert code is not None
    await chat.tap("pat", "Handed over")
    assert "Handed over" in texts(await chat.say("pat", code.group(1)))

    # bo follows alerts for Strathcona; cy reports; the report becomes an alert.
    await chat.say("bo", "/alerts")
    await chat.tap("bo", "Add an area")
    await chat.tap("bo", "Strathcona")
    await _report(world, "cy")
    await _report_to_alert(world)
    assert any("down" in r.text for r in chat.inbox("bo"))

    # dee's offer times out at alpha and cascades to beta; dee then forgets everything.
    world.clock.advance(hours=2)
    cascaded = await _ask_for_syringes(world, "dee")
    world.clock.advance(minutes=16)
    await run_due(world.engine)
    assert cascaded in chat.last("rae").text
    await chat.say("dee", "/forget")
    await chat.tap("dee", "Delete everything")

    await _remove_peer(world, "quinn")

    # The retention period passes; the tick purges.
    world.clock.advance(days=31)
    await run_due(world.engine)

    # The day of the seizure: shifts begin again.
    for peer in ("pat", "rae"):
        assert "on shift" in texts(await chat.say(peer, "/shift on"))
    pat_own = await _naloxone(world, "pat")
    eve_open = await _ask_for_syringes(world, "eve")
    await chat.say("fay", "/supplies")
    await chat.tap("fay", "Kit for injecting and smoking")
    await chat.tap("fay", SYRINGES)
    await chat.tap("fay", "1")
    await chat.tap("fay", "Done: choose where")
    await chat.share_location("fay", *DOORSTEP)  # and stops there
    await _report(world, "gus")
    await run_due(world.engine)
    return Month(gone_references=[served, cascaded], open_references=[pat_own, eve_open])


async def _naloxone(world: World, who: str) -> str:
    chat = world.chat
    await chat.say(who, "/naloxone")
    await chat.tap(who, "Nasal spray")
    await chat.say(who, "Strathcona")
    sent = texts(await chat.tap(who, "Send request"))
    match = REFERENCE.search(sent)
    assert match is not None, sent
    return match.group(1)


async def _remove_peer(world: World, who: str) -> None:
    """``coco`` removes the peer ``who`` from the team (their phone was lost)."""
    chat = world.chat
    [handle] = re.findall(r"Peer #\d+ · Beta table", texts(await chat.say(who, "/team")))
    await chat.say("coco", "/team")
    await chat.tap("coco", f"Remove {handle}")
    assert texts(await chat.tap("coco", "Yes, remove")).startswith(f"Removed {handle}.")
    assert texts(await chat.say(who, "/shift on")) == "This command is for peer workers."


# The adversaries ---------------------------------------------------------------------------


async def _dump(sessions: Sessions) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as a database dump holds them."""
    dump: dict[str, list[dict[str, Any]]] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).mappings().all()
            dump[table.name] = [dict(row) for row in rows]
    return dump


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def _blob(dump: dict[str, list[dict[str, Any]]]) -> bytes:
    return b"\n".join(_as_bytes(v) for rows in dump.values() for row in rows for v in row.values())


def _named(blob: bytes) -> set[str]:
    """What in ``blob`` names someone: platform ids, reply addresses, a report's words."""
    found = {who for who in EVERYONE if f"id-{who}".encode() in blob}
    found |= {who for who in EVERYONE if f"telegram-{who}".encode() in blob}
    found |= {word for word in IDENTIFYING if word.encode() in blob}
    return found


def _near_doorstep(dump: dict[str, list[dict[str, Any]]]) -> list[tuple[str, float]]:
    """Numbers within 500 m of the doorstep anywhere but the outlets' public positions and
    the grid's cell centres (the coarse place a request keeps)."""
    near: list[tuple[str, float]] = []

    def numbers(value: object) -> list[float]:
        if isinstance(value, float):
            return [value]
        if isinstance(value, dict):
            return [n for v in value.values() for n in numbers(v)]
        if isinstance(value, list):
            return [n for v in value for n in numbers(v)]
        return []

    for table, rows in dump.items():
        if table == "outlets":
            continue
        for row in rows:
            for value in row.values():
                for number in numbers(value):
                    for precise in DOORSTEP:
                        centre = round((number - 0.01) / 0.02) * 0.02 + 0.01
                        close = abs(number - precise) < 0.005
                        if close and abs(number - centre) > 1e-9:
                            near.append((table, number))
    return near


def _contacts_of(dump: dict[str, list[dict[str, Any]]], *tables: str) -> set[int]:
    return {row["contact_id"] for table in tables for row in dump[table]}


def _opened(dump: dict[str, list[dict[str, Any]]], box: AddressBox) -> dict[int, str]:
    opened: dict[int, str] = {}
    for row in dump["contacts"]:
        if row["reply_address"] is None:
            continue
        try:
            opened[row["id"]] = box.open(row["reply_address"])
        except AddressUnreadable:
            continue
    return opened


async def test_a_seized_month_names_no_one(sessions: Sessions, db_url: str) -> None:
    world = await make_world(sessions, clock=Clock(START))
    month = await _month(world)
    dump = await _dump(sessions)
    blob = _blob(dump)

    # (b) a dump: no one named, no precise place, no request of the past in any form...
    assert _named(blob) == set()
    assert _near_doorstep(dump) == []
    assert [ref for ref in month.gone_references if ref.encode() in blob] == []
    # ... and no row ties anyone's own activity to a staff role.
    staff_tables = ("peer_workers", "coordinators")
    staff = _contacts_of(dump, *staff_tables)
    # Every other table that points at a contact holds that contact's own activity (a flow in
    # progress may belong to either side, so conversation states are looked at below).
    personal = _contacts_of(
        dump,
        *(
            table.name
            for table in Base.metadata.sorted_tables
            if "contact_id" in table.c and table.name not in (*staff_tables, "conversation_states")
        ),
    )
    assert {"requests", "subscriptions", "deliveries", "pending_messages"} <= {
        table.name for table in Base.metadata.sorted_tables if "contact_id" in table.c
    }
    assert len(staff) == 3  # coco, pat, rae: quinn was removed
    assert personal.isdisjoint(staff)
    assert _contacts_of(dump, "conversation_states") - staff  # fay, half-way through

    # pat's own request was offered to beta (rae), never to pat's outlet.
    [own] = [r for r in dump["requests"] if r["reference"] == month.open_references[0]]
    offered = {o["outlet_id"] for o in dump["offers"] if o["request_id"] == own["id"]}
    assert offered == {world.outlets["beta"]}

    # (a) the data folder, byte for byte (SQLite; PostgreSQL keeps none of it there).
    database = make_url(db_url).database
    if make_url(db_url).get_backend_name() == "sqlite" and database:
        raw = b"".join(
            path.read_bytes()
            for path in Path(database).parent.iterdir()
            if path.name.startswith(Path(database).name)
        )
        assert raw
        assert _named(raw) == set()
        assert [ref for ref in month.gone_references if ref.encode() in raw] == []
        # With the key too (a seized disk), the file's free pages and write-ahead log give
        # back no address the dump does not: nothing of the forgotten, purged or removed.
        leftovers = set()
        for token in set(FERNET_TOKEN.findall(raw)):
            with contextlib.suppress(AddressUnreadable):
                leftovers.add(world.engine.box.open(token))
        addresses = {opened for opened in leftovers if opened.startswith("telegram-")}
        assert addresses == set(_opened(dump, world.engine.box).values())

    # (c) the dump and the key: the addresses of those served today, and no one else.
    opened = _opened(dump, world.engine.box)
    assert sorted(opened.values()) == sorted(
        f"telegram-{who}" for who in ("coco", "pat", "pat", "rae", "bo", "eve", "fay")
    )
    # Someone's own activity and their role share an address only while it is open: pat's
    # own request today.
    by_address: dict[str, set[int]] = {}
    for contact_id, address in opened.items():
        by_address.setdefault(address, set()).add(contact_id)
    linked = {a for a, ids in by_address.items() if ids & staff and ids & personal}
    assert linked == {"telegram-pat"}
    # The key confirms a guessed platform id only for contacts still kept: not those served
    # and gone, forgotten or removed.
    kept = {row["pseudonym"] for row in dump["contacts"]}
    key = world.engine.deps.keys.pseudonym
    confirmed = {who for who in EVERYONE if pseudonym(key, "telegram", f"id-{who}") in kept}
    assert confirmed.isdisjoint({"ana", "cy", "dee", "quinn"})
    assert _named(blob) == set()  # the key opens addresses, not words that were never kept
