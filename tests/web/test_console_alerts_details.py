"""The console's *Alerts* page: how sure an alert is and which routes of use it is about, set
when composing and on a draft's page, shown in the preview and in what people get."""

from __future__ import annotations

from bot.services import alerts
from tests.support.console import console_world, csrf_of
from tests.support.engine import make_deps
from tests.web.test_console_alerts import (
    WARNING,
    Sessions,
    _compose,
    _count_alerts,
    _post,
    _preview,
    _received,
    _subscribe,
    _view,
)


async def test_compose_with_confidence_and_routes(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await _subscribe(cw, "ana", "Strathcona")
        await cw.sign_in(browser, "coco")
        form = (await browser.get("/console/alerts/new")).text
        assert '<select name="confidence" id="confidence">' in form
        assert 'id="route-injected"' in form

        made = await browser.post(
            "/console/alerts/new",
            data={
                "csrf": csrf_of(form),
                **WARNING,
                "confidence": "checked",
                "route": ["injected", "smoked"],
            },
        )
        assert made.status_code == 303
        page = (await browser.get("/console/alerts/1")).text
        shown = _preview(page)
        assert "\nConfirmed by drug checking\n" in shown
        assert "Current until " in shown
        assert "• Smoking: take one small hit first" in shown
        assert "• Injecting: test a tiny amount first" in shown
        assert "Drug checking: Hastings Drug Checking Counter (demo)" in shown
        assert 'id="confidence-shown">Confirmed by drug checking<' in page
        assert 'id="routes-shown">Smoked and Injected<' in page
        assert (await _view(sessions, 1)).routes == ("smoked", "injected")

        await _post(browser, "/console/alerts/1/send", {})
        assert await _received(cw, "ana", 1) == shown


async def test_a_drafts_details_are_changed_and_bad_ones_refused(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        bad = await _compose(browser, confidence="certain")
        assert bad.status_code == 422
        assert "Choose how sure it is from the list." in bad.text
        bad_route = await browser.post(
            "/console/alerts/new",
            data={"csrf": csrf_of(bad.text), **WARNING, "route": ["licked"]},
        )
        assert bad_route.status_code == 422
        assert "Choose routes of use from the list." in bad_route.text
        assert await _count_alerts(sessions) == 0

        assert (await _compose(browser)).status_code == 303
        page = (await browser.get("/console/alerts/1")).text
        assert 'id="details-form"' in page
        assert "Confirmed by drug checking" not in _preview(page)
        saved = await _post(
            browser, "/console/alerts/1/details", {"confidence": "peers", "route": "swallowed"}
        )
        assert saved.headers["location"] == "/console/alerts/1?done=saved"
        page = (await browser.get("/console/alerts/1")).text
        assert "\nSeen by peers\n" in _preview(page)
        assert "• Swallowing: it takes longer to kick in" in _preview(page)
        refused = await _post(browser, "/console/alerts/1/details", {"confidence": "sure"})
        assert refused.status_code == 422
        view = await _view(sessions, 1)
        assert (view.confidence, view.routes) == ("peers", ("swallowed",))
        cleared = await _post(browser, "/console/alerts/1/details", {"confidence": ""})
        assert cleared.status_code == 303
        view = await _view(sessions, 1)
        assert (view.confidence, view.routes) == (None, ())
        # Russian and Dari previews carry the lines in their own words.
        await _post(browser, "/console/alerts/1/details", {"confidence": "checked"})
        page = (await browser.get("/console/alerts/1")).text
        russian = make_deps().words.for_locale("ru")
        assert alerts.confidence_label(russian, "checked") in page
