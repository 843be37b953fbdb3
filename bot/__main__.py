"""``python -m bot`` is the same as ``hrbot``."""

from bot.cli import main

main()
