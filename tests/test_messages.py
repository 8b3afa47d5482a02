"""The app's and the CLI's own words in Korean (issue 16): every message that tutor/ marks for
translation has a Korean text, with the same named placeholders, and the compiled catalogue is the
one the .po says. English is the messages themselves: nothing changes under an English locale."""
from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

babel = pytest.importorskip("babel", reason="Babel (the test extra) extracts and reads the catalogues")
from babel.messages.extract import extract_from_dir      # noqa: E402
from babel.messages.pofile import read_po                # noqa: E402

from tutor import i18n                                   # noqa: E402

REPO = Path(__file__).resolve().parent.parent
KO_PO = REPO / "tutor" / "locale" / "ko" / "LC_MESSAGES" / "nstutor.po"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{([a-z_]*)[^{}]*\}")


def marked() -> dict:
    """msgid (or (singular, plural)) -> where it is marked, as Babel extracts it from tutor/."""
    out = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(REPO / "tutor"), method_map=[("**.py", "python")], keywords=KEYWORDS):
        out[message] = f"tutor/{filename}:{lineno}"
    return out


def korean():
    with open(KO_PO, "rb") as f:
        return read_po(f, locale="ko")


def test_every_marked_message_has_a_korean_translation():
    catalog = korean()
    missing = []
    for message, where in marked().items():
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(msgid)
        strings = entry.string if entry else None
        if not entry or not strings or (isinstance(strings, tuple) and not all(strings)):
            missing.append(f"{where}: {msgid!r}")
    assert not missing, "messages with no Korean translation (add them to tutor/locale/ko/LC_MESSAGES/nstutor.po):\n" \
                        + "\n".join(missing)


def test_translations_keep_the_named_placeholders():
    for entry in korean():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        assert "" not in wanted, f"{ids[0]!r}: use named placeholders ({{name}}), so a translation can reorder them"
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, (ids[0], text)


def test_the_compiled_catalogue_is_the_po_file():
    """tutor/locale/README.md: `pybabel compile` after each change of the .po (the .mo is what ships)."""
    with open(KO_PO.with_suffix(".mo"), "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for entry in korean():
        if not entry.id:
            continue
        if isinstance(entry.id, tuple):
            for n, text in enumerate(entry.string):
                assert compiled.ngettext(*entry.id, n + 1) == text or len(entry.string) == 1
            assert compiled.ngettext(*entry.id, 1) == entry.string[0], entry.id
        else:
            assert compiled.gettext(entry.id) == entry.string, \
                f"the .mo is older than the .po for {entry.id!r}: run pybabel compile (tutor/locale/README.md)"


def test_english_is_the_messages_themselves_and_a_missing_catalogue_falls_back(monkeypatch, tmp_path):
    i18n.set_language("en")
    assert i18n._("ready") == "ready"
    i18n.set_language("ko")
    try:
        assert i18n._("ready") == "준비됨"
        assert i18n.ngettext("{passed}/{total} step passes", "{passed}/{total} steps pass", 3) \
            .format(passed=1, total=3) == "단계 3개 중 1개 통과"
        assert i18n._("a message nobody translated") == "a message nobody translated"
        monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)          # no catalogue at all: English, no error
        i18n._translations.cache_clear()
        assert i18n._("ready") == "ready"
    finally:
        i18n._translations.cache_clear()
        i18n.set_language("en")
