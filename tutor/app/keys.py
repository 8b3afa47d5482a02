"""The keys' words (footer, help, tooltips) in the learner's language.

A screen's BINDINGS is a class attribute: it is made when the module is imported, which may be
before the language is fixed, and a test process shows both languages. So BINDINGS hold the English
words, marked with N_() for extraction, and every screen, dialog and the app itself translates its
own copy of them when it is made (`InLanguage`, a mixin placed before the Textual base class).
"""
from __future__ import annotations

from dataclasses import replace

from textual.binding import BindingsMap

from ..i18n import _


def translated(bindings: BindingsMap) -> BindingsMap:
    """A copy of *bindings* with each description and tooltip in this process's language."""
    out = BindingsMap()
    for key, items in bindings.key_to_bindings.items():
        out.key_to_bindings[key] = [replace(b, description=_(b.description) if b.description else "",
                                            tooltip=_(b.tooltip) if b.tooltip else "") for b in items]
    return out


class InLanguage:
    """Mixin: this node's keys speak the language chosen when it is made."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._bindings = translated(self._bindings)
