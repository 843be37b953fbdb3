"""The console's *Consultations* page over real HTTP: write a draft in every language, edit it,
open it (asked first, with how many get the invitation), close it, read the results with small
counts hidden, download them as CSV, and edit and approve the closing summary; and what is
refused (peers, a missing CSRF token, bad input: nothing is saved). The people are real chat
subscribers (``/alerts`` in chat); their answers go in through the service chat uses."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.models import Consultation, Subscription
from bot.services import consultations
from bot.services.consultations import ConsultationStatus
from tests.support.console import ConsoleWorld, console_world, csrf_of

Sessions = async_sessionmaker[AsyncSession]
LOCALES = ("en", "ru", "fa_AF")
# A small consultation as the form posts it (the clock's today is 2026-11-25).
FORM: dict[str, str] = {
    "title.en": "Opening hours",
    "title.ru": "Часы работы",
    "title.fa_AF": "ساعات کاری",
    "intro.en": "A few quick questions. Anonymous; skip anything.",
    "intro.ru": "Несколько коротких вопросов. Анонимно.",
    "intro.fa_AF": "چند سوال کوتاه. بی‌نام است.",
    "q1.kind": "one",
    "q1.text.en": "When would you most like to pick up supplies?",
    "q1.text.ru": "Когда вам удобнее всего забирать материалы?",
    "q1.text.fa_AF": "چه وقتی بیشتر دوست دارید لوازم را بگیرید؟",
    "q1.options.en": "Morning\r\nEvening\r\n",
    "q1.options.ru": "Утром\r\nВечером",
    "q1.options.fa_AF": "صبح\nشام",
    # Block 2 left empty: ignored.
    "q3.kind": "text",
    "q3.text.en": "Anything else you want us to know?",
    "q3.text.ru": "Что-нибудь ещё?",
    "q3.text.fa_AF": "چیز دیگری هست؟",
    "audience": "everyone",
    "closes_on": "2026-12-20",
}


async def _subscribe(cw: ConsoleWorld, who: str, area: str) -> None:
    await cw.world.chat.say(who, "/alerts")
    await cw.world.chat.tap(who, "Add an area")
    await cw.world.chat.say(who, area)


async def _post(
    browser: httpx.AsyncClient, path: str, data: dict[str, str], *, page: str | None = None
) -> httpx.Response:
    """POST a console form with the CSRF token of a page (``page``, else the list)."""
    shown = await browser.get(page or "/console/consultations")
    return await browser.post(path, data={"csrf": csrf_of(shown.text), **data})


async def _write(browser: httpx.AsyncClient, **changes: str) -> httpx.Response:
    return await _post(browser, "/console/consultations/new", {**FORM, **changes})


async def _count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Consultation)) or 0)


async def _status(sessions: Sessions, consultation_id: int = 1) -> ConsultationStatus:
    async with sessions() as session:
        got = await consultations.get(session, consultation_id=consultation_id)
    return got.status


def _error(page: str) -> str:
    found = re.search(r'<p class="error" role="alert" id="error">(.*?)</p>', page, re.S)
    assert found is not None, page
    return html.unescape(found.group(1))


async def test_write_a_draft_in_every_language_then_open_and_close(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await _subscribe(cw, "ana", "Strathcona")
        await _subscribe(cw, "bo", "Kitsilano")
        await cw.sign_in(browser, "coco")
        listed = await browser.get("/console/consultations")
        assert listed.status_code == 200
        assert 'id="no-consultations"' in listed.text
        form = (await browser.get("/console/consultations/new")).text
        # Each text in every language side by side; Dari boxes are written right to left.
        assert 'name="title.fa_AF" lang="fa-AF" dir="rtl"' in form
        assert 'name="q10.text.ru" lang="ru" dir="auto"' in form
        assert 'value="2026-12-25"' in form  # a month from today, by default

        made = await _write(browser)
        assert made.status_code == 303
        assert made.headers["location"] == "/console/consultations/1?done=saved"
        async with sessions() as session:
            stored = await consultations.get(session, consultation_id=1)
        assert stored.status is ConsultationStatus.DRAFT
        assert [q.kind.value for q in stored.questions] == ["one", "text"]
        assert stored.questions[0].options[1] == {"en": "Evening", "ru": "Вечером", "fa_AF": "شام"}
        assert stored.areas == ()
        page = (await browser.get(made.headers["location"])).text
        assert "Saved." in page
        assert "   • صبح" in page  # the Dari preview
        row = (await browser.get("/console/consultations")).text
        assert 'id="consultation-1"' in row
        assert "Draft" in row
        assert "end of 2026-12-20 (America/Vancouver)" in row  # closes at the next midnight

        # Opening asks first, with how many get the invitation; asking changes nothing.
        asked = await _post(browser, "/console/consultations/1/open", {}, page="/console/")
        assert asked.status_code == 200
        assert "The invitation goes to 2 people." in asked.text
        assert await _status(sessions) is ConsultationStatus.DRAFT
        opened = await browser.post(
            "/console/consultations/1/open", data={"csrf": csrf_of(asked.text), "sure": "yes"}
        )
        assert opened.headers["location"] == "/console/consultations/1?done=opened"
        assert await _status(sessions) is ConsultationStatus.OPEN
        await cw.service.tick()  # the tick sends the invitations, through the notices queue
        for who in ("ana", "bo"):
            assert any("Opening hours" in r.text for r in cw.world.chat.inbox(who)), who
        page = (await browser.get("/console/consultations/1")).text
        assert 'id="participants">0<' in page
        assert 'id="close-form"' in page
        assert 'id="open-form"' not in page
        again = await _post(
            browser, "/console/consultations/1/edit", FORM, page="/console/consultations/1"
        )
        assert again.status_code == 400
        assert "not a draft any more" in _error(again.text)

        asked = await _post(browser, "/console/consultations/1/close", {})
        assert "No more answers are taken" in asked.text
        closed = await browser.post(
            "/console/consultations/1/close", data={"csrf": csrf_of(asked.text), "sure": "yes"}
        )
        assert closed.headers["location"] == "/console/consultations/1?done=closed"
        assert await _status(sessions) is ConsultationStatus.CLOSED


async def test_a_draft_is_edited_with_its_values_in_the_form(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        await _write(browser, audience="areas", area="strathcona")
        form = (await browser.get("/console/consultations/1/edit")).text
        assert 'value="Opening hours"' in form
        assert "Morning\nEvening</textarea>" in form
        assert 'value="strathcona" id="area-strathcona" checked' in form
        assert 'id="audience-areas" checked' in form
        assert 'value="2026-12-20"' in form
        changed = await _post(
            browser,
            "/console/consultations/1/edit",
            {**FORM, "title.en": "When we are open", "q2.kind": "scale",
             **{f"q2.text.{code}": "1–5?" for code in LOCALES},
             **{f"q2.high.{code}": f"easy ({code})" for code in LOCALES},
             "q3.options.en": "typed before the kind changed: kept, unused"},
            page="/console/consultations/1/edit",
        )  # fmt: skip
        assert changed.status_code == 303
        async with sessions() as session:
            stored = await consultations.get(session, consultation_id=1)
        assert stored.title["en"] == "When we are open"
        assert [q.kind.value for q in stored.questions] == ["one", "scale", "text"]
        assert stored.questions[1].high == {code: f"easy ({code})" for code in LOCALES}
        assert stored.questions[1].low is None
        assert stored.questions[2].options == ()
        assert stored.areas == ()  # the form said everyone this time
        assert await _count(sessions) == 1

        cw.world.clock.advance(days=40)  # past its closing day: it cannot open
        await cw.sign_in(browser, "coco")  # (the session ended meanwhile)
        late = await _post(browser, "/console/consultations/1/open", {"sure": "yes"})
        assert late.status_code == 409
        assert _error(late.text) == (
            "Its closing day has passed: edit the draft and choose a later one."
        )
        assert await _status(sessions) is ConsultationStatus.DRAFT

        asked = await _post(browser, "/console/consultations/1/discard", {})
        assert "Discard this draft?" in asked.text
        assert await _count(sessions) == 1
        gone = await browser.post(
            "/console/consultations/1/discard", data={"csrf": csrf_of(asked.text), "sure": "yes"}
        )
        assert gone.headers["location"] == "/console/consultations?done=discarded"
        assert await _count(sessions) == 0
        assert (await browser.get("/console/consultations/1")).status_code == 404


async def test_bad_input_is_refused_with_the_reason_and_nothing_is_saved(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        no_dari = await _write(browser, **{"title.fa_AF": "  "})
        assert no_dari.status_code == 400
        assert _error(no_dari.text) == (
            "The title in دری is empty. Write every text in every language."
        )
        assert 'value="Opening hours"' in no_dari.text  # what was typed is kept
        assert "Утром\nВечером</textarea>" in no_dari.text
        one_choice = await _write(browser, **{"q3.kind": "one"})
        assert _error(one_choice.text) == (
            "Question 3: give 2 to 8 choices, one per line, in every language."
        )  # the block's own number, though block 2 is empty
        short = await _write(browser, **{"q1.options.ru": "Утром"})
        assert "Question 1, choice 2 in Русский is empty." in _error(short.text)
        past = await _write(browser, closes_on="2026-11-20")
        assert _error(past.text) == "Choose a closing day after today, at most 90 days ahead."
        nowhere = await _write(browser, audience="areas")
        assert _error(nowhere.text) == "Choose at least one area, or everyone."
        nothing = await _write(browser, **{"q1.kind": "", "q3.kind": ""})
        assert nothing.status_code == 400  # texts without a kind are a question without a kind
        assert _error(nothing.text) == "Question 1: choose the kind of answer."
        hidden = await _write(browser, **{"q1.text.en": "When\u202e?"})
        assert _error(hidden.text) == "Question 1 in English: plain text only, please."
        long = await _write(browser, **{"title.ru": "Ч" * 81})
        assert _error(long.text) == "The title in Русский: at most 80 characters."
        assert await _count(sessions) == 0

        # In Russian, the reason is in Russian.
        csrf = csrf_of((await browser.get("/console/")).text)
        await browser.post("/console/language", data={"csrf": csrf, "locale": "ru"})
        russian = await _write(browser, closes_on="soon")
        assert russian.status_code == 400
        assert re.search("[а-я]", _error(russian.text)), _error(russian.text)
        assert await _count(sessions) == 0


async def test_peers_are_refused_and_a_post_needs_the_csrf_token(sessions: Sessions) -> None:
    async with console_world(sessions) as cw:
        await cw.world.outlet("alpha")
        await cw.world.peer("pia", "alpha")
        async with cw.client() as browser:
            await cw.sign_in(browser, "coco")
            assert (await _write(browser)).status_code == 303
            forged = await browser.post(
                "/console/consultations/new", data={**FORM, "csrf": "0" * 64}
            )
            assert forged.status_code == 403
            missing = await browser.post("/console/consultations/1/open", data={"sure": "yes"})
            assert missing.status_code == 403
        async with cw.client() as peer:
            await cw.sign_in(peer, "pia")
            for path in (
                "/console/consultations",
                "/console/consultations/new",
                "/console/consultations/1",
                "/console/consultations/1/results.csv",
            ):
                assert (await peer.get(path)).status_code == 403, path
            csrf = csrf_of((await peer.get("/console/")).text)
            refused = await peer.post(
                "/console/consultations/1/open", data={"csrf": csrf, "sure": "yes"}
            )
            assert refused.status_code == 403
            made = await peer.post("/console/consultations/new", data={**FORM, "csrf": csrf})
            assert made.status_code == 403
            assert 'href="/console/consultations"' not in (await peer.get("/console/")).text
        assert await _count(sessions) == 1
        assert await _status(sessions) is ConsultationStatus.DRAFT


async def _answer(cw: ConsoleWorld, answers: Sequence[tuple[str, Mapping[str, object]]]) -> None:
    """Each subscriber (in order of area) answers through the service the chat flow uses."""
    world = cw.world
    async with world.sessions.begin() as session:
        rows = (
            await session.execute(
                select(Subscription.contact_id, Subscription.area_code).order_by(
                    Subscription.contact_id
                )
            )
        ).all()
        by_area: dict[str, list[int]] = {}
        for contact_id, area in rows:
            by_area.setdefault(area, []).append(contact_id)
        for area, given in answers:
            await consultations.submit(
                session,
                consultation_id=1,
                contact_id=by_area[area].pop(0),
                area=area,
                answers=given,
                finished=True,
                now=world.clock.now,
                gazetteer=world.engine.deps.content.gazetteer,
            )


async def test_results_hide_small_counts_on_the_page_and_in_the_csv(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        people = [(f"s{n}", "Strathcona") for n in range(7)] + [("k1", "Kitsilano")]
        for who, area in people:
            await _subscribe(cw, who, area)
        await cw.sign_in(browser, "coco")
        await _write(browser)
        asked = await _post(browser, "/console/consultations/1/open", {})
        assert "The invitation goes to 8 people." in asked.text
        await browser.post(
            "/console/consultations/1/open", data={"csrf": csrf_of(asked.text), "sure": "yes"}
        )
        words = ["call me on 604 555 0199", "later please", "more hours", "ok", "weekends"]
        await _answer(
            cw,
            [("strathcona", {"1": 0, "2": words[n] if n < 5 else None}) for n in range(6)]
            + [("strathcona", {"1": 1, "2": None}), ("kitsilano", {"1": 1, "2": None})],
        )
        page = (await browser.get("/console/consultations/1")).text
        assert 'id="participants">10<' in page  # 8, rounded to 5s
        start = page.index('id="table-1"')
        table = page[start : page.index("</table>", start)]
        assert '<th scope="col" class="num">Strathcona</th>' in table
        assert "Kitsilano" not in table  # one person there: no column of its own
        assert re.search(r"Morning</th><td class=\"num\">5</td><td class=\"num\">5</td>", table)
        assert re.search(r"Evening</th><td class=\"num\">fewer than 5</td>", table)
        areas = page[page.index('id="table-areas"') :]
        assert re.search(r"Kitsilano</th><td class=\"num\">fewer than 5</td>", areas)
        answers = page[page.index('id="answers-2"') :]
        assert "[📞]" in answers  # masked when stored
        assert "604 555" not in page
        assert "weekends" in answers

        download = await browser.get("/console/consultations/1/results.csv")
        assert download.status_code == 200
        assert download.headers["content-type"] == "text/csv; charset=utf-8"
        assert download.headers["content-disposition"] == (
            'attachment; filename="hrbot-consultation-1.csv"'
        )
        rows = list(csv.DictReader(io.StringIO(download.text)))
        assert {"question": "0", "kind": "participants", "area": "Kitsilano",
                "answer": "all", "count": "fewer than 5"} in rows  # fmt: skip
        evening = [r for r in rows if r["answer"] == "Evening" and r["area"] == "all"]
        assert [r["count"] for r in evening] == ["fewer than 5"]
        assert not any(r["area"] == "Kitsilano" and r["question"] != "0" for r in rows)


async def test_fewer_than_5_free_texts_are_not_shown(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        for n in range(3):
            await _subscribe(cw, f"s{n}", "Strathcona")
        await cw.sign_in(browser, "coco")
        await _write(browser)
        asked = await _post(browser, "/console/consultations/1/open", {})
        await browser.post(
            "/console/consultations/1/open", data={"csrf": csrf_of(asked.text), "sure": "yes"}
        )
        await _answer(cw, [("strathcona", {"1": 0, "2": "a secret thing"})] * 3)
        page = (await browser.get("/console/consultations/1")).text
        assert 'id="participants">fewer than 5<' in page
        assert "a secret thing" not in page
        assert "Fewer than 5 people wrote an answer, so none is shown." in page
        download = (await browser.get("/console/consultations/1/results.csv")).text
        assert "a secret thing" not in download
        assert (await browser.get("/console/consultations/9/results.csv")).status_code == 404


async def test_the_closing_summary_is_edited_in_each_language_and_approved(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        for n in range(5):
            await _subscribe(cw, f"s{n}", "Strathcona")
        await cw.sign_in(browser, "coco")
        await _write(browser)
        csrf = csrf_of((await browser.get("/console/consultations")).text)
        await browser.post("/console/consultations/1/open", data={"csrf": csrf, "sure": "yes"})
        await _answer(cw, [("strathcona", {"1": 0, "2": None})] * 5)
        await browser.post("/console/consultations/1/close", data={"csrf": csrf, "sure": "yes"})
        page = (await browser.get("/console/consultations/1")).text
        assert 'id="summary-form"' in page
        assert "Most of you said: Morning." in page  # the drafted summary, in English
        assert 'id="summary-fa_AF" name="summary.fa_AF" lang="fa-AF" dir="rtl"' in page

        texts = {f"summary.{code}": f"Thanks ({code})." for code in LOCALES}
        empty = await _post(
            browser,
            "/console/consultations/1/summary",
            {**texts, "summary.ru": ""},
            page="/console/consultations/1",
        )
        assert empty.status_code == 400
        assert _error(empty.text) == (
            "The summary in Русский is empty. Write every text in every language."
        )
        assert "Thanks (en).</textarea>" in empty.text  # kept
        saved = await _post(
            browser, "/console/consultations/1/summary", {**texts, "then": "approve"}
        )
        assert saved.status_code == 200  # saved, and asked whether to send it
        assert "Send the summary to everyone who took part (5)?" in saved.text
        async with sessions() as session:
            stored = await consultations.get(session, consultation_id=1)
        assert stored.summary == {code: f"Thanks ({code})." for code in LOCALES}
        assert stored.status is ConsultationStatus.CLOSED
        approved = await browser.post(
            "/console/consultations/1/approve", data={"csrf": csrf_of(saved.text), "sure": "yes"}
        )
        assert approved.headers["location"] == "/console/consultations/1?done=approved"
        assert await _status(sessions) is ConsultationStatus.APPROVED
        await cw.service.tick()  # the summary goes to the people who took part
        assert "Thanks (en)." in cw.world.chat.inbox("s0")[-1].text
        page = (await browser.get("/console/consultations/1")).text
        assert 'id="summary-form"' not in page
        assert "Thanks (fa_AF)." in page


@contextmanager
def _counted(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements run while the block runs."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_the_list_costs_the_same_queries_for_2_or_20_consultations(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        costs = []
        for total in (2, 20):
            while await _count(sessions) < total:
                assert (await _write(browser)).status_code == 303
            with _counted(engine) as statements:
                listed = await browser.get("/console/consultations")
            assert listed.text.count('<tr id="consultation-') == total
            costs.append(len(statements))
        assert 0 < costs[0] == costs[1], costs
