"""*Alerts* (coordinators): current and past alerts with progress, compose with the exact
preview people get, send now, schedule once or repeating, update, all clear, cancel.

Everything goes through the services ``/broadcast`` uses (:mod:`bot.services.alerts`,
:mod:`bot.services.followups`, :mod:`bot.services.alert_board`, and the shared wording in
:mod:`bot.services.alert_words`): an alert made in chat shows here and one made here shows in
chat. A draft is made when the form is posted; its page is the preview.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.core.words import N_, Translator
from bot.db.models import EVERYWHERE, FollowUp
from bot.domain import AlertKind, AlertStatus
from bot.privacy.hidden_text import hidden_line
from bot.privacy.masking import hidden
from bot.services import alert_board, alert_languages, alert_words, alerts, followups
from bot.services.alerts import AlertError, AlertView
from bot.services.followups import Standing
from bot.web.console.site import Console, NavEntry, View

FIELDS = tuple(alerts.FIELD_LIMITS)
MULTILINE = frozenset({"summary", "symptoms", "advice"})


def problem(t: Translator, error: AlertError) -> str:
    """What went wrong, in the reader's language (the service's message is English)."""
    code = error.code
    if code == "no_area":
        return t("Choose at least one area, or Everywhere.")
    if code == "area":
        return t("Choose areas from the list.")
    if code == "empty":
        return t("Fill in at least one of the texts.")
    name = error.field
    if code == "field" and name is not None and name in alerts.FIELD_LIMITS:
        return t(
            "{field}: plain text only, up to {n} characters.",
            field=alert_words.field_label(t, name),
            n=alerts.FIELD_LIMITS[name],
        )
    if code == "total":
        return t("At most {n} characters in all texts together.", n=alerts.MAX_FIELDS_TOTAL)
    if code == "kind":
        return t("Choose what kind of alert it is.")
    if code == "severity":
        return t("Choose how serious it is.")
    if code == "lifetime":
        return t("Choose how long it stays current.")
    if code == "when":
        return t("That is not a date and time in the future, within a year. Try again.")
    if code == "repeat":
        return t("Choose at least one day and a time, like 18:00.")
    if code == "unchecked":
        return alert_words.unchecked_refusal(t)
    if code == "note":
        return t("A note is one line of plain text, up to {n} characters.", n=followups.NOTE_CHARS)
    if code == "not_current":
        return t("This alert is no longer current, so it cannot be followed up.")
    if code == "confidence":
        return t("Choose how sure it is from the list.")
    if code == "routes":
        return t("Choose routes of use from the list.")
    if code == "language":
        return t("Choose one of the bot's languages, other than the one it is written in.")
    if code == "not_draft":
        return t("This alert is not a draft any more.")
    if code == "paid":
        return t("A paid broadcast is not possible for this alert now: it stays free.")
    return t("Something in this alert was not right. Nothing was changed.")


def _words(view: View) -> dict[str, Any]:
    """Helpers every alerts template uses."""
    t = view.t
    gazetteer = view.console.engine.deps.content.gazetteer

    def area_names(codes: tuple[str, ...]) -> str:
        if EVERYWHERE in codes or not codes:
            return t("everywhere")
        return ", ".join(a.name if (a := gazetteer.by_code(c)) else c for c in codes)

    def local(alert: AlertView, when: Any) -> str:
        if when is None:
            return ""
        zone = alerts.zone_for(alert.areas, gazetteer)
        return f"{when.astimezone(zone).strftime(alerts.WHEN_FORMAT)} ({zone.key})"

    def repeat(alert: AlertView) -> str:
        if not alert.recurrence:
            return ""
        zone = alerts.zone_for(alert.areas, gazetteer)
        rule = alert_words.describe_repeat(t, alert.recurrence, alert.timezone or zone.key)
        return t("{rule}; next {when}", rule=rule, when=alert_words.next_time(t, alert, zone))

    def status(alert: AlertView) -> str:
        return {
            AlertStatus.DRAFT: t("Draft"),
            AlertStatus.SCHEDULED: t("Scheduled"),
            AlertStatus.SENDING: t("Sending"),
            AlertStatus.SENT: t("Sent"),
            AlertStatus.CANCELLED: t("Stopped"),
        }[alert.status]

    def follow(alert: AlertView) -> str:
        if alert.follow_up is FollowUp.ALL_CLEAR:
            return t("All clear for A{n}", n=alert.parent_id)
        if alert.follow_up is FollowUp.UPDATE:
            return t("Update to A{n}", n=alert.parent_id)
        return ""

    return {
        "kind_label": lambda kind: alert_words.kind_label(t, kind),
        "severity_label": lambda n: alert_words.severity_label(t, n),
        "field_label": lambda name: alert_words.field_label(t, name),
        "confidence_label": lambda value: alerts.confidence_label(t, value),
        "routes_text": lambda routes: t.join([alerts.route_label(t, r) for r in routes]),
        "confidences": [(c, alerts.confidence_label(t, c)) for c in alerts.CONFIDENCES],
        "route_choices": [(r, alerts.route_label(t, r)) for r in alerts.ROUTES],
        "tally_line": lambda tally: alert_words.tally_line(t, tally),
        "area_names": area_names,
        "local": local,
        "repeat": repeat,
        "status_label": status,
        "follow": follow,
    }


# --- the list --------------------------------------------------------------------------------


async def list_page(view: View) -> Response:
    raw = view.request.query_params.get("page", "0")
    page = int(raw) if raw.isdigit() and len(raw) < 6 else 0
    board = await alert_board.board(view.session, now=view.now, page=page)
    return view.render("alerts.html", board=board, **_words(view))


# --- composing -------------------------------------------------------------------------------


def _field_specs(t: Translator) -> list[tuple[str, str, int, bool]]:
    """(name, question, longest, multi-line) of each text field, in order."""
    return [
        (name, alert_words.field_prompt(t, name), alerts.FIELD_LIMITS[name], name in MULTILINE)
        for name in FIELDS
    ]


def _compose_values(form: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "kind": "",
        "severity": "",
        "areas": [],
        "fields": dict.fromkeys(FIELDS, ""),
        "lifetime": str(int(alerts.DEFAULT_LIFETIME.total_seconds() // 3600)),
        "confidence": "",
        "routes": [],
        **(form or {}),
    }


def _render_compose(view: View, *, status: int = 200, error: str = "", **given: Any) -> Response:
    gazetteer = view.console.engine.deps.content.gazetteer
    t = view.t
    return view.render(
        "alert_new.html",
        status=status,
        error=error,
        values=_compose_values(given),
        kinds=[(k.value, alert_words.kind_label(t, k)) for k in AlertKind],
        severities=[(n, alert_words.severity_label(t, n)) for n in alerts.SEVERITIES],
        area_choices=[(a.code, a.name) for a in gazetteer.areas],
        everywhere=EVERYWHERE,
        field_specs=_field_specs(t),
        lifetimes=[(h, alert_words.lifetime_label(t, h)) for h in alerts.LIFETIME_CHOICES],
        **_words(view),
    )


async def compose_page(view: View) -> Response:
    return _render_compose(view)


def _texts(view: View) -> dict[str, str]:
    return {name: str(view.form.get(name) or "") for name in FIELDS}


def _details(view: View) -> dict[str, Any]:
    """The confidence ("" for no line) and routes of use posted (checked by the service)."""
    return {
        "confidence": str(view.form.get("confidence") or ""),
        "routes": [str(r) for r in view.form.getlist("route")],
    }


async def compose(view: View) -> Response:
    form = view.form
    kind, severity, lifetime = (str(form.get(k) or "") for k in ("kind", "severity", "lifetime"))
    areas = [str(a) for a in form.getlist("area")]
    texts = _texts(view)
    details = _details(view)
    given = {"kind": kind, "severity": severity, "areas": areas, "fields": texts, **details}
    given["lifetime"] = lifetime
    try:
        if kind not in {k.value for k in AlertKind}:
            raise AlertError("unknown kind", code="kind")
        if not severity.isdigit() or int(severity) not in alerts.SEVERITIES:
            raise AlertError("unknown severity", code="severity")
        if not lifetime.isdigit() or int(lifetime) not in alerts.LIFETIME_CHOICES:
            raise AlertError("unknown lifetime", code="lifetime")
        draft = await alerts.create_draft(
            view.session,
            kind=AlertKind(kind),
            severity=int(severity),
            areas=[EVERYWHERE] if EVERYWHERE in areas else areas,
            fields=texts,
            gazetteer=view.console.engine.deps.content.gazetteer,
            now=view.now,
            lifetime=timedelta(hours=int(lifetime)),
            created_by_id=view.member.coordinator_id,
            locale=view.t.locale,
            confidence=details["confidence"] or None,
            routes=details["routes"],
        )
    except AlertError as error:
        return _render_compose(view, status=422, error=problem(view.t, error), **given)
    return view.redirect(f"/alerts/{draft.id}")


# --- one alert -------------------------------------------------------------------------------


async def _alert(view: View) -> AlertView | None:
    alert_id = view.request.path_params["alert_id"]
    return await alerts.get(view.session, alert_id=alert_id)


def _not_found(view: View) -> Response:
    return view.console.refuse(view.t, view.t("No alert has that reference."), status=404)


async def _render_alert(
    view: View, alert: AlertView, *, status: int = 200, error: str = "", **values: Any
) -> Response:
    content = view.console.engine.deps.content
    words = view.console.engine.deps.words
    previews: list[tuple[str, str, str]] = []  # (locale, language name, text)
    recipients = 0
    # How long it takes, what a paid broadcast costs, and whether it may be chosen (drafts).
    reach_lines: list[str] = []
    paid_choice: str | None = None  # "paid" (may be chosen), "free" (chosen: back to free)
    if alert.status is AlertStatus.DRAFT:
        pace = view.console.engine.deps.config.pace
        reach = await alerts.reach(view.session, alert_id=alert.id)
        if reach.total:
            allowed = reach.paid_allowed(pace)
            reach_lines = [
                alert_words.reach_line(view.t, reach, pace, paid=alert.paid and allowed),
                *alert_words.paid_lines(view.t, reach, pace, paid=alert.paid),
            ]
            if alert.paid:
                paid_choice = "free"
            elif allowed and not alert.needs_check:
                paid_choice = "paid"
    if alert.status is AlertStatus.DRAFT:
        shown = await alerts.preview(
            view.session,
            alert_id=alert.id,
            t=view.t,
            gazetteer=content.gazetteer,
            cards=content.cards,
            directory=content.directory,
            now=view.now,
        )
        recipients = shown.recipients
        previews.append((view.t.locale, view.t.language_name, shown.text))
        for code, other in words.locales.items():
            if code != view.t.locale:
                text = alerts.render_alert(
                    alert,
                    other,
                    content.gazetteer,
                    content.cards,
                    directory=content.directory,
                    now=view.now,
                )
                previews.append((code, other.language_name, text))
    else:
        # What went (or goes) out, in the coordinator's language.
        text = alerts.render_alert(
            alert,
            view.t,
            content.gazetteer,
            content.cards,
            directory=content.directory,
            now=view.now,
        )
        previews.append((view.t.locale, view.t.language_name, text))
    tally = await alerts.progress(view.session, alert_id=alert.id)
    standing, _ = await followups.standing(view.session, alert_id=alert.id, now=view.now)
    masked = hidden_line(view.t, hidden(*alert.fields.values())) if alert.needs_check else ""
    zone = alerts.zone_for(alert.areas, content.gazetteer)
    t = view.t
    base = alert.base_locale or t.locale
    languages = [(code, other.language_name) for code, other in words.locales.items()]
    return view.render(
        "alert.html",
        status=status,
        error=error,
        alert=alert,
        tally=tally,
        previews=previews,
        recipients=recipients,
        reach_lines=reach_lines,
        paid_choice=paid_choice,
        took=(
            alert_words.took_line(t, alert.finished_at - alert.issued_at)
            if alert.status is AlertStatus.SENT and alert.issued_at and alert.finished_at
            else ""
        ),
        can_follow=standing is Standing.CURRENT,
        masked=masked,
        zone=zone.key,
        example=(view.now + timedelta(days=1)).astimezone(zone).strftime("%Y-%m-%dT18:00"),
        days=list(enumerate(alert_words.day_names(t))),
        field_specs=_field_specs(t),
        note_chars=followups.NOTE_CHARS,
        base_fields=[spec for spec in _field_specs(t) if spec[0] in alert.fields],
        to_write=[(c, n) for c, n in languages if c != base],
        written=[n for c, n in languages if c in alert.translations],
        values=values,
        **_words(view),
    )


async def alert_page(view: View) -> Response:
    alert = await _alert(view)
    if alert is None:
        return _not_found(view)
    return await _render_alert(view, alert)


async def _act(view: View, action: Any, **values: Any) -> Response:
    """Run ``action(alert)`` (which returns a redirect); on AlertError show the alert again
    with the reason. Nothing was written then: every service checks before it writes."""
    alert = await _alert(view)
    if alert is None:
        return _not_found(view)
    try:
        response: Response = await action(alert)
    except AlertError as error:
        fresh = await alerts.get(view.session, alert_id=alert.id)
        return await _render_alert(
            view, fresh or alert, status=422, error=problem(view.t, error), **values
        )
    return response


async def send(view: View) -> Response:
    async def go(alert: AlertView) -> Response:
        sent = await followups.send(
            view.session,
            alert_id=alert.id,
            now=view.now,
            max_paid_stars=view.console.engine.deps.config.pace.max_stars,
        )
        if sent.standing is not Standing.CURRENT:
            return view.redirect(f"/alerts/{alert.id}", done="ended")
        view.scope.wake_outbox()
        after = await alerts.get(view.session, alert_id=alert.id)
        went_free = alert.paid and after is not None and not after.paid
        return view.redirect(f"/alerts/{alert.id}", done="free" if went_free else "sent")

    return await _act(view, go)


async def set_paid(view: View) -> Response:
    """Choose Telegram's paid broadcast for a draft (``paid=yes``), or go back to free."""
    paid = view.form.get("paid") == "yes"

    async def go(alert: AlertView) -> Response:
        await alerts.set_paid(
            view.session,
            alert_id=alert.id,
            paid=paid,
            pace=view.console.engine.deps.config.pace,
        )
        return view.redirect(f"/alerts/{alert.id}", done="saved")

    return await _act(view, go)


async def schedule(view: View) -> Response:
    typed = str(view.form.get("when") or "")

    async def go(alert: AlertView) -> Response:
        await alerts.schedule_local(
            view.session,
            alert_id=alert.id,
            typed=typed,
            gazetteer=view.console.engine.deps.content.gazetteer,
            now=view.now,
        )
        view.scope.wake_outbox()  # its timer: it goes out at its minute
        return view.redirect(f"/alerts/{alert.id}", done="scheduled")

    return await _act(view, go, when=typed)


async def repeat(view: View) -> Response:
    days = [int(d) for d in view.form.getlist("day") if isinstance(d, str) and d.isdigit()]
    typed = str(view.form.get("at") or "")

    async def go(alert: AlertView) -> Response:
        rule = alerts.repeat_rule(days, typed)
        if rule is None:
            raise AlertError("days and a time", code="repeat")
        await alerts.schedule_recurring(
            view.session,
            alert_id=alert.id,
            rule=rule,
            gazetteer=view.console.engine.deps.content.gazetteer,
            now=view.now,
        )
        view.scope.wake_outbox()
        return view.redirect(f"/alerts/{alert.id}", done="scheduled")

    return await _act(view, go, at=typed)


async def check(view: View) -> Response:
    confirmed = view.form.get("confirm") == "yes"

    async def go(alert: AlertView) -> Response:
        if not confirmed:
            raise AlertError("not confirmed", code="unchecked")
        await alerts.mark_checked(view.session, alert_id=alert.id)
        return view.redirect(f"/alerts/{alert.id}", done="checked")

    return await _act(view, go)


async def edit(view: View) -> Response:
    """New wording for a draft's texts; for a draft from a report, changed text is its check
    (as in chat: :func:`alerts.update_draft`)."""
    texts = _texts(view)

    async def go(alert: AlertView) -> Response:
        await alerts.update_draft(
            view.session,
            alert_id=alert.id,
            gazetteer=view.console.engine.deps.content.gazetteer,
            fields=texts,
        )
        return view.redirect(f"/alerts/{alert.id}", done="saved")

    return await _act(view, go, edit=texts)


async def set_details(view: View) -> Response:
    """How sure a draft is and which routes of use it is about."""
    details = _details(view)

    async def go(alert: AlertView) -> Response:
        await alerts.update_draft(
            view.session,
            alert_id=alert.id,
            gazetteer=view.console.engine.deps.content.gazetteer,
            confidence=details["confidence"],
            routes=details["routes"],
        )
        return view.redirect(f"/alerts/{alert.id}", done="saved")

    return await _act(view, go, details=details)


async def language(view: View) -> Response:
    """The draft's texts written in another language (empty: that language is removed)."""
    locale = str(view.form.get("locale") or "")
    texts = _texts(view)

    async def go(alert: AlertView) -> Response:
        if locale not in view.console.engine.deps.words.locales:
            raise AlertError("unknown language", code="language")
        if not any(text.strip() for text in texts.values()):
            await alert_languages.remove_translation(view.session, alert_id=alert.id, locale=locale)
        else:
            await alert_languages.set_translation(
                view.session,
                alert_id=alert.id,
                locale=locale,
                fields={k: v for k, v in texts.items() if k in alert.fields},
                base_locale=view.t.locale,
            )
        return view.redirect(f"/alerts/{alert.id}", done="saved")

    return await _act(view, go, written=texts)


async def cancel(view: View) -> Response:
    async def go(alert: AlertView) -> Response:
        # A page offers it for drafts and schedules; one that went out meanwhile stays out.
        if alert.status not in (AlertStatus.DRAFT, AlertStatus.SCHEDULED):
            raise AlertError("not a draft or schedule", code="not_draft")
        await alerts.cancel(view.session, alert_id=alert.id, now=view.now)
        return view.redirect(f"/alerts/{alert.id}", done="cancelled")

    return await _act(view, go)


async def follow_up(view: View, kind: FollowUp) -> Response:
    texts = _texts(view)
    note = str(view.form.get("note") or "")

    async def go(alert: AlertView) -> Response:
        standing, _ = await followups.standing(view.session, alert_id=alert.id, now=view.now)
        if standing is not Standing.CURRENT:
            raise AlertError("not current", code="not_current")
        fields = texts if kind is FollowUp.UPDATE else followups.note_fields(note)
        draft = await alerts.create_follow_up(
            view.session,
            parent_id=alert.id,
            follow_up=kind,
            fields=fields,
            now=view.now,
            created_by_id=view.member.coordinator_id,
            locale=view.t.locale,
        )
        return view.redirect(f"/alerts/{draft.id}")

    return await _act(view, go, fields=texts, note=note)


async def update(view: View) -> Response:
    return await follow_up(view, FollowUp.UPDATE)


async def all_clear(view: View) -> Response:
    return await follow_up(view, FollowUp.ALL_CLEAR)


def routes(console: Console) -> list[BaseRoute]:
    console.nav.append(NavEntry("/alerts", N_("Alerts"), coordinator=True))

    def page(function: Any, method: str, path: str) -> Route:
        return Route(path, console.page(function, coordinator=True), methods=[method])

    one = "/alerts/{alert_id:int}"
    return [
        page(list_page, "GET", "/alerts"),
        page(compose_page, "GET", "/alerts/new"),
        page(compose, "POST", "/alerts/new"),
        page(alert_page, "GET", one),
        page(send, "POST", f"{one}/send"),
        page(schedule, "POST", f"{one}/schedule"),
        page(repeat, "POST", f"{one}/repeat"),
        page(check, "POST", f"{one}/check"),
        page(cancel, "POST", f"{one}/cancel"),
        page(edit, "POST", f"{one}/edit"),
        page(set_details, "POST", f"{one}/details"),
        page(set_paid, "POST", f"{one}/paid"),
        page(language, "POST", f"{one}/language"),
        page(update, "POST", f"{one}/update"),
        page(all_clear, "POST", f"{one}/clear"),
    ]
