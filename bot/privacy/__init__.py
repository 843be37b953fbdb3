"""Anonymity primitives: keys, pseudonyms, sealed addresses, coarse cells, codes, log redaction."""

from bot.privacy.addresses import AddressBox, AddressUnreadable
from bot.privacy.coarse import CoarseCell, hour_of, snap, validate_location
from bot.privacy.codes import (
    hash_code,
    new_invite_code,
    new_pickup_code,
    new_reference,
    normalise_code,
    verify_code,
)
from bot.privacy.keys import Keys, derive_keys, generate_secret
from bot.privacy.pseudonym import pseudonym
from bot.privacy.redaction import RedactionFilter, install_redaction, scrub

__all__ = [
    "AddressBox",
    "AddressUnreadable",
    "CoarseCell",
    "Keys",
    "RedactionFilter",
    "derive_keys",
    "generate_secret",
    "hash_code",
    "hour_of",
    "install_redaction",
    "new_invite_code",
    "new_pickup_code",
    "new_reference",
    "normalise_code",
    "pseudonym",
    "scrub",
    "snap",
    "validate_location",
    "verify_code",
]
