from __future__ import annotations

import bot.privacy


def test_public_names_are_exported() -> None:
    for name in bot.privacy.__all__:
        assert getattr(bot.privacy, name) is not None
    assert {"pseudonym", "AddressBox", "install_redaction", "snap", "hash_code"} <= set(
        bot.privacy.__all__
    )
