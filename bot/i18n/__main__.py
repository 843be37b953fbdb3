"""``python -m bot.i18n messages|compile|check|init LOCALE`` (the Makefile's targets call it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.content.errors import ContentError
from bot.i18n import PROJECT_ROOT, default_locales_dir


def main(argv: Sequence[str] | None = None) -> int:
    """Run one tool; the exit status is 1 when a check fails or a tool cannot work."""
    parser = argparse.ArgumentParser(prog="python -m bot.i18n", description=__doc__)
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help="the repository")
    parser.add_argument("--locales", type=Path, default=None, help="default: content/locales")
    tools = parser.add_subparsers(dest="tool", required=True)
    tools.add_parser("messages", help="extract strings, update the template and catalogues")
    tools.add_parser("compile", help="write .mo files beside the .po files")
    tools.add_parser("check", help="fail on anything a translator still has to do")
    init = tools.add_parser("init", help="start a catalogue for a new language")
    init.add_argument("locale", help="e.g. ps, uk, ar, fa_AF")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    locales_dir: Path = args.locales or default_locales_dir(root)

    # Imported here: `check` must not pay for what `messages` needs, and the reverse.
    from bot.i18n import catalogues, check

    try:
        if args.tool == "messages":
            updated = catalogues.update_messages(root, locales_dir)
            written = (["hrbot.pot"] if updated.template else []) + list(updated.catalogues)
            print(f"updated: {', '.join(written)}" if written else "catalogues are up to date")
        elif args.tool == "compile":
            for path in catalogues.compile_all(locales_dir):
                print(f"compiled {path}")
        elif args.tool == "init":
            print(f"created {catalogues.init_language(locales_dir, args.locale)}")
        else:
            problems = check.check(root, locales_dir)
            for line in problems:
                print(line)
            if problems:
                print(f"{len(problems)} catalogue problem(s)", file=sys.stderr)
                return 1
    except (ContentError, ValueError, OSError) as exc:
        print(f"i18n: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
