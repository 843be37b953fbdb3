"""``/supplies``: choose kit, say where, confirm; the request goes to the nearest peer outlet.

::

    category → item → packs → basket ─(add more)→ category
                                  └─(done)→ location → confirm → sent
    common kit / same as last time ──→ location (or confirm, area known) → sent

Buttons: ``sup:<run>:<action>[:<arg>]`` (see :mod:`handlers.ui`). Each action is accepted only
at the steps listed for it, so an old button changes nothing. The shortcuts on the welcome and
the first screen, ``kit:<code>`` (a common kit from ``content/kits.yaml``) and ``again:sup``
(the items of the person's last request still stored), start a request afresh, like the menu's
buttons, so they never go stale.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.content import ItemSpec, KitSpec
from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option
from bot.core.routes import MenuCommand
from bot.core.words import Translator
from bot.domain import ItemCategory, RequestKind
from bot.privacy import AddressBox
from bot.services import requests
from bot.services.last_request import LastRequest, last_request
from handlers import location, offers, ui
from handlers.routes import ModuleRoutes

FLOW = "supplies"
PREFIX = "sup"
CATEGORIES = (ItemCategory.EQUIPMENT, ItemCategory.TEST_STRIPS, ItemCategory.DISPOSAL)
MAX_BASKET = 8  # different items in one request
ITEMS_PER_PAGE = 12  # a category's items on one screen where they fit (two to a row)
KIT = "kit"  # kit:<code>
AGAIN = "again"  # again:sup


class Step(StrEnum):
    CATEGORY = "category"
    ITEM = "item"
    PACKS = "packs"
    BASKET = "basket"
    LOCATION = "location"
    CONFIRM = "confirm"


# --- entry ---------------------------------------------------------------------------------------


async def start(ctx: Context) -> None:
    """Begin a new supplies request (after checking the open-request limit)."""
    place = _known_place(ctx)  # kept: a kit chosen next goes straight to the confirmation
    ctx.end()
    if await ui.open_requests(ctx) >= ui.MAX_OPEN_REQUESTS:
        ui.too_many(ctx)
        return
    quick = await _quick(ctx, place)
    where = place.to_data() if place is not None else {}
    ctx.goto(FLOW, Step.CATEGORY, run=ui.new_run(), basket={}, **quick, **where)
    _show(ctx)


async def shortcuts(ctx: Context) -> list[Option]:
    """The common kits offered here and, when there is one, "Same as last time": buttons that
    start a request afresh (for the welcome)."""
    return _shortcut_options(ctx, await _quick(ctx, _known_place(ctx)))


async def on_kit(msg: Incoming, ctx: Context) -> None:
    """A ``kit:<code>`` button: the kit's items, then where (or confirm, area known)."""
    code = (msg.option or "").partition(":")[2]
    kit = ctx.deps.content.kits.by_code(code)
    await _begin_with(ctx, _kit_basket(ctx, kit) if kit is not None else {})


async def on_again(msg: Incoming, ctx: Context) -> None:
    """The ``again:sup`` button: the items of the person's last request still stored."""
    last = await _last(ctx)
    await _begin_with(ctx, await _basket_of(ctx, last.items) if last is not None else {})


async def _begin_with(ctx: Context, basket: dict[str, int]) -> None:
    """A new request holding ``basket``: ask where, or confirm at once if this conversation
    already knows the area."""
    place = _known_place(ctx)
    ctx.end()
    if not basket:
        ui.expired(ctx)  # a kit since removed from content/, or nothing left to repeat
        return
    if await ui.open_requests(ctx) >= ui.MAX_OPEN_REQUESTS:
        ui.too_many(ctx)
        return
    if place is None:
        ctx.goto(FLOW, Step.LOCATION, run=ui.new_run(), basket=basket)
    else:
        ctx.goto(FLOW, Step.CONFIRM, run=ui.new_run(), basket=basket, **place.to_data())
    _show(ctx)


def _known_place(ctx: Context) -> location.Place | None:
    """The place the current conversation has already been told, if any (any flow)."""
    place = location.Place.from_data(ctx.state.data) if ctx.state else None
    if place is None or ctx.deps.content.gazetteer.by_code(place.area_code) is None:
        return None
    return place


async def _last(ctx: Context) -> LastRequest | None:
    return await last_request(
        ctx.session, contact_id=ctx.person.contact_id, kind=RequestKind.EQUIPMENT
    )


async def _basket_of(ctx: Context, items: dict[int, int]) -> dict[str, int]:
    """Item ids → packs as a basket of what the catalogue still allows (at most its limits)."""
    codes = {item_id: code for code, item_id in (await ui.item_ids(ctx)).items()}
    basket: dict[str, int] = {}
    for item_id, packs in items.items():
        spec = _spec(ctx, codes.get(item_id))
        if spec is not None and packs >= 1 and len(basket) < MAX_BASKET:
            basket[spec.code] = min(packs, spec.max_packs)
    return basket


def _kit_basket(ctx: Context, kit: KitSpec) -> dict[str, int]:
    basket: dict[str, int] = {}
    for code, packs in kit.items.items():
        spec = _spec(ctx, code)
        if spec is not None:
            basket[code] = min(packs, spec.max_packs)
    return basket


async def _quick(ctx: Context, place: location.Place | None) -> dict[str, object]:
    """Which shortcuts to offer, for the conversation state: kit codes (the area's list when
    known, from this conversation or the last request) and whether "same as last time" is."""
    last = await _last(ctx)
    again = last is not None and bool(await _basket_of(ctx, last.items))
    area = place.area_code if place else last.area_code if last else None
    kits = [k.code for k in ctx.deps.content.kits.offered(area) if _kit_basket(ctx, k)]
    return {"kits": kits, "again": again}


def _shortcut_options(ctx: Context, quick: dict[str, object]) -> list[Option]:
    catalogue = ctx.deps.content.kits
    codes = quick.get("kits")
    kits = (
        [catalogue.by_code(c) for c in codes if isinstance(c, str)]
        if isinstance(codes, list)
        else []
    )
    options = [Option(ctx.tr(k.name), f"{KIT}:{k.code}", wide=True) for k in kits if k]
    if quick.get("again") is True:
        options.append(Option(ctx.tr("Same as last time"), f"{AGAIN}:{PREFIX}", wide=True))
    return options


async def on_command(msg: Incoming, ctx: Context) -> None:
    """``/supplies``."""
    await start(ctx)


# --- state ---------------------------------------------------------------------------------------


def _basket(ctx: Context) -> dict[str, int]:
    """The basket, keeping only items and counts the catalogue still allows."""
    raw = ctx.state.data.get("basket") if ctx.state else None
    basket: dict[str, int] = {}
    if isinstance(raw, dict):
        for code, packs in raw.items():
            spec = _spec(ctx, code)
            if spec is not None and isinstance(packs, int) and 1 <= packs <= spec.max_packs:
                basket[code] = packs
    return basket


def _spec(ctx: Context, code: object) -> ItemSpec | None:
    """A catalogue item people may ask for here (not naloxone: that is /naloxone)."""
    if not isinstance(code, str):
        return None
    spec = ctx.deps.content.catalogue.by_code(code)
    return spec if spec is not None and spec.category in CATEGORIES else None


def _category(ctx: Context) -> ItemCategory | None:
    raw = ctx.state.data.get("category") if ctx.state else None
    return next((c for c in CATEGORIES if c.value == raw), None)


def _page(ctx: Context) -> int:
    raw = ctx.state.data.get("page") if ctx.state else None
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else 0


def _items(ctx: Context, category: ItemCategory) -> list[ItemSpec]:
    return ctx.deps.content.catalogue.in_category(category)


def _button(ctx: Context, label: str, action: str, arg: object = None) -> Option:
    return Option(label, ui.payload(PREFIX, ui.run_tag(ctx), action, arg))


# --- rendering -----------------------------------------------------------------------------------


def _show(ctx: Context, hint: str = "") -> None:
    """Ask the question of the current step again (``hint`` first, if any)."""
    assert ctx.state is not None
    step = ctx.state.step
    if step == Step.CATEGORY:
        _show_categories(ctx, hint)
    elif step in (Step.ITEM, Step.PACKS):
        spec = _spec(ctx, ctx.state.data.get("item"))
        if step == Step.PACKS and spec is not None:
            _show_packs(ctx, spec, hint)
        else:
            _show_items(ctx, _page(ctx), hint)
    elif step == Step.BASKET:
        _show_basket(ctx, hint)
    elif step == Step.LOCATION:
        location.prompt(ctx, PREFIX, ui.run_tag(ctx), lead=hint)
    else:
        _show_confirm(ctx, hint)


def _with_hint(hint: str, text: str) -> str:
    return f"{hint}\n\n{text}" if hint else text


def _category_label(tr: Translator, category: ItemCategory) -> str:
    if category is ItemCategory.TEST_STRIPS:
        return tr("Test strips")
    if category is ItemCategory.DISPOSAL:
        return tr("Sharps bins")
    return tr("Kit for injecting and smoking")


def _done_button(ctx: Context) -> list[Option]:
    count = len(_basket(ctx))
    if not count:
        return []
    label = ctx.tr.plural("Done ({n} item)", "Done ({n} items)", count)
    return [_button(ctx, label, "done")]


def _show_categories(ctx: Context, hint: str) -> None:
    assert ctx.state is not None
    # A shortcut replaces the basket: offered only while it is empty.
    options = [] if _basket(ctx) else _shortcut_options(ctx, ctx.state.data)
    options += [
        _button(ctx, _category_label(ctx.tr, category), "cat", category.value)
        for category in CATEGORIES
        if _items(ctx, category)
    ]
    options += [*_done_button(ctx), ui.back_to_menu(ctx.tr)]
    ctx.reply(_with_hint(hint, ctx.tr("What do you need?")), options)


def _show_items(ctx: Context, number: int, hint: str) -> None:
    category = _category(ctx) or CATEGORIES[0]
    specs = _items(ctx, category)
    choices = [_button(ctx, ctx.tr(spec.name), "item", spec.code) for spec in specs]
    options = ui.page(
        choices,
        number,
        more=ui.payload(PREFIX, ui.run_tag(ctx), "page"),
        back=[*_done_button(ctx), _button(ctx, ctx.tr("‹ Back"), "cats")],
        size=ITEMS_PER_PAGE,
        tr=ctx.tr,
    )
    pages = ui.pages_of(len(specs), ITEMS_PER_PAGE)
    # The kind of kit stays off the first line, which a lock screen shows.
    text = ctx.tr(
        "Choose one (page {page} of {pages}):\n{category}",
        category=_category_label(ctx.tr, category),
        page=min(number, pages - 1) + 1,
        pages=pages,
    )
    ctx.reply(_with_hint(hint, text), options, columns=2)


def _show_packs(ctx: Context, spec: ItemSpec, hint: str) -> None:
    if spec.pack_size == 1:
        text = ctx.tr("How many?\n{name}", name=ctx.tr(spec.name))
    else:
        text = ctx.tr(
            "How many packs?\n{name}: one pack is {size} {unit}.",
            name=ctx.tr(spec.name),
            size=spec.pack_size,
            unit=ctx.tr(spec.unit),
        )
    options = [_button(ctx, str(n), "packs", n) for n in range(1, spec.max_packs + 1)]
    options.append(_button(ctx, ctx.tr("‹ Back"), "page", _page(ctx)))
    ctx.reply(_with_hint(hint, text), options, columns=min(spec.max_packs, 5))


def _basket_lines(ctx: Context) -> list[str]:
    lines = []
    for code, packs in _basket(ctx).items():
        spec = _spec(ctx, code)
        if spec is not None:
            lines.append(ui.item_line(ctx.tr, spec, packs))
    return lines


def _show_basket(ctx: Context, hint: str) -> None:
    text = "\n".join([ctx.tr("Your request so far:"), *_basket_lines(ctx)])
    options = []
    if len(_basket(ctx)) < MAX_BASKET:
        options.append(_button(ctx, ctx.tr("Add something else"), "more"))
    options += [
        _button(ctx, ctx.tr("Done: choose where"), "done"),
        _button(ctx, ctx.tr("Start again"), "drop"),
    ]
    ctx.reply(_with_hint(hint, text), options)


def _show_confirm(ctx: Context, hint: str) -> None:
    assert ctx.state is not None
    place = location.Place.from_data(ctx.state.data)
    area = ctx.deps.content.gazetteer.by_code(place.area_code) if place else None
    lines = [ctx.tr("Please check your request:"), *_basket_lines(ctx)]
    if area is not None:
        lines.append(ctx.tr("Area: {area}", area=area.name))
    lines.append(ctx.tr("Send it?"))
    options = [
        _button(ctx, ctx.tr("Send request"), "yes"),
        _button(ctx, ctx.tr("Cancel"), "no"),
    ]
    ctx.reply(_with_hint(hint, "\n".join(lines)), options, columns=2)


# --- actions -------------------------------------------------------------------------------------

Action = Callable[[Context, ui.Press], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Route:
    run: Action
    steps: frozenset[Step]


async def _choose_category(ctx: Context, press: ui.Press) -> None:
    category = next((c for c in CATEGORIES if c.value == press.arg), None)
    if category is None or not _items(ctx, category):
        ui.expired(ctx)
        return
    ctx.goto(FLOW, Step.ITEM, category=category.value, page=0, item=None)
    _show(ctx)


async def _back_to_categories(ctx: Context, press: ui.Press) -> None:
    ctx.goto(FLOW, Step.CATEGORY, item=None)
    _show(ctx)


async def _turn_page(ctx: Context, press: ui.Press) -> None:
    category = _category(ctx)
    number = ui.as_int(press.arg)
    pages = ui.pages_of(len(_items(ctx, category)), ITEMS_PER_PAGE) if category else 0
    if category is None or number is None or number >= pages:
        ui.expired(ctx)
        return
    ctx.goto(FLOW, Step.ITEM, page=number, item=None)
    _show(ctx)


async def _choose_item(ctx: Context, press: ui.Press) -> None:
    spec = _spec(ctx, press.arg)
    if spec is None:
        ui.expired(ctx)
        return
    basket = _basket(ctx)
    if spec.code not in basket and len(basket) >= MAX_BASKET:
        ctx.goto(FLOW, Step.BASKET)
        _show(ctx, ctx.tr("That is as many different items as one request can hold."))
        return
    ctx.goto(FLOW, Step.PACKS, item=spec.code, category=spec.category.value)
    _show(ctx)


async def _choose_packs(ctx: Context, press: ui.Press) -> None:
    await _add(ctx, ui.as_int(press.arg))


async def _add(ctx: Context, packs: int | None) -> None:
    assert ctx.state is not None
    spec = _spec(ctx, ctx.state.data.get("item"))
    if spec is None or packs is None or not 1 <= packs <= spec.max_packs:
        ui.expired(ctx)
        return
    basket = {**_basket(ctx), spec.code: packs}
    ctx.goto(FLOW, Step.BASKET, basket=basket, item=None)
    _show(ctx)


async def _add_more(ctx: Context, press: ui.Press) -> None:
    if len(_basket(ctx)) >= MAX_BASKET:
        ui.expired(ctx)
        return
    ctx.goto(FLOW, Step.CATEGORY, item=None)
    _show(ctx)


async def _done(ctx: Context, press: ui.Press) -> None:
    if not _basket(ctx):
        ui.expired(ctx)
        return
    ctx.goto(FLOW, Step.LOCATION, item=None)
    _show(ctx)


async def _drop(ctx: Context, press: ui.Press) -> None:
    ctx.end()
    ui.show_menu(ctx, ctx.tr("Your request was cleared. Nothing was sent."))


async def _area(ctx: Context, press: ui.Press) -> None:
    place = location.on_press(ctx, press, PREFIX)
    if place is not None:
        _to_confirm(ctx, place)


def _to_confirm(ctx: Context, place: location.Place) -> None:
    ctx.goto(FLOW, Step.CONFIRM, **place.to_data())
    _show(ctx)


async def _send(ctx: Context, press: ui.Press) -> None:
    assert ctx.state is not None
    place = location.Place.from_data(ctx.state.data)
    basket = _basket(ctx)
    if place is None or not basket:
        ui.expired(ctx)
        return
    if await ui.open_requests(ctx) >= ui.MAX_OPEN_REQUESTS:
        ui.too_many(ctx)
        return
    ids = await ui.item_ids(ctx)
    request = await requests.create(
        ctx.session,
        contact_id=ctx.person.contact_id,
        kind=RequestKind.EQUIPMENT,
        items={ids[code]: packs for code, packs in basket.items() if code in ids},
        area_code=place.area_code,
        cell=(place.lat, place.lon),
        ttl=ctx.deps.config.request_ttl,
        now=ctx.now,
        box=AddressBox(ctx.deps.keys.address),
        own_peers=ctx.person.peer_ids,  # never offered to the asker's own outlet role
    )
    outcome = await offers.dispatch(ctx, request_id=request.id, lat=place.lat, lon=place.lon)
    ui.sent(ctx, outcome, request.reference)


async def _cancel(ctx: Context, press: ui.Press) -> None:
    ctx.end()
    ui.show_menu(ctx, ctx.tr("Cancelled. Nothing was sent."))


_CHOOSING = frozenset({Step.CATEGORY, Step.ITEM, Step.PACKS})
_ACTIONS: dict[str, _Route] = {
    "cat": _Route(_choose_category, _CHOOSING),
    "cats": _Route(_back_to_categories, frozenset({Step.ITEM, Step.PACKS})),
    "page": _Route(_turn_page, frozenset({Step.ITEM, Step.PACKS})),
    "item": _Route(_choose_item, frozenset({Step.ITEM, Step.PACKS})),
    "packs": _Route(_choose_packs, frozenset({Step.PACKS})),
    "more": _Route(_add_more, frozenset({Step.BASKET})),
    "done": _Route(_done, _CHOOSING | {Step.BASKET}),
    "drop": _Route(_drop, frozenset({Step.BASKET})),
    location.AREA: _Route(_area, frozenset({Step.LOCATION})),
    location.AREAS: _Route(_area, frozenset({Step.LOCATION})),
    "yes": _Route(_send, frozenset({Step.CONFIRM})),
    "no": _Route(_cancel, frozenset({Step.CONFIRM})),
}


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``sup:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    route = _ACTIONS.get(press.action) if press is not None else None
    if press is None or route is None or step not in route.steps:
        ui.expired(ctx)
        return
    await route.run(ctx, press)


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text or a shared location while choosing supplies."""
    assert ctx.state is not None
    step = ctx.state.step
    if step == Step.LOCATION:
        place = location.on_input(msg, ctx, PREFIX, ui.run_tag(ctx))
        if place is not None:
            _to_confirm(ctx, place)
        return
    spec = _spec(ctx, ctx.state.data.get("item"))
    typed = ui.as_int(msg.text.strip()) if msg.kind is InputKind.TEXT else None
    if step == Step.PACKS and spec is not None and typed and typed <= spec.max_packs:
        await _add(ctx, typed)  # typing "2" is as good as tapping it
        return
    if step not in set(Step):
        ui.expired(ctx)  # a step from an older version of this conversation
        return
    if msg.kind is InputKind.LOCATION and step == Step.CONFIRM:
        place = location.on_input(msg, ctx, PREFIX, ui.run_tag(ctx))  # moved: ask again for there
        if place is not None:
            _to_confirm(ctx, place)
        return
    if msg.kind is InputKind.LOCATION:
        _show(ctx, ctx.tr("Thanks. I'll ask where you are once your list is ready."))
        return
    _show(ctx, ui.please_choose(ctx))


async def on_unusable(msg: Incoming, ctx: Context) -> None:
    """A sticker, photo...: say what can be read, then this step's question and options."""
    assert ctx.state is not None
    if ctx.state.step in set(Step):
        _show(ctx, ui.unreadable(ctx))
    else:
        ui.expired(ctx)  # a step from an older version of this conversation


ROUTES = ModuleRoutes(
    commands={"supplies": on_command},
    options={PREFIX: on_option, KIT: on_kit, AGAIN: on_again},
    flows={FLOW: on_input},
    unusable={FLOW: on_unusable},
    menu=(MenuCommand("supplies", "Ask for kit: syringes, needles, test strips"),),
)
