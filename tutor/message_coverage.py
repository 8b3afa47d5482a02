"""Which of nstutor's own messages have no translation yet, for `nstutor lint`.

A message is marked in the code as `_("...")` or `ngettext("...", "...", n)` (tutor/i18n.py). This
reads the marks straight from the source with `ast` (Babel, which makes the catalogues, is a test
extra and may not be installed where lint runs) and looks each one up in the compiled catalogue
that nstutor itself reads, so what lint calls untranslated is exactly what a learner would see in
English. Nothing here fails: a missing translation falls back to English (tests/test_messages.py
is what fails on one).
"""
from __future__ import annotations

import ast
import gettext
from dataclasses import dataclass
from pathlib import Path

from .i18n import DOMAIN, LOCALE_DIR

PACKAGE = Path(__file__).resolve().parent
MARKERS = {"_", "N_", "ngettext"}


@dataclass(frozen=True)
class Message:
    msgid: str
    plural: str | None      # ngettext's plural form, None for _()
    where: str              # "tutor/cli.py:120"

    def __str__(self) -> str:
        return f"{self.where}: {self.msgid!r}"


def marked_messages(package: Path = PACKAGE) -> list[Message]:
    """Every literal message marked in *package*'s .py files, first mark of each msgid, in file order.
    A file that does not parse is skipped: that is Python's error to report, not lint's."""
    seen: dict[str, Message] = {}
    for path in sorted(package.rglob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
            if "_(" not in source and "ngettext(" not in source:     # (N_( holds "_(")
                continue                    # most files mark nothing: skip the parse
            tree = ast.parse(source, filename=str(path))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        where = f"{package.name}/{path.relative_to(package).as_posix()}"
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS):
                continue
            texts = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
                     for a in node.args[:2]]
            if not texts or texts[0] is None:
                continue                    # _(variable): not a message of its own
            plural = texts[1] if node.func.id == "ngettext" and len(texts) > 1 else None
            seen.setdefault(texts[0], Message(texts[0], plural, f"{where}:{node.lineno}"))
    return sorted(seen.values(), key=lambda m: (m.where.split(":")[0], int(m.where.split(":")[1])))


def untranslated(language: str, package: Path = PACKAGE, locale_dir: Path = LOCALE_DIR) -> list[Message]:
    """The marked messages that *language*'s compiled catalogue has no text for (all of them when
    the catalogue is missing or unreadable)."""
    try:
        with open(locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.mo", "rb") as mo:
            catalogue = gettext.GNUTranslations(mo)._catalog      # msgid, or (msgid, n) for plurals
    except (OSError, ValueError):
        catalogue = {}
    missing = []
    for message in marked_messages(package):
        key = (message.msgid, 0) if message.plural is not None else message.msgid
        if not catalogue.get(key):
            missing.append(message)
    return missing
