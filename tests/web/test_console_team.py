"""*Team* over real HTTP: handles by outlet and never people, an invite's code shown once and
usable in chat, revoking invites, removing a member with exactly chat's consequences (their
console session ends at once), a peer refused, forged CSRF and bad input refused, Dari."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, insert, select

from bot.db.models import ConsoleSession, Contact, Coordinator, Invite, PeerWorker
from bot.domain import Channel
from bot.services import team
from tests.handlers.peer_world import Sessions, World
from tests.support.chat import texts
from tests.support.console import ConsoleWorld, console_world, csrf_of

PEER = re.compile(r'id="member-p-(\d+)"')
NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


async def _alpha_and_beta(world: World) -> None:
    """Coordinators coco and cora; pat at alpha (nearer), sam at beta; both on shift."""
    await world.coordinator("cora")
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=3)
    await world.peer("pat", "alpha")
    await world.peer("sam", "beta")


async def _count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _signed_in(cw: ConsoleWorld, browser: httpx.AsyncClient, who: str = "coco") -> str:
    """Sign ``who`` in; the CSRF token of the Team page."""
    await cw.sign_in(browser, who)
    page = await browser.get("/console/team")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def _open_invites(sessions: Sessions) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(Invite).where(Invite.used_at.is_(None))
        )
        return int(found or 0)


def _section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</section>", start)]


async def test_the_team_shows_handles_by_outlet_and_no_people(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await _alpha_and_beta(world)
        await world.chat.say("sam", "/shift off")
        world.clock.advance(days=2)
        await world.chat.say("pat", "/shift on")  # pat writes today; cora and sam do not
        await _signed_in(cw, browser)
        html = (await browser.get("/console/team")).text
        members = _section(html, "members")
        order = [
            "<h2>Coordinators</h2>",
            "Coordinator #1 · you",
            "Coordinator #2",
            "<h2>Alpha table</h2>",
            "Peer #1 · Alpha table",
            "<h2>Beta table</h2>",
            "Peer #2 · Beta table",
        ]
        places = [members.index(text) for text in order]
        assert places == sorted(places)
        two_days_ago = (world.clock.now - timedelta(days=2)).strftime("%Y-%m-%d")
        row = _section(members.replace("</tr>", "</section>"), "member-c-2")
        assert two_days_ago in row
        assert "today" not in row
        pat = _section(members.replace("</tr>", "</section>"), "member-p-1")
        assert "on shift" in pat
        assert "today" in pat
        sam = _section(members.replace("</tr>", "</section>"), "member-p-2")
        assert "off shift" in sam
        assert two_days_ago in sam
        assert not re.search(r"\d{1,2}:\d{2}", members)  # a day, never a time
        for person in ("coco", "cora", "pat", "sam"):
            assert not re.search(rf"\b{person}\b", html)
            assert f"id-{person}" not in html
            assert f"telegram-{person}" not in html


async def test_an_invite_code_is_shown_once_and_works_in_chat(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await world.coordinator("cora")
        alpha = await world.outlet("alpha")
        csrf = await _signed_in(cw, browser)

        made = await browser.post(
            "/console/team/invite", data={"csrf": csrf, "role": "peer", "outlet": str(alpha)}
        )
        assert made.status_code == 200
        assert "location" not in made.headers
        found = re.search(r'id="invite-code">([^<]+)<', made.text)
        assert found is not None
        code = found.group(1)
        assert f"/join {code}" in made.text
        until = (world.clock.now + world.engine.deps.config.invite_ttl).strftime("%Y-%m-%d %H:%M")
        assert f"valid until {until} UTC" in made.text
        assert "Alpha table" in made.text
        listed = (await browser.get("/console/team")).text
        assert code not in listed  # once only: the list shows the invite, not its code
        assert "peer at Alpha table" in _section(listed, "open-invites")

        assert "peer worker" in texts(await world.chat.say("newbie", f"/join {code}"))
        after = (await browser.get("/console/team")).text
        assert "Peer #1 · Alpha table" in _section(after, "members")
        assert "No open invites." in after

        # A coordinator invite is asked first, capped at one open, and every coordinator hears.
        made_so_far = await _count(sessions, Invite)
        asked = await browser.post(
            "/console/team/invite", data={"csrf": csrf, "role": "coordinator"}
        )
        assert asked.status_code == 200
        assert 'id="confirm-form"' in asked.text
        assert await _count(sessions, Invite) == made_so_far  # asking made nothing
        cora_before = len(world.chat.inbox("cora"))
        sure = {"csrf": csrf, "role": "coordinator", "sure": "yes"}
        made = await browser.post("/console/team/invite", data=sure)
        assert made.status_code == 200
        found = re.search(r'id="invite-code">([^<]+)<', made.text)
        assert found is not None
        assert "Invite for a coordinator." in made.text
        told = world.chat.inbox("cora")[cora_before:]
        assert [r.text.split(",")[0] for r in told] == ["Coordinator #1 made a coordinator invite"]
        again = await browser.post("/console/team/invite", data=sure)
        assert again.status_code == 409
        assert "already open" in again.text
        assert "coordinator" in texts(await world.chat.say("newcoord", f"/join {found.group(1)}"))
        assert await _count(sessions, Coordinator) == 3

        # Bad input: a clear answer, nothing made.
        invites_before = await _count(sessions, Invite)
        for data in (
            {"role": "peer", "outlet": "9999"},
            {"role": "peer", "outlet": "x"},
            {"role": "peer"},
            {"role": "admin"},
        ):
            bad = await browser.post("/console/team/invite", data={"csrf": csrf, **data})
            assert bad.status_code in (400, 422)
            assert 'id="team-error"' in bad.text
            assert "invite-code" not in bad.text
        assert await _count(sessions, Invite) == invites_before


async def test_invites_are_revoked_one_or_all_after_asking(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await world.outlet("alpha")
        first = await world.invite_code("coco", "alpha")
        second = await world.invite_code("coco", "alpha")
        third = await world.invite_code("coco", "alpha")
        csrf = await _signed_in(cw, browser)
        rows = re.findall(r'id="invite-(\d+)"', (await browser.get("/console/team")).text)
        assert len(rows) == 3

        one = await browser.post("/console/team/revoke", data={"csrf": csrf, "invite": rows[0]})
        assert one.status_code == 303
        assert one.headers["location"] == "/console/team?done=revoked"
        shown = (await browser.get(one.headers["location"])).text
        assert "Revoked." in shown
        assert f'id="invite-{rows[0]}"' not in shown
        assert "not valid" in texts(await world.chat.say("newbie", f"/join {first}"))
        gone = await browser.post("/console/team/revoke", data={"csrf": csrf, "invite": rows[0]})
        assert gone.status_code == 404
        assert "No such open invite" in gone.text
        bad = await browser.post("/console/team/revoke", data={"csrf": csrf, "invite": "x"})
        assert bad.status_code == 400

        asked = await browser.post("/console/team/revoke", data={"csrf": csrf, "invite": "all"})
        assert asked.status_code == 200
        assert 'id="confirm-form"' in asked.text
        assert await _open_invites(sessions) == 2  # asking changed nothing
        done = await browser.post(
            "/console/team/revoke", data={"csrf": csrf, "invite": "all", "sure": "yes"}
        )
        assert done.status_code == 303
        assert await _open_invites(sessions) == 0
        for code in (second, third):
            assert "not valid" in texts(await world.chat.say("newbie", f"/join {code}"))


async def test_removing_a_peer_does_what_chat_does_and_ends_their_session(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser, cw.client() as pats:
        world = cw.world
        await _alpha_and_beta(world)
        held = await world.request("ana")
        assert held.outlet_id == world.outlets["alpha"]
        await world.chat.tap("pat", "Accept")
        await cw.sign_in(pats, "pat")
        assert (await pats.get("/console/")).status_code == 200
        csrf = await _signed_in(cw, browser)
        (peer_id,) = PEER.findall(
            (await browser.get("/console/team")).text.split('id="member-p-2"')[0]
        )
        sam_before = len(world.chat.inbox("sam"))

        form = {"csrf": csrf, "role": "p", "member": peer_id}
        asked = await browser.post("/console/team/remove", data=form)
        assert asked.status_code == 200
        assert f"Remove Peer #{peer_id} · Alpha table? At once:" in asked.text
        assert (await pats.get("/console/")).status_code == 200  # asking changed nothing

        done = await browser.post("/console/team/remove", data={**form, "sure": "yes"})
        assert done.status_code == 303
        assert done.headers["location"] == "/console/team?done=removed"
        # Pat's console is shut at once, in every browser.
        refused = await pats.get("/console/")
        assert refused.status_code == 403
        assert "session has ended" in refused.text
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(ConsoleSession)) == 1
            assert (
                await session.scalar(select(PeerWorker.id).where(PeerWorker.id == int(peer_id)))
                is None
            )
        # The person whose pickup pat held is told; the request goes on to beta.
        assert "can't happen at Alpha table after all" in world.chat.last("ana").text
        offered = world.chat.inbox("sam")[sam_before:]
        assert [r.text.splitlines()[0] for r in offered] == ["New pickup request"]
        assert held.reference is not None
        assert held.reference in offered[0].text
        # The other coordinator hears who removed whom, by handle; the remover is not told twice.
        assert world.chat.last("cora").text == (
            f"Coordinator #1 removed Peer #{peer_id} · Alpha table. Pickups released: 1. "
            "Offers moved on: 0."
        )
        assert "removed Peer" not in world.chat.last("coco").text
        page = (await browser.get(done.headers["location"])).text
        assert "Removed." in page
        assert f'id="member-p-{peer_id}"' not in page

        again = await browser.post("/console/team/remove", data={**form, "sure": "yes"})
        assert again.status_code == 404
        assert "Already removed" in again.text


async def test_removal_in_chat_or_by_lost_ends_console_sessions(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as pats, cw.client() as coras:
        world = cw.world
        await _alpha_and_beta(world)
        await cw.sign_in(pats, "pat")
        await cw.sign_in(coras, "cora")
        assert await _count(sessions, ConsoleSession) == 2
        await world.chat.say("pat", "/lost")
        await world.chat.tap("pat", "Yes, remove my roles")
        assert await _count(sessions, ConsoleSession) == 1
        await world.chat.say("coco", "/team")
        await world.chat.tap("coco", "Remove Coordinator #2")
        await world.chat.tap("coco", "Yes, remove")
        assert await _count(sessions, ConsoleSession) == 0
        assert (await coras.get("/console/")).status_code == 403


async def test_coordinators_follow_chats_rules_and_a_peer_is_refused(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser, cw.client() as pats:
        world = cw.world
        await world.outlet("alpha")
        await world.peer("pat", "alpha")
        csrf = await _signed_in(cw, browser)

        # The only coordinator cannot remove themselves.
        last = await browser.post(
            "/console/team/remove", data={"csrf": csrf, "role": "c", "member": "1", "sure": "yes"}
        )
        assert last.status_code == 409
        assert "only coordinator" in last.text
        assert await _count(sessions, Coordinator) == 1

        # A peer does not see the page and cannot use it.
        await world.invite_code("coco", "alpha")
        await cw.sign_in(pats, "pat")
        home = await pats.get("/console/")
        assert "/console/team" not in home.text
        assert (await pats.get("/console/team")).status_code == 403
        pat_csrf = csrf_of(home.text)
        for path, data in (
            ("/console/team/remove", {"role": "c", "member": "1", "sure": "yes"}),
            ("/console/team/invite", {"role": "coordinator", "sure": "yes"}),
            ("/console/team/revoke", {"invite": "all", "sure": "yes"}),
        ):
            refused = await pats.post(path, data={"csrf": pat_csrf, **data})
            assert refused.status_code == 403
        assert await _count(sessions, Coordinator) == 1
        assert await _open_invites(sessions) == 1  # not revoked, no coordinator invite made

        # With another coordinator, removing oneself is allowed (asked as chat asks).
        await world.coordinator("cora")
        asked = await browser.post(
            "/console/team/remove", data={"csrf": csrf, "role": "c", "member": "1"}
        )
        assert "This is you." in asked.text
        assert "Yes, remove me" in asked.text
        done = await browser.post(
            "/console/team/remove", data={"csrf": csrf, "role": "c", "member": "1", "sure": "yes"}
        )
        assert done.status_code == 303
        assert (await browser.get("/console/team")).status_code == 403
        assert world.chat.last("cora").text.startswith("Coordinator #1 removed Coordinator #1.")


async def test_forged_csrf_and_bad_input_change_nothing(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await world.outlet("alpha")
        await world.peer("pat", "alpha")
        csrf = await _signed_in(cw, browser)
        forged = await browser.post(
            "/console/team/remove",
            data={"csrf": "0" * 64, "role": "p", "member": "1", "sure": "yes"},
        )
        assert forged.status_code == 403
        for data in (
            {"role": "x", "member": "1"},
            {"role": "p", "member": "one"},
            {"role": "p"},
            {"role": "p", "member": "9999", "sure": "yes"},
        ):
            bad = await browser.post("/console/team/remove", data={"csrf": csrf, **data})
            assert bad.status_code in (400, 404)
            assert 'id="team-error"' in bad.text
        assert await _count(sessions, PeerWorker) == 1


async def test_the_team_in_dari_is_right_to_left(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.world.outlet("alpha")
        csrf = await _signed_in(cw, browser)
        changed = await browser.post(
            "/console/language", data={"csrf": csrf, "locale": "fa_AF", "back": "/console/team"}
        )
        assert changed.status_code == 303
        page = (await browser.get("/console/team")).text
        assert '<html lang="fa-AF" dir="rtl">' in page
        assert "دعوت" in page  # "Invite"
        assert "<h1>تیم</h1>" in page  # "Team"


async def test_peers_come_fifty_to_a_page_and_by_outlet(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await _alpha_and_beta(world)
        async with world.sessions.begin() as session:
            contacts = await session.scalars(
                insert(Contact).returning(Contact.id),
                [
                    {"pseudonym": f"many-{n}", "channel": Channel.TELEGRAM, "created_at": NOW}
                    for n in range(team.PAGE_SIZE + 4)
                ],
            )
            await session.execute(
                insert(PeerWorker),
                [
                    {"contact_id": c, "outlet_id": world.outlets["alpha"], "created_at": NOW}
                    for c in contacts
                ],
            )
        await _signed_in(cw, browser)
        first = (await browser.get("/console/team")).text
        # Alpha's 1 + 54 peers, then beta's 1: 50 on the first page, 6 on the second.
        assert "Peers: 56." in first
        assert len(PEER.findall(first)) == team.PAGE_SIZE
        assert "Page 1 of 2" in first
        assert 'id="page-prev"' not in first
        assert 'href="/console/team?outlet=&amp;page=2"' in first
        second = (await browser.get("/console/team?page=2")).text
        assert len(PEER.findall(second)) == 6
        assert not set(PEER.findall(first)) & set(PEER.findall(second))
        assert "Beta table" in second
        assert 'id="page-next"' not in second
        # Coordinators are few: on every page.
        assert second.count('id="member-c-') == first.count('id="member-c-') == 2
        beta = (await browser.get(f"/console/team?outlet={world.outlets['beta']}")).text
        assert len(PEER.findall(beta)) == 1
        assert "Peers: 1." in beta
        assert 'id="pager"' not in beta
        # Nonsense is the whole list, first page.
        assert PEER.findall((await browser.get("/console/team?outlet=x&page=-1")).text) == (
            PEER.findall(first)
        )
