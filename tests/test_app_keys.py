"""The keys' words follow the language chosen when a screen is made, not the one at import time
(tutor/app/keys.py): a class's BINDINGS are made once, when its module is imported."""
from __future__ import annotations

from textual.binding import Binding, BindingsMap

from tutor import i18n
from tutor.app.app import NstutorApp
from tutor.app.keys import translated


def test_translated_keeps_the_english_bindings_and_gives_a_korean_copy():
    english = BindingsMap([Binding("q", "quit", "Quit"), Binding("question_mark", "help", "Keys", tooltip="this list")])
    i18n.set_language("ko")
    try:
        korean = translated(english)
    finally:
        i18n.set_language("en")
    assert [b.description for b in korean.key_to_bindings["q"]] == ["종료"]
    assert [(b.description, b.tooltip) for b in korean.key_to_bindings["question_mark"]] == [("키", "이 목록")]
    assert english.key_to_bindings["q"][0].description == "Quit"            # the class's own stays English
    assert korean.key_to_bindings["question_mark"][0].key_display == english.key_to_bindings["question_mark"][0].key_display


def test_an_app_made_in_korean_after_one_in_english_speaks_korean(tmp_path):
    english = NstutorApp(store_path=tmp_path / "a.db", probes=False)
    i18n.set_language("ko")
    try:
        korean = NstutorApp(store_path=tmp_path / "b.db", probes=False)
    finally:
        i18n.set_language("en")
    again = NstutorApp(store_path=tmp_path / "c.db", probes=False)
    words = lambda app: sorted(b.description for items in app._bindings.key_to_bindings.values() for b in items)
    assert "Quit" in words(english) and "Quit" in words(again)
    assert "종료" in words(korean) and "Quit" not in words(korean)
