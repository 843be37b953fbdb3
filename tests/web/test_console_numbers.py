"""The console's Numbers page and CSV over real HTTP: charts and tables of the aggregates,
small counts only as "<5", Dari right to left, coordinators only, bad periods refused."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import counts, rollup
from bot.services.counts import Key
from tests.support.console import ConsoleWorld, console_world, csrf_of

Sessions = async_sessionmaker[AsyncSession]
W47 = date(2026, 11, 16)  # Monday of 2026-W47; the clock is Wednesday 25 Nov 2026 (W48)
EVIL = '=HYPERLINK("http://evil.example")'
_CELL = re.compile(r'<td class="num">([^<]*)</td>')


async def _counted(cw: ConsoleWorld) -> tuple[int, int]:
    """Counters as the services write them: some big, some small (1 to 4)."""
    world = cw.world
    alpha = await world.outlet("alpha")
    evil = await world.outlet("evil", name=EVIL)
    await world.peer("pia", "alpha")
    async with world.sessions.begin() as session:
        area = "strathcona"
        for key, n in (
            (Key(W47, "requests.made", area_code=area, kind="equipment"), 37),  # 35
            (Key(W47, "requests.made", area_code=area, kind="naloxone"), 3),  # <5
            (Key(W47, "requests.handed_over", area_code=area, kind="equipment"), 23),  # 25
            (Key(W47, "requests.unrouted", area_code=area, kind="equipment"), 3),  # <5
            (Key(W47, "outlet.offered", outlet_id=alpha, kind="equipment"), 12),  # 10
            (Key(W47, "outlet.handed_over", outlet_id=alpha, kind="equipment"), 3),  # <5
            (Key(W47, "outlet.offered", outlet_id=evil, kind="equipment"), 6),  # 5
            (Key(W47, "accept.minutes", kind="equipment", bucket=7), 6),
        ):
            counts.add(session, key, n)
    return alpha, evil


def _cells(html: str, table: str) -> list[str]:
    found = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S)
    assert found is not None, table
    return _CELL.findall(found.group(1))


def _published(value: str) -> bool:
    return value == "&lt;5" or (value.isdigit() and int(value) % 5 == 0)


async def test_numbers_page_in_english_shows_charts_tables_and_hides_small_counts(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        alpha, _ = await _counted(cw)
        await cw.sign_in(browser, "coco")
        page = await browser.get("/console/numbers")
        assert page.status_code == 200
        html = page.text
        assert '<html lang="en" dir="ltr">' in html
        assert 'href="/console/numbers" aria-current="page"' in html
        for ident in ("chart-requests", "chart-outcomes", "chart-accept", "chart-kits"):
            assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in html
            assert f'id="{ident}-title"' in html
        assert 'direction="ltr"' in html
        # The default period: 12 weeks, the last one running.
        assert html.count('<tr><th scope="row">2026-W') >= 12 * 4
        assert 'id="period-12" href="/console/numbers?weeks=12" aria-current="page"' in html
        # A chart column's tooltip and the table say "<5", never the count.
        assert "2026-W47: Equipment: 35; Naloxone: &lt;5; Referral: 0" in html
        row = re.search(r"<th scope=\"row\">2026-W47</th>(.*?)</tr>", html)
        assert row is not None
        assert _CELL.findall(row.group(1)) == ["35", "&lt;5", "0", "40"]
        for table in (
            "table-requests",
            "table-outcomes",
            "table-kits",
            "table-areas",
            "table-outlets",
        ):
            assert all(_published(v) for v in _cells(html, table)), table
        outlet = re.search(rf'<tr id="outlet-{alpha}">(.*?)</tr>', html)
        assert outlet is not None
        assert _CELL.findall(outlet.group(1)) == ["10", "0", "0", "0", "&lt;5", "0"]
        assert "Strathcona" in html
        assert "&lt;5" in _cells(html, "table-areas")  # unrouted 3
        # Median minutes show with 5 or more acceptances (6 here).
        w47 = re.search(r'<table id="table-accept">.*?2026-W47</th>(.*?)</tr>', html, re.S)
        assert w47 is not None
        assert _CELL.findall(w47.group(1)) == ["5", "7", "7"]
        # The outlet's name is text, never markup.
        assert "=HYPERLINK(&#34;http://evil.example&#34;)" in html or "&quot;" in html
        # Rolling finished weeks up changes nothing on the page.
        async with cw.world.sessions.begin() as session:
            assert await rollup.roll_up(session, now=cw.world.clock.now) > 0
        assert (await browser.get("/console/numbers")).text == html
        # A longer period, and the outlets paged.
        year = await browser.get("/console/numbers?weeks=52&page=1")
        assert year.status_code == 200
        assert 'id="period-52" href="/console/numbers?weeks=52" aria-current="page"' in year.text


async def test_numbers_page_in_dari_runs_right_to_left(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await _counted(cw)
        await cw.sign_in(browser, "coco")
        csrf = csrf_of((await browser.get("/console/numbers")).text)
        done = await browser.post(
            "/console/language", data={"csrf": csrf, "locale": "fa_AF", "back": "/console/numbers"}
        )
        assert done.status_code == 303
        html = (await browser.get("/console/numbers")).text
        assert '<html lang="fa-AF" dir="rtl">' in html
        assert "ارقام" in html  # "Numbers"
        assert 'direction="rtl"' in html  # the charts run right to left
        assert "&lt;5" in _cells(html, "table-requests")


async def test_csv_export_is_an_attachment_with_small_counts_hidden(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        _, evil = await _counted(cw)
        await cw.sign_in(browser, "coco")
        answer = await browser.get("/console/numbers.csv?weeks=26")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert answer.headers["content-disposition"] == (
            'attachment; filename="hrbot-numbers-2026-W23-to-2026-W48.csv"'
        )
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        week = {r["measure"]: r["value"] for r in rows if r["week"] == "2026-W47"}
        assert week["made.equipment"] == "35"
        assert week["made.naloxone"] == "<5"
        assert week["closed.unrouted"] == "<5"
        outlet = {
            r["measure"]: r for r in rows if r["scope"] == "outlet" and r["outlet_id"] == str(evil)
        }
        assert outlet["offered"]["outlet"] == "'" + EVIL  # a spreadsheet will not run it
        assert outlet["offered"]["value"] == "5"
        for r in rows:
            if "minutes" not in r["measure"]:
                assert _published(r["value"].replace("<5", "&lt;5")), r
        for cell in (c for line in csv.reader(io.StringIO(answer.text)) for c in line):
            assert not cell.startswith(("=", "+", "-", "@")), cell


async def test_peers_are_refused_and_bad_periods_change_nothing(sessions: Sessions) -> None:
    async with console_world(sessions) as cw:
        await _counted(cw)
        async with cw.client() as peer:
            await cw.sign_in(peer, "pia")
            assert (await peer.get("/console/numbers")).status_code == 403
            assert (await peer.get("/console/numbers.csv")).status_code == 403
            assert 'href="/console/numbers"' not in (await peer.get("/console/")).text
        async with cw.client() as browser:
            await cw.sign_in(browser, "coco")
            for query in (
                "weeks=13",
                "weeks=abc",
                "weeks=",
                "page=0",
                "page=x",
                "weeks=52&page=-1",
            ):
                bad = await browser.get(f"/console/numbers?{query}")
                assert bad.status_code == 400, query
                assert "chart-requests" not in bad.text
            assert (await browser.get("/console/numbers.csv?weeks=7")).status_code == 400
            assert (
                "Choose 12, 26 or 52 weeks." in (await browser.get("/console/numbers?weeks=9")).text
            )
        async with cw.client() as stranger:
            assert (await stranger.get("/console/numbers.csv")).status_code == 403
