from __future__ import annotations

import contextlib
import csv
import io
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content import (
    Catalogue,
    ContentError,
    Gazetteer,
    OpeningHours,
    OutletKind,
    OutletSpec,
    load_outlets,
)

Write = Callable[[str, str], Path]  # the `write` fixture (conftest.py)


YAML = """\
outlets:
  - key: table
    name: Main & Hastings peer table (demo)
    kind: peer
    area: dtes
    lat: 49.2812
    lon: -123.0994
    timezone: America/Vancouver
    instructions: Look for the green umbrella.
    hours: mon-fri 10:00-18:00
    stock:
      syr_1ml_29g: 40
      nalox_inj: 6
  - key: van
    name: Night van (demo)
    kind: van
    area: downtown
    lat: 49.2805
    lon: -123.1160
    instructions: |
      Knock on the side door.
      Give your code.
    hours:
      daily: ["21:00-03:00"]
    active: false
    low_threshold: 2
"""

HEADER = "key,name,kind,area,lat,lon,timezone,instructions,hours,active,stock,low_threshold\n"
ROW_1 = (
    "table,Main & Hastings peer table (demo),peer,dtes,49.2812,-123.0994,America/Vancouver,"
    "Look for the green umbrella.,mon-fri 10:00-18:00,true,syr_1ml_29g=40;nalox_inj=6,5\n"
)
ROW_2 = (
    'van,Night van (demo),van,downtown,49.2805,-123.1160,,"Knock on the side door.\n'
    'Give your code.",daily 21:00-03:00,false,,2\n'
)
CSV = HEADER + ROW_1 + ROW_2


def problems(path: Path, catalogue: Catalogue, gazetteer: Gazetteer) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_outlets(path, catalogue, gazetteer)
    return [str(p) for p in info.value.problems]


def test_shipped_demo_outlets_yaml_and_csv_are_equal(
    content_dir: Path, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    from_yaml = load_outlets(content_dir / "outlets.demo.yaml", catalogue, gazetteer)
    from_csv = load_outlets(content_dir / "outlets.demo.csv", catalogue, gazetteer)
    assert from_yaml == from_csv
    assert 6 <= len(from_yaml) <= 10
    assert {o.kind for o in from_yaml} == set(OutletKind)
    assert len({o.key for o in from_yaml}) == len(from_yaml)
    assert all("(demo)" in o.name for o in from_yaml)


def test_planted_yaml_and_csv_are_equal(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    from_yaml = load_outlets(write("o.yaml", YAML), catalogue, gazetteer)
    from_csv = load_outlets(write("o.csv", CSV), catalogue, gazetteer)
    assert from_yaml == from_csv
    table, van = from_yaml
    assert table.stock == {"syr_1ml_29g": 40, "nalox_inj": 6}
    assert table.low_threshold == 5
    assert table.active
    assert van.timezone == "America/Vancouver"  # from the area
    assert van.instructions == "Knock on the side door.\nGive your code."
    assert van.stock == {}
    assert van.hours == OpeningHours.parse("daily 21:00-03:00")


def test_yml_extension_and_upper_case(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    assert len(load_outlets(write("o.YML", YAML), catalogue, gazetteer)) == 2


def test_is_open(write: Write, catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    table, van = load_outlets(write("o.yaml", YAML), catalogue, gazetteer)
    monday_noon = datetime(2026, 7, 6, 19, 0, tzinfo=UTC)
    assert table.is_open(monday_noon)
    assert table.zone.key == "America/Vancouver"
    assert not van.is_open(datetime(2026, 7, 7, 5, 0, tzinfo=UTC))  # 22:00, but inactive


def test_csv_bom_crlf_blank_and_comment_lines(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer, tmp_path: Path
) -> None:
    text = "# a comment\n\n" + CSV.replace("\n", "\r\n", 3)
    path = tmp_path / "o.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_outlets(path, catalogue, gazetteer) == load_outlets(
        write("plain.csv", CSV), catalogue, gazetteer
    )


def _spreadsheet_csv(path: Path, text: str, delimiter: str) -> Path:
    """``text`` saved as a spreadsheet in a decimal-comma locale does: BOM, CRLF, 49,28."""
    rows = list(csv.reader(io.StringIO(text)))
    start = next(n for n, row in enumerate(rows) if row[0] == "key")
    header = rows[start]
    for row in rows[start + 1 :]:
        for column in ("lat", "lon"):
            row[header.index(column)] = row[header.index(column)].replace(".", ",")
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return path


def test_csv_semicolon_separated_as_spreadsheets_save_it(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer, tmp_path: Path
) -> None:
    path = _spreadsheet_csv(tmp_path / "o.csv", "# saved by a spreadsheet\n" + CSV, ";")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf# saved by a spreadsheet\r\nkey;name;kind;")
    assert b';"syr_1ml_29g=40;nalox_inj=6";' in raw  # cells holding ";" are quoted
    assert b";49,2812;-123,0994;" in raw
    assert load_outlets(path, catalogue, gazetteer) == load_outlets(
        write("plain.csv", CSV), catalogue, gazetteer
    )


def test_csv_decimal_comma_only_in_a_semicolon_file(
    catalogue: Catalogue, gazetteer: Gazetteer, tmp_path: Path
) -> None:
    # A comma-separated file is not from a decimal-comma locale: 49,28 is reported, not guessed.
    path = _spreadsheet_csv(tmp_path / "o.csv", CSV, ",")
    assert problems(path, catalogue, gazetteer)[:2] == [
        f"{path}:2: lat: Input should be a valid number, unable to parse string as a number",
        f"{path}:2: lon: Input should be a valid number, unable to parse string as a number",
    ]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (ROW_1 + ROW_2, ""),  # the header row was left out
        (CSV.replace(",", "\t"), " (it looks tab-separated)"),
        ("a|b|c\n1|2|3\n", ""),
    ],
)
def test_csv_without_a_header_is_one_line(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer, text: str, hint: str
) -> None:
    path = write("o.csv", text)
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:1: the first row must name the columns{hint}: key, name, kind, area, lat, lon,"
        " timezone, instructions, hours, active, stock, low_threshold, meets_nearby, separated by"
        " commas or semicolons"
    ]


def test_csv_in_a_windows_code_page_says_save_as_utf8(
    catalogue: Catalogue, gazetteer: Gazetteer, tmp_path: Path
) -> None:
    path = tmp_path / "o.csv"
    path.write_bytes(CSV.replace("Look for", "Don\u2019t miss").encode("cp1252"))
    assert problems(path, catalogue, gazetteer) == [
        f"{path}: not UTF-8 text (invalid start byte): save it as UTF-8"
    ]


def test_csv_optional_columns_may_be_left_out(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    text = (
        "key,name,kind,area,lat,lon,instructions,hours\n"
        "p,Pharmacy (demo),pharmacy,fairview,49.264,-123.129,Ask at the counter.,"
        "daily 09:00-17:00\n"
    )
    [outlet] = load_outlets(write("o.csv", text), catalogue, gazetteer)
    assert outlet.active
    assert outlet.stock == {}
    assert outlet.timezone == "America/Vancouver"


def test_csv_bad_lat_reports_line_and_column(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    path = write("o.csv", CSV.replace("49.2805", "north"))
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:3: lat: Input should be a valid number, unable to parse string as a number"
    ]


def test_csv_collects_every_row_problem(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    # Row 2 spans lines 3-4; the row after it starts on line 5.
    text = CSV.replace("-123.0994", "-200") + ROW_2.replace("van,", "van3,", 1).replace(
        "false", "maybe"
    )
    path = write("o.csv", text)
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:2: lon: Input should be greater than or equal to -180",
        f"{path}:5: active: Input should be a valid boolean, unable to interpret input",
    ]


def test_csv_unknown_item_code_in_stock(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    path = write("o.csv", CSV.replace("nalox_inj=6", "unicorn=6"))
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:2: stock: unicorn: unknown item code 'unicorn'"
    ]


@pytest.mark.parametrize(
    ("stock", "message"),
    [
        ("syr_1ml_29g", "cannot read 'syr_1ml_29g': expected code=quantity"),
        ("=4", "cannot read '=4': expected code=quantity"),
        ("fts=1;fts=2", "item 'fts' listed twice"),
        ("fts=-1", "fts: Input should be greater than or equal to 0"),
        ("fts=lots", "fts: Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_csv_bad_stock(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer, stock: str, message: str
) -> None:
    path = write("o.csv", CSV.replace("syr_1ml_29g=40;nalox_inj=6", stock))
    assert problems(path, catalogue, gazetteer) == [f"{path}:2: stock: {message}"]


def test_csv_header_problems(write: Write, catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    path = write("o.csv", "# comment\n" + CSV.replace("lat,lon,", "latitude,lon,lon,", 1))
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:2: latitude: unknown column (expected key, name, kind, area, lat, lon, timezone,"
        " instructions, hours, active, stock, low_threshold, meets_nearby)",
        f"{path}:2: lon: column appears twice",
        f"{path}:2: lat: missing column",
    ]


def test_csv_wrong_number_of_cells(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    path = write("o.csv", CSV.replace(",5\n", ",5,extra\n"))
    assert problems(path, catalogue, gazetteer) == [f"{path}:2: expected 12 columns, found 13"]


def test_csv_duplicate_key(write: Write, catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    path = write("o.csv", CSV + ROW_1)
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:5: key: duplicate key 'table' (first on line 2)"
    ]


def test_csv_unknown_timezone(write: Write, catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    path = write("o.csv", CSV.replace("America/Vancouver", "America/Gotham"))
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:2: timezone: unknown time zone 'America/Gotham'"
        " (use an IANA name like 'America/Vancouver')"
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "file is empty"),
        ("# only a comment\n\n", None, "file is empty"),
        (HEADER, 1, "no outlets after the header"),
        (HEADER + 'a,"x"y,b\n', 2, "CSV syntax error: ',' expected after '\"'"),
        (
            HEADER + 'a,"unclosed\nb\nc\n',
            2,
            "CSV syntax error: unexpected end of data (noticed on line 4)",
        ),
    ],
)
def test_csv_empty_or_broken(
    write: Write,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    text: str,
    line: int | None,
    message: str,
) -> None:
    path = write("o.csv", text)
    where = f"{path}:{line}" if line else str(path)
    assert problems(path, catalogue, gazetteer) == [f"{where}: {message}"]


def test_yaml_unknown_item_code_in_stock(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    path = write("o.yaml", YAML.replace("nalox_inj: 6", "nalox_injj: 6"))
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:13: outlets[0].stock.nalox_injj: unknown item code 'nalox_injj'"
        " (did you mean 'nalox_inj'?)"
    ]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("syr_1ml_29g: 40", "syr_1ml_29g: -1", 12, "outlets[0].stock.syr_1ml_29g",
         "Input should be greater than or equal to 0"),
        ("area: downtown", "area: atlantis", 17, "outlets[1].area", "unknown area 'atlantis'"),
        ("kind: van", "kind: bicycle", 16, "outlets[1].kind",
         "Input should be 'peer', 'pharmacy', 'fixed_site' or 'van'"),
        ("low_threshold: 2", "low_threshold: -2", 26, "outlets[1].low_threshold",
         "Input should be greater than or equal to 0"),
        ("timezone: America/Vancouver", "timezone: Vancouver", 8, "outlets[0].timezone",
         "unknown time zone 'Vancouver' (use an IANA name like 'America/Vancouver')"),
        ("    active: false\n", "    active: false\n    secret: x\n", 26, "outlets[1].secret",
         "unknown field (allowed: key, name, kind, area, lat, lon, timezone, instructions,"
         " hours, active, stock, low_threshold, meets_nearby)"),
    ],
)  # fmt: skip
def test_yaml_bad_field(
    write: Write,
    catalogue: Catalogue,
    gazetteer: Gazetteer,
    old: str,
    new: str,
    line: int,
    field: str,
    message: str,
) -> None:
    assert YAML.count(old) == 1
    path = write("o.yaml", YAML.replace(old, new))
    assert problems(path, catalogue, gazetteer) == [f"{path}:{line}: {field}: {message}"]


def test_yaml_duplicate_key(write: Write, catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    path = write("o.yaml", YAML.replace("key: van", "key: table"))
    assert problems(path, catalogue, gazetteer) == [
        f"{path}:14: outlets[1].key: duplicate key 'table' (first on line 2)"
    ]


def test_yaml_empty(write: Write, catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    path = write("o.yaml", "# nothing yet\n")
    assert problems(path, catalogue, gazetteer) == [f"{path}: file is empty"]


@pytest.mark.parametrize("name", ["outlets.json", "outlets.txt", "outlets"])
def test_unsupported_file_type(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer, name: str
) -> None:
    path = write(name, "{}")
    [problem] = problems(path, catalogue, gazetteer)
    assert problem.startswith(f"{path}: unsupported file type")
    assert problem.endswith("use .yaml, .yml or .csv")


def test_direct_construction_without_context() -> None:
    outlet = OutletSpec(
        key="k",
        name="N (demo)",
        kind=OutletKind.FIXED_SITE,
        area="anywhere",
        lat=1,
        lon=2,
        timezone="UTC",
        instructions="Go in.",
        hours=OpeningHours.parse("24/7"),
        stock={"anything": 1},
    )
    assert outlet.model_dump()["hours"] == "24/7"


_CELLS = st.sampled_from(
    ["table", "dtes", "peer", "49.2", "-123.1", "", '"', "\n", ",", "fts=1;x", "mon 10:00-12:00",
     "nan", "true", "#", "1e999", "America/Vancouver", "\r\n"]
)  # fmt: skip


@settings(deadline=None)
@given(st.lists(_CELLS, max_size=40).map(",".join))
def test_any_csv_body_loads_or_raises_content_error(
    catalogue: Catalogue, gazetteer: Gazetteer, body: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "o.csv"
        path.write_text(HEADER + body, encoding="utf-8")
        with contextlib.suppress(ContentError):  # anything else fails the test
            load_outlets(path, catalogue, gazetteer)


def test_meets_nearby_from_yaml_and_csv(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    yaml_text = YAML.replace(
        "    low_threshold: 2\n", "    low_threshold: 2\n    meets_nearby: true\n"
    )
    csv_text = (
        HEADER.replace("low_threshold\n", "low_threshold,meets_nearby\n")
        + ROW_1.replace(",5\n", ",5,\n")
        + ROW_2.replace(",2\n", ",2,true\n")
    )
    from_yaml = load_outlets(write("o.yaml", yaml_text), catalogue, gazetteer)
    from_csv = load_outlets(write("o.csv", csv_text), catalogue, gazetteer)
    assert from_yaml == from_csv
    assert [o.meets_nearby for o in from_yaml] == [False, True]
