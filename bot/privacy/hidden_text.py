"""What masking hid in a community report, said in a coordinator's (or reporter's) words."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.words import Translator
from bot.privacy.masking import Kind

__all__ = ["hidden_line"]


def _count(t: Translator, kind: Kind, n: int) -> str:
    if kind is Kind.PHONE:
        return t.plural("{n} phone number", "{n} phone numbers", n)
    if kind is Kind.ADDRESS:
        return t.plural("{n} address", "{n} addresses", n)
    if kind is Kind.NAME:
        return t.plural("{n} name", "{n} names", n)
    if kind is Kind.USERNAME:
        return t.plural("{n} username", "{n} usernames", n)
    if kind is Kind.EMAIL:
        return t.plural("{n} e-mail address", "{n} e-mail addresses", n)
    return t.plural("{n} link", "{n} links", n)


def hidden_line(t: Translator, found: Mapping[Kind, int]) -> str:
    """``Hidden so no one can be identified: 2 phone numbers, 1 name.``; empty when nothing
    was."""
    items = [_count(t, kind, found[kind]) for kind in Kind if found.get(kind)]
    if not items:
        return ""
    return t("Hidden so no one can be identified: {items}.", items=t.join(items))
