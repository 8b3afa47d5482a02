"""What a parsed lesson is: front matter, the markdown body, and its check steps."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..checks.base import Expectation
from .packs import PackRef
from .requirements import is_met, why_unmet


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a lesson file, located to the line."""
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return printable(f"{where}: {self.message}")


#: What must not reach a terminal raw: C0 controls but tab, DEL, C1 controls, lone surrogates (also
#: the ones that stand for a file name's non-UTF-8 bytes), bidi embeddings, overrides and isolates
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """*text* with every character that cannot be printed as it is written as a \\x.., \\u.. escape:
    a problem names what the author wrote, and printing it must neither fail nor move the cursor."""
    if not _UNPRINTABLE.search(text):
        return text
    return _UNPRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii")
                            if not 0xD800 <= ord(m.group(0)) <= 0xDFFF else f"\\u{ord(m.group(0)):04x}", text)


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    expectations: tuple[Expectation, ...]
    hints: tuple[str, ...]
    solution: str
    line: int                       # 1-based line of the ```check fence in the file
    explain: str = ""               # optional text shown once the step passes


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    minutes: int
    path: Path
    number: int                     # from the file name NN-<id>.md (order in the catalog)
    body: str                       # the markdown after the front matter
    steps: tuple[Step, ...]
    requires: tuple[str, ...] = ()  # tools on PATH, "root" or "k8s-node" (see requirements.py)
    cleanup: Mapping[str, Any] = field(default_factory=dict)
    cleanup_refused: tuple[str, ...] = ()   # lint's problems with the cleanup, which then names nothing
    setup: str = ""                 # shell run by `nstutor setup` / verify-lesson (trusted lessons only)
    lab: tuple[str, ...] = ()       # the netns that setup builds (a missing one means: build the lab)
    summary: str = ""
    content_hash: str = ""          # sha256 of the file, so progress notices a changed lesson
    trusted: bool = False           # shipped with nstutor (may run its shell; a pack's: lessons/trust.py)
    language: str = "en"            # the language of its texts (tutor/lessons/translation.py)
    shell_blocks: tuple[tuple[int, str], ...] = ()   # (file line, text) of each ```sh block of the prose
    pack: PackRef | None = None     # the pack it comes from (its id is then qualified: nat/snat)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    @property
    def label(self) -> str:
        """How a message names the lesson: '11 (bridge)', by the number the catalog shows and
        learners type; a lesson of a pack or whose file has no number, by its id ('nat/snat')."""
        return f"{self.number} ({self.id})" if self.number != 999 and self.pack is None else self.id

    @property
    def local_id(self) -> str:
        """The id its file gives ('snat' for nat/snat)."""
        return self.id.rpartition("/")[2]

    def unmet_requirements(self) -> list[str]:
        """The entries of `requires` this machine does not meet."""
        return [req for req in self.requires if not is_met(req)]

    def missing_requirements(self) -> list[str]:
        """Why this lesson cannot be done here, in plain words ([] when it can)."""
        return [why_unmet(req) for req in self.unmet_requirements()]
