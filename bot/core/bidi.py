"""Right-to-left text that displays in order on Telegram and Signal.

In a Dari (or any right-to-left) reply, a reference like ``K7F-29Q``, a time range like
``10:00–18:00``, a phone number, a command like ``/status`` or a Latin name can be shown
scrambled: its digits and punctuation are reordered by the surrounding right-to-left text. The
cure (Unicode Bidirectional Algorithm, UAX #9) is to *isolate* such runs, and to start a line
that has no right-to-left letter of its own with a right-to-left mark so the client lays the
line out right to left. :func:`format_rtl` and :func:`finish` do both; the translator calls them
for right-to-left locales only, so this happens in one place.

A URL must stay on a left-to-right line (keep it untranslated): marks inside a link would end
the link where the client detects it.

Marks used: FSI … PDI (U+2068 … U+2069, "first strong isolate": the run keeps its own direction)
and RLM (U+200F). Both are invisible; input cleaning (:func:`bot.core.text.clean`) drops them
again when a person copies text back to the bot.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping

from babel import Locale, UnknownLocaleError

FSI = "\u2068"  # first strong isolate
LRI = "\u2066"  # left-to-right isolate
RLI = "\u2067"  # right-to-left isolate
PDI = "\u2069"  # pop directional isolate
RLM = "\u200f"  # right-to-left mark
MARKS = frozenset({FSI, LRI, RLI, PDI, RLM, "\u200e"})
"""Every invisible direction character this module may add (and LRM)."""

_OPENERS = frozenset({FSI, LRI, RLI})
# Characters that may start a left-to-right run when a letter or digit follows: /status, +93.
_RUN_PREFIX = frozenset("/+#@")
# Inside a left-to-right run, between two letters or digits: "1.8 mg", "10:00-18:00", "27G ½".
_RUN_JOINERS = frozenset(" .,:;/+-–—×½%'\"_")
_FORMATTER = string.Formatter()


def is_rtl_locale(locale: str) -> bool:
    """Whether ``locale`` (``fa_AF``, ``ar``, ``he``...) is written right to left, per CLDR."""
    try:
        return Locale.parse(locale.replace("-", "_")).character_order == "right-to-left"
    except (UnknownLocaleError, ValueError, TypeError):
        return False


def _strong(ch: str) -> str | None:
    kind = unicodedata.bidirectional(ch)
    if kind == "L":
        return "L"
    if kind in ("R", "AL"):
        return "R"
    return None


def has_rtl(text: str) -> bool:
    """Whether ``text`` holds a right-to-left letter (Arabic, Hebrew... script)."""
    return any(_strong(ch) == "R" for ch in text)


def _first_strong(line: str, *, skip_isolates: bool) -> str | None:
    depth = 0
    for ch in line:
        if ch in _OPENERS:
            depth += 1
        elif ch == PDI:
            depth = max(0, depth - 1)
        elif depth == 0 or not skip_isolates:
            kind = _strong(ch)
            if kind is not None:
                return kind
    return None


def _needs_isolating(value: str) -> bool:
    """A Latin letter or an ASCII digit outside any isolate: the runs bidi reorders."""
    depth = 0
    for ch in value:
        if ch in _OPENERS:
            depth += 1
        elif ch == PDI:
            depth = max(0, depth - 1)
        elif depth == 0 and (_strong(ch) == "L" or (ch.isascii() and ch.isdigit())):
            return True
    return False


def isolate(value: str) -> str:
    """``value`` wrapped in FSI … PDI when it holds a left-to-right run, line by line.

    A value that is already right-to-left text only (or empty) is left alone; a line break
    ends every isolate, so each line of a multi-line value is isolated on its own.
    """
    if "\n" in value:
        return "\n".join(isolate(line) for line in value.split("\n"))
    if not _needs_isolating(value):
        return value
    return f"{FSI}{value}{PDI}"


def _ltr_char(ch: str) -> bool:
    return (ch.isascii() and ch.isdigit()) or _strong(ch) == "L"


def _tokens(text: str) -> list[str]:
    """``text`` as single characters and whole (balanced) isolates."""
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] not in _OPENERS:
            tokens.append(text[i])
            i += 1
            continue
        depth, j = 0, i
        while j < n:
            if text[j] in _OPENERS:
                depth += 1
            elif text[j] == PDI:
                depth -= 1
                if depth == 0:
                    break
            j += 1
        tokens.append(text[i : j + 1])
        i = j + 1
    return tokens


def _ltr_atom(token: str) -> bool:
    """A letter or digit of a left-to-right run, or an isolate that reads left to right."""
    if len(token) == 1:
        return _ltr_char(token)
    if token[0] not in _OPENERS:
        return False
    inner = token[1:-1] if token.endswith(PDI) else token[1:]
    return token[0] == LRI or (token[0] == FSI and _first_strong(inner, skip_isolates=True) != "R")


def _run_start(tokens: list[str], i: int) -> bool:
    if _ltr_atom(tokens[i]):
        return True
    return (
        tokens[i] in _RUN_PREFIX
        and i + 1 < len(tokens)
        and len(tokens[i + 1]) == 1
        and _ltr_char(tokens[i + 1])
    )


def isolate_runs(text: str) -> str:
    """Wrap each left-to-right run of ``text`` (Latin words, ASCII numbers, ``/commands``,
    and isolates that read left to right, such as ``A`` + an isolated number) in FSI … PDI;
    trailing punctuation stays outside."""
    tokens = _tokens(text)
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        if not _run_start(tokens, i):
            out.append(tokens[i])
            i += 1
            continue
        end = k = i + 1
        while k < n and (_ltr_atom(tokens[k]) or tokens[k] in _RUN_JOINERS):
            k += 1
            if _ltr_atom(tokens[k - 1]):
                end = k
        run = "".join(tokens[i:end])
        single_isolate = end == i + 1 and len(tokens[i]) > 1
        out.append(run if single_isolate else f"{FSI}{run}{PDI}")
        i = end
    return "".join(out)


def mark_lines(text: str) -> str:
    """Start with RLM each line whose first letter is not right-to-left for every client.

    Clients that follow UAX #9 skip isolates when they pick a line's direction; older ones
    look at the first letter wherever it is; both must find a right-to-left one. A line that
    is genuinely left to right (its first letter outside isolates is Latin: an untranslated
    fallback, a coordinator's English text) is left as it is.
    """
    lines = []
    for line in text.split("\n"):
        outside = _first_strong(line, skip_isolates=True)
        anywhere = _first_strong(line, skip_isolates=False)
        if line.strip() and outside != "L" and not (outside == anywhere == "R"):
            line = RLM + line
        lines.append(line)
    return "\n".join(lines)


def finish(text: str) -> str:
    """A right-to-left text with no placeholders, made to display in order."""
    return mark_lines(isolate_runs(text))


def format_rtl(template: str, params: Mapping[str, object]) -> str:
    """``template.format(**params)`` for a right-to-left template: literal left-to-right runs
    and every placeholder value isolated, then each line marked (see :func:`mark_lines`).

    Raises what ``str.format`` raises (KeyError for a missing name, ValueError for a lone
    brace), so a broken translation fails the same way in every language.
    """
    parts: list[str] = []
    for literal, field, spec, conversion in _FORMATTER.parse(template):
        parts.append(literal)
        if field is None:
            continue
        value, _ = _FORMATTER.get_field(field, (), params)
        value = _FORMATTER.convert_field(value, conversion)
        spec = _FORMATTER.vformat(spec, (), params) if spec else ""
        parts.append(isolate(_FORMATTER.format_field(value, spec)))
    # One pass over the whole text, so "A" + an isolated number stays one run: "A12".
    return mark_lines(isolate_runs("".join(parts)))


def strip_marks(text: str) -> str:
    """``text`` without the marks this module adds (for comparing what people see)."""
    return "".join(ch for ch in text if ch not in MARKS)
