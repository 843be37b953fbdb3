"""Server-side SVG charts: structure, proportions, escaping, right-to-left, no outside requests."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # our own output, not untrusted input

import pytest

from bot.web import charts
from bot.web.charts import MAX_X_LABELS, Series, line_chart, stacked_bars

SVG = "{http://www.w3.org/2000/svg}"
WEEKS = ["2026-W52", "2026-W53", "2027-W01"]


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (the SVG under test, made here)


def _bars(svg: str) -> list[ET.Element]:
    return _parse(svg).findall(f".//{SVG}rect[@class='bar']")


def _stacked(**kwargs: object) -> str:
    args: dict[str, object] = {
        "ident": "handed",
        "title": "Handed over & unrouted <per week>",
        "desc": "Requests per ISO week",
        "labels": WEEKS,
        "series": [Series("Handed over", [10, 20, None]), Series("Unrouted", [5, None, 40])],
    }
    args.update(kwargs)
    return stacked_bars(**args)  # type: ignore[arg-type]


def test_stacked_bars_structure_and_proportions() -> None:
    svg = _stacked()
    root = _parse(svg)  # well-formed XML
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "handed-title handed-desc"
    assert root.find(f"{SVG}title").text == "Handed over & unrouted <per week>"  # type: ignore[union-attr]
    assert "&lt;per week&gt;" in svg
    assert "&amp;" in svg
    assert root.find(f"{SVG}desc").text == "Requests per ISO week"  # type: ignore[union-attr]
    bars = _bars(svg)
    # One bar per shown, non-zero segment: hidden values draw nothing.
    assert [b.get("data-series") for b in bars] == ["0", "1", "0", "1"]
    heights = [float(b.get("height", "0")) for b in bars]
    values = [10, 5, 20, 40]
    ratios = {round(h / v, 6) for h, v in zip(heights, values, strict=True)}
    assert len(ratios) == 1  # heights proportional to values
    # Stacked: the second segment sits on top of the first.
    first, second = bars[0], bars[1]
    assert float(second.get("y", "0")) + float(second.get("height", "0")) == pytest.approx(
        float(first.get("y", "0"))
    )
    # Each column tells its numbers, hidden ones as "<5".
    tips = [t.text for t in root.findall(f".//{SVG}g[@class='column']/{SVG}title")]
    assert tips[1] == "2026-W53: Handed over: 20; Unrouted: <5"
    assert len(tips) == 3


def test_deterministic_and_self_contained() -> None:
    assert _stacked() == _stacked()
    svg = _stacked()
    # The only URL is the SVG namespace: no font, image, script or style from elsewhere.
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]
    for word in ("<script", "href", "@import", "url("):
        assert word not in svg


def test_labels_and_colours_are_escaped() -> None:
    svg = _stacked(
        labels=["<b>", 'a"b', "c'd"],
        series=[Series('x"><script>alert(1)</script>', [1, 2, 3], colour='red" onload="x')],
    )
    _parse(svg)
    assert "<script" not in svg
    assert "onload" not in svg
    assert "&lt;b&gt;" in svg


def test_right_to_left_runs_time_from_the_right() -> None:
    ltr = _bars(_stacked(series=[Series("n", [1, 2, 3])]))
    rtl_svg = _stacked(series=[Series("n", [1, 2, 3])], rtl=True, labels=["۱", "۲", "۳"])
    rtl = _bars(rtl_svg)
    x = [float(b.get("x", "0")) for b in ltr]
    assert x == sorted(x)
    assert [float(b.get("x", "0")) for b in rtl] == sorted(x, reverse=True)
    root = _parse(rtl_svg)
    assert root.get("direction") == "rtl"
    # Week codes under the axis and numbers on it read left to right, as written.
    labels = root.findall(f".//{SVG}text[@class='label']")
    assert {t.get("direction") for t in labels} == {"ltr"}
    assert {t.get("direction") for t in root.findall(f".//{SVG}text[@class='tick']")} == {"ltr"}


def test_line_chart_breaks_at_missing_values() -> None:
    svg = line_chart(
        ident="accept",
        title="Minutes to accept",
        desc="Median and 90th percentile",
        labels=["a", "b", "c", "d"],
        series=[Series("median", [5, 6, None, 8]), Series("p90", [20, 30, 40, 50])],
    )
    root = _parse(svg)
    lines = root.findall(f".//{SVG}polyline")
    # The median's line stops at the gap (a lone point after it draws only its dot).
    assert [(p.get("data-series"), len(p.get("points", "").split())) for p in lines] == [
        ("0", 2),
        ("1", 4),
    ]
    dots = root.findall(f".//{SVG}circle")
    assert len(dots) == 7
    # Heights proportional: 50 minutes twice as high above the axis as 25 would be.
    cy = {d.find(f"{SVG}title").text: float(d.get("cy", "0")) for d in dots}  # type: ignore[union-attr]
    base = cy["a: p90 20"] + (cy["a: p90 20"] - cy["b: p90 30"]) * 2  # 10 minutes a step
    assert base - cy["d: p90 50"] == pytest.approx(2.5 * (base - cy["a: p90 20"]))


def test_empty_and_bad_input() -> None:
    svg = stacked_bars(ident="empty", title="t", desc="d", labels=[], series=[])
    _parse(svg)
    assert _bars(svg) == []
    with pytest.raises(ValueError, match="one value per label"):
        _stacked(labels=["one"])
    with pytest.raises(ValueError, match="ident"):
        _stacked(ident='x" onload="y')


def test_a_cell_grid_lays_cells_out_north_up_and_hides_small_counts() -> None:
    svg = charts.cell_grid(
        ident="grid",
        title="Unrouted <by cell>",
        desc="d",
        cells=[
            charts.Cell(row=10, col=5, value=8, label="north-west"),
            charts.Cell(row=9, col=6, value=None, label="south-east"),
        ],
    )
    rects = re.findall(r'<rect class="([^"]+)" x="([^"]+)" y="([^"]+)"', svg)
    assert [(css, float(x), float(y)) for css, x, y in rects] == [
        ("cell", 0.0, 0.0),
        ("cell hidden", 40.0, 40.0),
    ]
    assert "<title>south-east: &lt;5</title>" in svg
    assert "Unrouted &lt;by cell&gt;" in svg
    assert "<rect" not in charts.cell_grid(ident="g", title="t", desc="d", cells=[])


def test_a_year_of_weeks_shows_a_few_labels_first_and_last_included() -> None:
    weeks = [f"2026-W{n:02d}" for n in range(1, 53)]
    svg = _stacked(series=[Series("n", [1.0] * 52)], labels=weeks)
    shown = [t.text for t in _parse(svg).findall(f".//{SVG}text[@class='label']")]
    assert len(shown) <= MAX_X_LABELS
    assert shown[0] == "2026-W01"
    assert shown[-1] == "2026-W52"
