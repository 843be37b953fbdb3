"""Outlets: peer-run secondary NSP points, pharmacies, fixed sites and vans (YAML or CSV)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, ValidationInfo, model_validator

from bot.content.areas import Gazetteer
from bot.content.errors import ContentError, Problem
from bot.content.fields import (
    AreaRef,
    Code,
    Count,
    Hours,
    ItemRef,
    Latitude,
    Longitude,
    LongText,
    Name,
    Spec,
    TimeZoneName,
    default_timezone_from_area,
)
from bot.content.items import Catalogue
from bot.content.referrals import area_context
from bot.content.source import error_message, field_path, read_text, read_yaml, validate
from bot.domain import OutletKind

__all__ = ["CSV_COLUMNS", "OutletKind", "OutletSpec", "load_outlets"]

CSV_COLUMNS = (
    "key",
    "name",
    "kind",
    "area",
    "lat",
    "lon",
    "timezone",
    "instructions",
    "hours",
    "active",
    "stock",
    "low_threshold",
    "meets_nearby",
)
_OPTIONAL_COLUMNS = frozenset({"timezone", "active", "stock", "low_threshold", "meets_nearby"})


class OutletSpec(Spec):
    """An outlet as configured; ``instructions`` are shown only after a peer accepts."""

    key: Code
    name: Name
    kind: OutletKind
    area: AreaRef
    lat: Latitude
    lon: Longitude
    timezone: TimeZoneName
    instructions: LongText
    hours: Hours
    active: bool = True
    stock: dict[ItemRef, Count] = Field(default_factory=dict)
    low_threshold: Count = 5
    # Outreach: its peers also meet a person nearby, at a public place agreed through the
    # masked line (handlers/relay.py), instead of a pickup here.
    meets_nearby: bool = False

    @model_validator(mode="before")
    @classmethod
    def _fill_timezone(cls, data: Any, info: ValidationInfo) -> Any:
        return default_timezone_from_area(data, info)

    @property
    def zone(self) -> ZoneInfo:
        """The outlet's time zone."""
        return ZoneInfo(self.timezone)

    def is_open(self, at: datetime) -> bool:
        """Whether the outlet is active and open at the aware instant ``at``."""
        return self.active and self.hours.is_open(at, self.zone)


class _OutletsFile(Spec):
    outlets: tuple[OutletSpec, ...] = Field(min_length=1)


def load_outlets(path: Path, catalogue: Catalogue, gazetteer: Gazetteer) -> list[OutletSpec]:
    """Load outlets from ``.yaml``/``.yml`` (top-level ``outlets``) or ``.csv`` (``,`` or ``;``)."""
    context = {**area_context(gazetteer), "items": catalogue.codes}
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        document = read_yaml(path)
        problems = document.duplicates("outlets", "key")
        return list(validate(document, _OutletsFile, context=context, problems=problems).outlets)
    if suffix == ".csv":
        return _load_csv(path, context)
    raise ContentError.single(
        str(path), f"unsupported file type {suffix or '(none)'!r}: use .yaml, .yml or .csv"
    )


def _delimiter(text: str) -> str:
    """``;`` when the header row is semicolon-separated, else ``,``.

    Spreadsheets save CSV with semicolons wherever the comma is the decimal mark (much of Europe
    and Latin America) and changing that means changing system settings, so both are read. The
    header alone decides: its cells are known column names holding neither character, whereas
    data cells hold both (hours ``mon 10:00-14:00; sat ...``, stock ``a=1;b=2``), which can
    mislead csv.Sniffer.
    """
    for line in text.splitlines():
        if not line.strip(',; \t"') or line.lstrip(' "').startswith("#"):
            continue
        # A tie (no known name either way) stays with the comma: max keeps the first.
        return max((",", ";"), key=lambda delimiter: _known_columns(line, delimiter))
    return ","


def _known_columns(line: str, delimiter: str) -> int:
    try:
        cells = next(csv.reader([line], delimiter=delimiter))
    except csv.Error:
        return 0
    return sum(cell.strip() in CSV_COLUMNS for cell in cells)


def _decimal_point(value: str) -> str:
    """``49,28`` → ``49.28``: a semicolon file comes from a locale with a decimal comma."""
    whole, comma, fraction = value.partition(",")
    if comma and whole.lstrip("+-").isdigit() and fraction.isdigit():
        return f"{whole}.{fraction}"
    return value


def _csv_rows(file: str, text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """Non-blank, non-comment rows with the line each starts on (comments start with ``#``)."""
    # strict: a stray quote is an error, not silently glued into the cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            # Report the row's first line; an unclosed quote is only noticed much further on.
            seen_at = f" (noticed on line {reader.line_num})" if reader.line_num > line else ""
            raise ContentError.single(
                file, f"CSV syntax error: {exc}{seen_at}", line=line
            ) from None
        if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#"):
            rows.append((line, row))


def _parse_stock(cell: str) -> dict[str, str]:
    """``"code=qty;code=qty"`` → mapping; quantities are checked by the model."""
    stock: dict[str, str] = {}
    for part in cell.split(";"):
        if not part.strip():
            continue
        code, equals, quantity = part.partition("=")
        code = code.strip()
        if not equals or not code:
            raise ValueError(f"cannot read {part.strip()!r}: expected code=quantity")
        if code in stock:
            raise ValueError(f"item {code!r} listed twice")
        stock[code] = quantity.strip()
    return stock


def _load_csv(path: Path, context: dict[str, Any]) -> list[OutletSpec]:
    file = str(path)
    text = read_text(path)
    delimiter = _delimiter(text)
    rows = _csv_rows(file, text, delimiter)
    if not rows:
        raise ContentError.single(file, "file is empty")
    (header_line, raw_header), body = rows[0], rows[1:]
    header = [name.strip() for name in raw_header]
    if not any(name in CSV_COLUMNS for name in header):
        # One line, not one per column: the whole row is wrong (no header, tabs, another file).
        tabs = " (it looks tab-separated)" if any("\t" in name for name in header) else ""
        raise ContentError.single(
            file,
            f"the first row must name the columns{tabs}: {', '.join(CSV_COLUMNS)}, "
            "separated by commas or semicolons",
            line=header_line,
        )
    problems = [
        Problem(file, header_line, name, f"unknown column (expected {', '.join(CSV_COLUMNS)})")
        for name in header
        if name not in CSV_COLUMNS
    ]
    problems += [
        Problem(file, header_line, name, "column appears twice")
        for i, name in enumerate(header)
        if name in header[:i]
    ]
    problems += [
        Problem(file, header_line, name, "missing column")
        for name in CSV_COLUMNS
        if name not in header and name not in _OPTIONAL_COLUMNS
    ]
    if problems:
        raise ContentError(problems)
    if not body:
        raise ContentError.single(file, "no outlets after the header", line=header_line)

    outlets: list[OutletSpec] = []
    first_line: dict[str, int] = {}
    for line, row in body:
        if len(row) != len(header):
            problems.append(
                Problem(file, line, None, f"expected {len(header)} columns, found {len(row)}")
            )
            continue
        record: dict[str, Any] = {k: v.strip() for k, v in zip(header, row, strict=True)}
        record = {k: v for k, v in record.items() if v}  # empty cell → default
        if delimiter == ";":
            record.update({k: _decimal_point(record[k]) for k in ("lat", "lon") if k in record})
        key = record.get("key")
        if key in first_line:
            problems.append(
                Problem(
                    file, line, "key", f"duplicate key {key!r} (first on line {first_line[key]})"
                )
            )
        elif isinstance(key, str):
            first_line[key] = line
        if "stock" in record:
            try:
                record["stock"] = _parse_stock(record["stock"])
            except ValueError as exc:
                problems.append(Problem(file, line, "stock", str(exc)))
                continue
        try:
            outlets.append(OutletSpec.model_validate(record, context=context))
        except ValidationError as exc:
            problems.extend(_row_problems(file, line, exc))
    if problems:
        raise ContentError(problems)
    return outlets


def _row_problems(file: str, line: int, error: ValidationError) -> list[Problem]:
    """Problems for one CSV row: the field is the column; any deeper path leads the message."""
    problems = []
    for detail in error.errors(include_url=False):
        loc = detail["loc"]
        column = str(loc[0]) if loc else None
        inner = field_path(loc[1:])
        message = error_message(detail, CSV_COLUMNS)
        problems.append(Problem(file, line, column, f"{inner}: {message}" if inner else message))
    return problems
