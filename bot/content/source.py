"""Reading content files: YAML that remembers line numbers; pydantic errors turned into problems.

Parsed YAML mappings and sequences are `LineDict`/`LineList`, plain `dict`/`list` subclasses that
also record the (1-based) line of every key and item, so an error deep inside a file can be reported
at the line a person has to edit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.content.errors import ContentError, Problem

M = TypeVar("M", bound=BaseModel)
Loc = Sequence[int | str]


class LineDict(dict[Any, Any]):
    """A YAML mapping with the line of the mapping and of each key."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}


class LineList(list[Any]):
    """A YAML sequence with the line of the sequence and of each item."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict(_line(node))
    # Yield first so anchors that refer back to this mapping can be resolved (PyYAML convention).
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = _line(key_node)


def _construct_seq(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList(_line(node))
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_lines.append(_line(item))


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry line numbers."""


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def field_path(loc: Loc) -> str:
    """Render a location as a dotted path: ``("items", 3, "size")`` → ``items[3].size``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("["):
            continue  # pydantic's "[key]" marker for a bad mapping key adds nothing for a reader
        else:
            out += f".{part}" if out else part
    return out


def error_message(error: ErrorDetails, allowed: Sequence[str] = ()) -> str:
    """A pydantic error message, reworded where pydantic's wording is unhelpful in a data file."""
    if error["type"] == "extra_forbidden":
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown field{hint}"
    message = error["msg"]
    return message.removeprefix("Value error, ")


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed YAML file: its name as given and its data (a LineDict at the top)."""

    file: str
    data: LineDict

    def locate(self, loc: Loc) -> int | None:
        """The line of the deepest part of ``loc`` that exists in the file."""
        node: Any = self.data
        line: int | None = self.data.line
        for part in loc:
            if isinstance(node, LineDict) and not isinstance(part, int) and part in node:
                line = node.key_lines.get(part, line)
                node = node[part]
            elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
                line = node.item_lines[part]
                node = node[part]
            else:
                break
        return line

    def problem(self, loc: Loc, message: str) -> Problem:
        """A problem at ``loc`` (a pydantic-style location)."""
        return Problem(self.file, self.locate(loc), field_path(loc) or None, message)

    def problems_from(self, error: ValidationError, model: type[BaseModel]) -> list[Problem]:
        """One problem per pydantic error."""
        details = error.errors(include_url=False)
        return [
            self.problem(
                detail["loc"], error_message(detail, _allowed_fields(model, detail["loc"]))
            )
            for detail in details
            if not _follows_from_inner_errors(detail, details)
        ]

    def duplicates(self, list_key: str, field: str) -> list[Problem]:
        """Problems for repeated values of ``field`` among the mappings in ``data[list_key]``."""
        items = self.data.get(list_key)
        if not isinstance(items, list):
            return []
        first: dict[str, int] = {}
        problems = []
        for index, item in enumerate(items):
            value = item.get(field) if isinstance(item, dict) else None
            if not isinstance(value, str):
                continue  # a missing or mistyped value is reported by validation
            if value in first:
                where = self.locate((list_key, first[value], field))
                problems.append(
                    self.problem(
                        (list_key, index, field),
                        f"duplicate {field} {value!r} (first on line {where})",
                    )
                )
            else:
                first[value] = index
        return problems


def _follows_from_inner_errors(detail: ErrorDetails, details: list[ErrorDetails]) -> bool:
    """A "too short" list whose items failed is only short because they failed: don't say so."""
    if detail["type"] != "too_short":
        return False
    loc = tuple(detail["loc"])
    return any(len(d["loc"]) > len(loc) and tuple(d["loc"])[: len(loc)] == loc for d in details)


def _allowed_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names allowed where an unknown field was found (walks nested models)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        args = getattr(annotation, "__args__", ())
        current = next((a for a in args if isinstance(a, type)), annotation)
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []


def read_text(path: Path) -> str:
    """The text of a content file, or a ContentError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ContentError.single(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise ContentError.single(
            str(path), f"not UTF-8 text ({exc.reason}): save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ContentError.single(str(path), f"cannot read file: {exc.strerror}") from None


def read_yaml(path: Path) -> Document:
    """Parse a YAML content file whose top level is a mapping.

    Syntax errors, an empty file, a non-mapping top level and duplicate keys all raise ContentError.
    """
    file = str(path)
    text = read_text(path)
    loader: _LineLoader | None = None
    try:
        loader = _LineLoader(text)  # already reads the text: rejects unprintable characters
        node = loader.get_single_node()
        duplicates = sorted(_duplicate_keys(file, node, (), set()), key=lambda p: p.line or 0)
        if duplicates:
            raise ContentError(duplicates)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        detail = ", ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise ContentError.single(file, f"YAML syntax error: {detail}", line=line) from None
    except yaml.YAMLError as exc:
        raise ContentError.single(file, f"YAML syntax error: {exc}") from None
    except RecursionError:
        raise ContentError.single(file, "YAML nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        raise ContentError.single(file, "file is empty")
    if not isinstance(data, LineDict):
        raise ContentError.single(file, "expected a mapping at the top level", line=1)
    return Document(file, data)


def _duplicate_keys(
    file: str, node: yaml.Node | None, loc: tuple[int | str, ...], seen: set[int]
) -> Iterator[Problem]:
    """Repeated keys anywhere in the composed tree (checked before a later key hides a value)."""
    if node is None or id(node) in seen:
        return  # aliases share nodes, and may even loop
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, Any], int] = {}
        for key_node, value_node in node.value:
            # Keys merged in with `<<` may be overridden; only explicit keys count as repeats.
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
            ident = (
                key_node.tag,
                key_node.value if isinstance(key_node, yaml.ScalarNode) else id(key_node),
            )
            if ident in first:
                yield Problem(
                    file,
                    _line(key_node),
                    field_path((*loc, name)),
                    f"duplicate key (first on line {first[ident]})",
                )
            else:
                first[ident] = _line(key_node)
            yield from _duplicate_keys(file, value_node, (*loc, name), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(file, item, (*loc, index), seen)


def validate(
    document: Document,
    model: type[M],
    *,
    context: dict[str, Any] | None = None,
    problems: Sequence[Problem] = (),
) -> M:
    """Validate the document as ``model``; raise ContentError with ``problems`` and any new ones."""
    found = list(problems)
    try:
        result = model.model_validate(document.data, context=context)
    except ValidationError as exc:
        new = document.problems_from(exc, model)
        if found:
            # A whole-file check (e.g. unique codes) fails at the top level for the same reason the
            # pre-checks already reported precisely; don't say it twice.
            new = [p for p in new if p.field is not None]
        found.extend(new)
    if found:
        raise ContentError(sorted(found, key=lambda p: p.line or 0))
    return result
