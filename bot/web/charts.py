"""Charts as inline SVG, drawn on the server: no script, no font or file from anywhere else.

Pure functions from numbers to an SVG string. Every text is escaped; labels arrive already
translated. ``rtl=True`` (for a right-to-left page) runs time from right to left and sets the
labels' direction, while numbers stay as they are. The output depends on the input only (fixed
decimals, no ids made up here), so tests compare it structurally: one ``<rect class="bar">``
per shown segment, heights proportional to values.

A value of None is a hidden count (``<5``) or a week without a statistic: it draws nothing, and
the column's tooltip says so (``hidden_text``). The page gives a table of the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["PALETTE", "Cell", "Series", "cell_grid", "line_chart", "stacked_bars"]

# Okabe-Ito: told apart with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
_PAD_TOP, _PAD_BOTTOM, _PAD_SIDE, _LEGEND = 12, 34, 44, 22
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

# Week codes are ~50 px wide at 11 px: seven fit under a 640 px chart with room between.
MAX_X_LABELS = 7


@dataclass(frozen=True, slots=True)
class Series:
    """One named row of values, one per label (None: nothing to draw there)."""

    label: str
    values: Sequence[float | None]
    colour: str = ""


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _shown(value: float | None, hidden_text: str) -> str:
    return hidden_text if value is None else _num(value)


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (the top of the scale)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value * 10:
        step /= 10
    for factor in (1, 2, 5, 10):
        if factor * step >= value:
            return factor * step
    return 10 * step


def _colour(series: Series, index: int) -> str:
    colour = series.colour or PALETTE[index % len(PALETTE)]
    # Only a hex colour reaches the attribute: nothing else can break out of it.
    return colour if re.fullmatch(r"#[0-9A-Fa-f]{3,8}", colour) else PALETTE[index % len(PALETTE)]


def _open(ident: str, title: str, desc: str, width: int, height: int, rtl: bool) -> list[str]:
    if not _IDENT.fullmatch(ident):
        raise ValueError("ident must be a letter then letters, digits, _ or -")
    direction = "rtl" if rtl else "ltr"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" aria-labelledby="{ident}-title {ident}-desc"'
        f' font-family="sans-serif" font-size="11" direction="{direction}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]


def _axis(
    parts: list[str], *, top: float, left: float, right: float, base: float, scale: float
) -> None:
    """Horizontal grid lines at 0, half and the top of the scale, numbers on the outer side."""
    for fraction in (0.0, 0.5, 1.0):
        y = base - (base - top) * fraction
        parts.append(
            f'<line class="grid" x1="{_num(left)}" y1="{_num(y)}" x2="{_num(right)}"'
            f' y2="{_num(y)}" stroke="#ccc" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="tick" x="{_num(left - 4)}" y="{_num(y + 4)}" text-anchor="end"'
            f' direction="ltr">{_num(scale * fraction)}</text>'
        )


def _x_labels(parts: list[str], labels: Sequence[str], centres: Sequence[float], y: float) -> None:
    """At most :data:`MAX_X_LABELS` labels under the axis, evenly spaced (first and last
    always), each read left to right: they are week codes (2026-W37), which a right-to-left
    run would show as W37-2026."""
    if not labels:
        return
    every = max(1, -(-len(labels) // MAX_X_LABELS))
    shown = set(range(0, len(labels), every)) | {len(labels) - 1}
    if len(labels) - 1 - max(shown - {len(labels) - 1}, default=0) <= every / 2:
        shown.discard(max(shown - {len(labels) - 1}, default=0))  # too close to the last
    for index in sorted(shown):
        parts.append(
            f'<text class="label" x="{_num(centres[index])}" y="{_num(y)}"'
            f' text-anchor="middle" direction="ltr" unicode-bidi="isolate">'
            f"{escape(labels[index])}</text>"
        )


def _legend(parts: list[str], series: Sequence[Series], width: int, y: float, rtl: bool) -> None:
    x = width - _PAD_SIDE if rtl else _PAD_SIDE
    for index, one in enumerate(series):
        box = x - 10 if rtl else x
        parts.append(
            f'<rect class="swatch" x="{_num(box)}" y="{_num(y - 9)}" width="10" height="10"'
            f' fill="{_colour(one, index)}"/>'
        )
        text_x = box - 4 if rtl else box + 14
        parts.append(
            f'<text class="legend" x="{_num(text_x)}" y="{_num(y)}" text-anchor="start"'
            f' direction="{"rtl" if rtl else "ltr"}">{escape(one.label)}</text>'
        )
        step = 24 + 7 * len(one.label)
        x = x - step if rtl else x + step


def _centres(count: int, left: float, right: float, rtl: bool) -> list[float]:
    slot = (right - left) / max(count, 1)
    centres = [left + slot * (index + 0.5) for index in range(count)]
    return centres[::-1] if rtl else centres


def stacked_bars(
    *,
    ident: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    hidden_text: str = "<5",
    width: int = 640,
    height: int = 240,
    rtl: bool = False,
) -> str:
    """One column per label, the series stacked in order from the bottom (a single series is a
    plain bar chart). Each column has a ``<title>`` listing its values for a pointer."""
    if any(len(one.values) != len(labels) for one in series):
        raise ValueError("every series needs one value per label")
    parts = _open(ident, title, desc, width, height, rtl)
    top, base = _PAD_TOP + (_LEGEND if series else 0), height - _PAD_BOTTOM
    left, right = _PAD_SIDE, width - _PAD_SIDE
    totals = [sum(one.values[i] or 0 for one in series) for i in range(len(labels))]
    scale = _nice_max(max(totals, default=0))
    ratio = (base - top) / scale
    slot = (right - left) / max(len(labels), 1)
    bar_width = max(1.0, slot * 0.7)
    centres = _centres(len(labels), left, right, rtl)
    _axis(parts, top=top, left=left, right=right, base=base, scale=scale)
    for index, label in enumerate(labels):
        tip = "; ".join(f"{one.label}: {_shown(one.values[index], hidden_text)}" for one in series)
        parts.append(f'<g class="column"><title>{escape(label)}: {escape(tip)}</title>')
        y = float(base)
        for number, one in enumerate(series):
            value = one.values[index]
            if value is None or value <= 0:
                continue
            bar = value * ratio
            y -= bar
            parts.append(
                f'<rect class="bar" data-series="{number}"'
                f' x="{_num(centres[index] - bar_width / 2)}" y="{_num(y)}"'
                f' width="{_num(bar_width)}" height="{_num(bar)}"'
                f' fill="{_colour(one, number)}"/>'
            )
        parts.append("</g>")
    _x_labels(parts, labels, centres, base + 16)
    if series:
        _legend(parts, series, width, _PAD_TOP + 10, rtl)
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    *,
    ident: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    width: int = 640,
    height: int = 240,
    rtl: bool = False,
) -> str:
    """One line per series (e.g. median and 90th percentile minutes to accept), broken where a
    value is None; a dot with a ``<title>`` at every value."""
    if any(len(one.values) != len(labels) for one in series):
        raise ValueError("every series needs one value per label")
    parts = _open(ident, title, desc, width, height, rtl)
    top, base = _PAD_TOP + (_LEGEND if series else 0), height - _PAD_BOTTOM
    left, right = _PAD_SIDE, width - _PAD_SIDE
    values = [v for one in series for v in one.values if v is not None]
    scale = _nice_max(max(values, default=0))
    ratio = (base - top) / scale
    centres = _centres(len(labels), left, right, rtl)
    _axis(parts, top=top, left=left, right=right, base=base, scale=scale)
    for number, one in enumerate(series):
        colour = _colour(one, number)
        runs: list[list[str]] = [[]]
        for index, value in enumerate(one.values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{_num(centres[index])},{_num(base - value * ratio)}")
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline class="line" data-series="{number}" points="{" ".join(run)}"'
                    f' fill="none" stroke="{colour}" stroke-width="2"/>'
                )
        for index, value in enumerate(one.values):
            if value is None:
                continue
            parts.append(
                f'<circle class="dot" data-series="{number}" cx="{_num(centres[index])}"'
                f' cy="{_num(base - value * ratio)}" r="2.5" fill="{colour}">'
                f"<title>{escape(labels[index])}: {escape(one.label)} {_num(value)}</title>"
                "</circle>"
            )
    _x_labels(parts, labels, centres, base + 16)
    if series:
        _legend(parts, series, width, _PAD_TOP + 10, rtl)
    parts.append("</svg>")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Cell:
    """One square of a grid: ``row`` grows northwards, ``col`` eastwards (None: hidden count)."""

    row: int
    col: int
    value: float | None
    label: str


def cell_grid(
    *,
    ident: str,
    title: str,
    desc: str,
    cells: Sequence[Cell],
    hidden_text: str = "<5",
    width: int = 640,
    max_height: int = 400,
    rtl: bool = False,
) -> str:
    """Cells laid out as they lie (north up, east right, also for right-to-left pages: it is a
    map), darker for more; a hidden count is drawn pale and hatched by its outline. Each square
    has a ``<title>`` with its label and value. Nothing but the squares: no map underneath."""
    if not cells:
        return "\n".join([*_open(ident, title, desc, width, 1, rtl), "</svg>"])
    rows = [c.row for c in cells]
    cols = [c.col for c in cells]
    top, left = max(rows), min(cols)
    across, down = max(cols) - left + 1, top - min(rows) + 1
    size = max(2.0, min(40.0, width / across, max_height / down))
    parts = _open(ident, title, desc, width, int(size * down) + 1, rtl)
    peak = max((c.value or 0 for c in cells), default=0) or 1
    for cell in cells:
        x, y = (cell.col - left) * size, (top - cell.row) * size
        if cell.value is None:
            fill, opacity, css = "#999999", 0.3, "cell hidden"
        else:
            fill, opacity, css = PALETTE[5], 0.25 + 0.75 * cell.value / peak, "cell"
        parts.append(
            f'<rect class="{css}" x="{_num(x)}" y="{_num(y)}" width="{_num(size - 1)}"'
            f' height="{_num(size - 1)}" fill="{fill}" fill-opacity="{_num(opacity)}"'
            f' stroke="#333333" stroke-width="0.5">'
            f"<title>{escape(cell.label)}: {escape(_shown(cell.value, hidden_text))}</title></rect>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
