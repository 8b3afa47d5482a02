"""The YAML reader for lesson files: PyYAML's SafeLoader, bounded.

A lesson file comes from an author or a pack, so what it may cost is bounded here:

- aliases (*name) at most MAX_ALIASES per document, and the document expanded (every alias
  counted as a copy of what it names) at most MAX_NODES nodes: a "billion laughs" is refused
  while it is still a small graph, before anything walks or prints it;
- an alias to an anchor that is still open (a structure that contains itself) is refused;
- nesting at most MAX_DEPTH deep (thousands of `[` would exhaust Python's stack);
- a key given twice in one mapping is refused at its second occurrence (PyYAML keeps the last one
  silently, so `expect:` twice would drop expectations);
- texts (scalars) holding a control character or a lone surrogate (written as an escape,
  "\\x00" or "\\ud800") are refused.

Every refusal is a yaml.YAMLError with a mark, so the parser locates it like any YAML error.

Speed: where PyYAML has libyaml (yaml.__with_libyaml__), the text is scanned and parsed in C (its
events), and only composing, with the bounds above, and constructing are Python: about 6x faster
than the pure-Python reader on the shipped lessons. A text that libyaml refuses is read again by the
pure-Python reader, so a broken lesson gets PyYAML's own wording and marks, whichever reader ran.
libyaml is a little more lenient than PyYAML (a tab inside a plain text, `a?: b` in a flow
mapping): what either reader accepts is accepted, and where both accept a text they read the same
data, on the same lines (the fuzzer, tests/test_fuzz_readers.py, holds them to it).
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.resolver import Resolver

try:
    from yaml._yaml import CParser          # libyaml's scanner and parser
except ImportError:                         # PyYAML built without libyaml
    CParser = None

MAX_ALIASES = 100
MAX_NODES = 10_000
MAX_DEPTH = 50

#: C0 controls except tab, newline and carriage return; DEL; C1 controls; lone surrogates
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
MERGE_TAG = "tag:yaml.org,2002:merge"


def control_words(char: str) -> str:
    """How a problem names a bad character: 'a control character (U+0000)'."""
    code = ord(char)
    what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"{what} (U+{code:04X})"


class Bounded:
    """The bounds of the module docstring, on top of any PyYAML parser: a mixin before the composer
    and constructor it bounds. *first_line*: the file line of the text's first line (for "first on
    line N" in a duplicate key's problem)."""

    def __init__(self, stream: str, first_line: int = 1):
        super().__init__(stream)
        self._start_bounds(first_line)

    def _start_bounds(self, first_line: int) -> None:
        self.first_line = first_line
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise ComposerError(None, None, f"more than {MAX_ALIASES} aliases (*name): a lesson needs few, "
                                                f"if any", event.start_mark)
            node = super().compose_node(parent, index)
            if not hasattr(node, "expanded"):
                raise ComposerError(None, None, f"the alias *{event.anchor} is inside the anchor it names "
                                                f"(a structure that contains itself)", event.start_mark)
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                    self.peek_event().start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.ScalarNode):
            size = 1
            bad = CONTROL.search(node.value)
            if bad:
                raise ComposerError(None, None, f"{control_words(bad.group(0))} in a text: remove it, or write "
                                                f"what it stands for in words", node.start_mark)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(getattr(child, "expanded", 1) for child in node.value)
        else:
            size = 1 + sum(getattr(k, "expanded", 1) + getattr(v, "expanded", 1) for k, v in node.value)
        if size > MAX_NODES:
            raise ComposerError(None, None, f"more than {MAX_NODES} values once its aliases are expanded",
                                node.start_mark)
        node.expanded = size
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue                # unhashable: SafeConstructor says so
                if first is not None:
                    raise ConstructorError(None, None, f"the key {_shown(key)} is given twice (first on line "
                                                       f"{first}): the second would silently replace the first",
                                           key_node.start_mark)
                seen[key] = self.first_line + key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class LessonLoader(Bounded, yaml.SafeLoader):
    """The pure-Python reader, bounded: the reference, and the one whose errors are reported."""


if CParser is not None:
    class FastLessonLoader(Bounded, Composer, SafeConstructor, Resolver, CParser):
        """libyaml's events, composed and constructed in Python with the same bounds (the C composer
        would bypass them: no alias or depth budget)."""

        def __init__(self, stream: str, first_line: int = 1):
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._start_bounds(first_line)
else:
    FastLessonLoader = None


def _shown(key: Any) -> str:
    return f"'{key}'" if isinstance(key, str) else repr(key)


def load(text: str, first_line: int = 1) -> tuple[Any, yaml.Node | None]:
    """(the data, its composed node): one document, bounded. Raises yaml.YAMLError (the
    pure-Python reader's, whichever reader found the problem first)."""
    if FastLessonLoader is not None:
        try:
            return _read(FastLessonLoader, text, first_line)
        except yaml.YAMLError:
            pass                            # read again below, for PyYAML's wording and marks
    return _read(LessonLoader, text, first_line)


def _read(loader_class, text: str, first_line: int) -> tuple[Any, yaml.Node | None]:
    loader = loader_class(text, first_line)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        return data, node
    finally:
        loader.dispose()
