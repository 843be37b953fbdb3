"""Alerts: compose, preview, send now, schedule (once or recurring), cancel, update, all clear.

Life of an alert::

    draft ─┬─ send_now ──────────────→ sending ── (outbox drains) ──→ sent
           ├─ schedule_once ─→ scheduled ─ fire ─┘
           ├─ schedule_recurring → scheduled template ─ fire → occurrence (sending → sent)
           └─ cancel (any time before sent) → cancelled

Sending *materialises* the audience: one :class:`Delivery` row per (alert, contact), written by
one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` so the audience never passes through Python
(memory stays flat however many subscribers) and can never hold a contact twice. The outbox
(:mod:`bot.services.outbox`) sends those rows.

A recurring alert is a template whose ``due_at`` is its next occurrence, in the areas' time
zone (:class:`Recurrence`). Firing advances the template with a conditional ``UPDATE ... WHERE
due_at = :seen`` and inserts the occurrence in the same transaction, so two instances firing at
once produce one occurrence, and a restart neither loses nor repeats one.

An update or all clear is a child alert sent to its parent's audience: those the parent reached
or is still reaching. An all clear also ends the parent: it expires now, and whoever had not
received it yet will not.

Every function is keyword-only and session-first; the caller owns the transaction and passes
``now``, so tests control the clock.

The package, one responsibility a module (a new alert field touches :mod:`.fields`, and
:mod:`.render` if it is shown)::

    model       AlertError and the views (AlertView, Tally, Preview, Fired, Finished)
    fields      validation of what coordinators write: fields, translations, areas, lifetime
    recurrence  typed local times, repeat rules (Recurrence), an alert's time zone
    reading     ORM rows to views; get, get_many, list_alerts, list_current
    drafts      create_draft, update_draft, mark_checked, create_follow_up
    render      render_alert and preview: the text people get
    details     its "current until", confidence, route advice and nearest sites lines
    audience    who receives an alert; materialising their deliveries
    reach       recipients per channel, a paid broadcast's cost and cap, time to reach all
    sending     send_now, cancel
    schedule    schedule_once, schedule_recurring, schedule_local
    firing      due_alert_ids, fire (the outbox tick)
    tallies     progress, tallies, finish_done
    purge       purge_deliveries (retention)
    photos      set_photo, remove_photo, photo_for: the stripped JPEG sent with an alert

Callers use this package's names (``from bot.services import alerts; alerts.send_now(...)``).
"""

from bot.db.models import FollowUp
from bot.services.alerts.audience import audience_by_channel, audience_size
from bot.services.alerts.details import confidence_label, route_label
from bot.services.alerts.drafts import create_draft, create_follow_up, mark_checked, update_draft
from bot.services.alerts.fields import (
    CONFIDENCES,
    DEFAULT_LIFETIME,
    FIELD_LIMITS,
    LIFETIME_CHOICES,
    MAX_FIELDS_TOTAL,
    MAX_LANGUAGES,
    ROUTES,
    SEVERITIES,
    check_confidence,
    check_field,
    check_locale,
    check_routes,
    check_text,
    validate_fields,
    validate_translation,
    validate_translations,
)
from bot.services.alerts.firing import due_alert_ids, fire
from bot.services.alerts.model import AlertError, AlertView, Finished, Fired, Preview, Tally
from bot.services.alerts.photos import drop_photo, has_photo, photo_for, remove_photo, set_photo
from bot.services.alerts.purge import purge_deliveries
from bot.services.alerts.reach import (
    DEFAULT_RATES,
    PAID_RATE,
    STARS_PER_MESSAGE,
    Pace,
    Reach,
    reach,
    set_paid,
)
from bot.services.alerts.reading import get, get_many, list_alerts, list_current
from bot.services.alerts.recurrence import (
    WHEN_FORMAT,
    Recurrence,
    local_when,
    repeat_rule,
    zone_for,
)
from bot.services.alerts.render import preview, render_alert
from bot.services.alerts.schedule import schedule_local, schedule_once, schedule_recurring
from bot.services.alerts.sending import cancel, send_now
from bot.services.alerts.tallies import finish_done, progress, tallies

__all__ = [
    "CONFIDENCES",
    "DEFAULT_LIFETIME",
    "DEFAULT_RATES",
    "FIELD_LIMITS",
    "LIFETIME_CHOICES",
    "MAX_FIELDS_TOTAL",
    "MAX_LANGUAGES",
    "PAID_RATE",
    "ROUTES",
    "SEVERITIES",
    "STARS_PER_MESSAGE",
    "WHEN_FORMAT",
    "AlertError",
    "AlertView",
    "Finished",
    "Fired",
    "FollowUp",
    "Pace",
    "Preview",
    "Reach",
    "Recurrence",
    "Tally",
    "audience_by_channel",
    "audience_size",
    "cancel",
    "check_confidence",
    "check_field",
    "check_locale",
    "check_routes",
    "check_text",
    "confidence_label",
    "create_draft",
    "create_follow_up",
    "drop_photo",
    "due_alert_ids",
    "finish_done",
    "fire",
    "get",
    "get_many",
    "has_photo",
    "list_alerts",
    "list_current",
    "local_when",
    "mark_checked",
    "photo_for",
    "preview",
    "progress",
    "purge_deliveries",
    "reach",
    "remove_photo",
    "render_alert",
    "repeat_rule",
    "route_label",
    "schedule_local",
    "schedule_once",
    "schedule_recurring",
    "send_now",
    "set_paid",
    "set_photo",
    "tallies",
    "update_draft",
    "validate_fields",
    "validate_translation",
    "validate_translations",
    "zone_for",
]
