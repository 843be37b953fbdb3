"""What makes an alert one people can act on and weigh: until when it is current, how sure the
group is, what to do differently per route of use, and the nearest drug checking and supervised
consumption sites. Each a line of :func:`~bot.services.alerts.render.render_alert`, only when
it applies; every label from the reader's catalogue.

The wording of confidences and routes lives here too (:func:`confidence_label`,
:func:`route_label`), so the chat and the console offer them in the same words.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from bot.content import Directory, Gazetteer, ReferralService, ServiceType
from bot.core.words import Translator
from bot.db.models import EVERYWHERE, FollowUp
from bot.domain import AlertKind
from bot.services.alerts.model import AlertView
from bot.services.alerts.recurrence import WHEN_FORMAT, zone_for

# A weekday alone names the next seven days; further out the date is said too.
_WEEKDAY_ENOUGH: Final = timedelta(days=6)

# At most this many sites of each type, whatever the number of areas (the nearest per area,
# in the alert's area order): a short alert is read, a long one skimmed.
MAX_SITES_PER_TYPE: Final = 2

# The services an alert points to, in the order shown.
SITE_TYPES: Final = (ServiceType.DRUG_CHECKING, ServiceType.SUPERVISED_CONSUMPTION)


def confidence_label(t: Translator, confidence: str) -> str:
    """``Confirmed by drug checking`` / ``Seen by peers`` / ``Community report, not
    confirmed``: the line recipients read, and the choice coordinators pick."""
    labels = {
        "checked": t("Confirmed by drug checking"),
        "peers": t("Seen by peers"),
        "community": t("Community report, not confirmed"),
    }
    return labels.get(confidence, confidence)


def route_label(t: Translator, route: str) -> str:
    """A route of use as a coordinator chooses it (``Smoked``)."""
    labels = {
        "smoked": t("Smoked"),
        "injected": t("Injected"),
        "snorted": t("Snorted"),
        "swallowed": t("Swallowed"),
    }
    return labels.get(route, route)


def route_advice(t: Translator, route: str) -> str:
    """What to do differently when using it that way: fixed harm-reduction advice."""
    advice = {
        "smoked": t(
            "Smoking: take one small hit first and wait a few minutes before the next; "
            "don't use alone."
        ),
        "injected": t(
            "Injecting: test a tiny amount first, go slow, don't use alone; have naloxone ready."
        ),
        "snorted": t(
            "Snorting: start with a small line and wait; use your own straw, don't share it."
        ),
        "swallowed": t(
            "Swallowing: it takes longer to kick in; wait at least an hour before taking more."
        ),
    }
    return advice.get(route, route)


def _weekdays(t: Translator) -> tuple[str, ...]:
    return (
        t("Monday"),
        t("Tuesday"),
        t("Wednesday"),
        t("Thursday"),
        t("Friday"),
        t("Saturday"),
        t("Sunday"),
    )


def _short_weekdays(t: Translator) -> tuple[str, ...]:
    return (t("Mon"), t("Tue"), t("Wed"), t("Thu"), t("Fri"), t("Sat"), t("Sun"))


def until(alert: AlertView, now: datetime | None) -> datetime | None:
    """When the alert stops being current: its expiry once sent; for one not sent yet, its
    lifetime from when it is due (or from ``now``: "if sent now"). None for an all clear,
    and for an unsent alert when ``now`` is not given."""
    if alert.follow_up is FollowUp.ALL_CLEAR:
        return None
    if alert.expires_at is not None and alert.recurrence is None:
        return alert.expires_at
    start = alert.due_at or now
    return start + alert.lifetime if start is not None else None


def until_line(
    alert: AlertView, t: Translator, gazetteer: Gazetteer, now: datetime | None
) -> str | None:
    """``Current until Friday 18:00``, in the areas' time zone."""
    end = until(alert, now)
    if end is None:
        return None
    local = end.astimezone(zone_for(alert.areas, gazetteer))
    day = _weekdays(t)[local.weekday()]
    start = alert.issued_at or alert.due_at or now or end
    if end - start >= _WEEKDAY_ENOUGH:
        when = f"{day} {local.strftime(WHEN_FORMAT)}"
    else:
        when = f"{day} {local.strftime('%H:%M')}"
    return t("Current until {when}", when=when)


def confidence_line(alert: AlertView, t: Translator) -> str | None:
    if alert.confidence is None or alert.follow_up is FollowUp.ALL_CLEAR:
        return None
    return confidence_label(t, alert.confidence)


def route_lines(alert: AlertView, t: Translator) -> list[str]:
    """A lead line and one line of advice per route (none for an all clear)."""
    if not alert.routes or alert.follow_up is FollowUp.ALL_CLEAR:
        return []
    return [t("What to do differently:"), *(f"• {route_advice(t, r)}" for r in alert.routes)]


def nearest_sites(
    alert: AlertView, gazetteer: Gazetteer, directory: Directory | None
) -> list[ReferralService]:
    """The nearest drug checking and supervised consumption site to each area's centre, each
    once, at most :data:`MAX_SITES_PER_TYPE` of a type; most wanted first (the first area's
    of each type, then the next area's...). None for an all clear, a service change, or
    everywhere (it has no centre)."""
    if (
        directory is None
        or alert.follow_up is FollowUp.ALL_CLEAR
        or alert.kind not in (AlertKind.BAD_BATCH, AlertKind.SAFETY)
    ):
        return []
    found: list[ReferralService] = []
    for code in alert.areas:
        area = gazetteer.by_code(code) if code != EVERYWHERE else None
        if area is None:
            continue
        for service_type in SITE_TYPES:
            if sum(s.type == service_type for s in found) >= MAX_SITES_PER_TYPE:
                continue
            for service in directory.nearest(service_type, area.lat, area.lon, limit=1):
                if service not in found:
                    found.append(service)
    return found


# Weekly hours longer than this are cut (with "…"): an alert names a site briefly.
SITE_HOURS_CHARS: Final = 60


def _hours(t: Translator, service: ReferralService) -> str:
    text = service.hours.describe(
        day_titles=_short_weekdays(t),
        daily=t("Daily"),
        always=t("24/7"),
        closed=t("Closed"),
        whole_day=t("24h"),
    )
    return text if len(text) <= SITE_HOURS_CHARS else text[: SITE_HOURS_CHARS - 1] + "…"


def site_lines(t: Translator, sites: list[ReferralService]) -> list[str]:
    """``Drug checking: <name>, <address> (<hours>)`` per site, drug checking first."""
    lines = []
    for service_type in SITE_TYPES:
        for site in (s for s in sites if s.type == service_type):
            params = {"name": site.name, "address": site.address, "hours": _hours(t, site)}
            if service_type is ServiceType.DRUG_CHECKING:
                lines.append(t("Drug checking: {name}, {address} ({hours})", **params))
            else:
                lines.append(t("Supervised consumption: {name}, {address} ({hours})", **params))
    return lines
