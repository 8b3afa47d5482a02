"""The registry of expectation kinds. A new kind is one file in tutor/checks/kinds/ that
defines an Expectation subclass decorated with @register."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from .base import Expectation, SpecError

KINDS: dict[str, type[Expectation]] = {}
_LOADED = False


def register(cls: type[Expectation]) -> type[Expectation]:
    if not cls.kind:
        raise TypeError(f"{cls.__name__} has no kind")
    if cls.kind in KINDS and KINDS[cls.kind] is not cls:
        raise TypeError(f"two expectation classes claim the kind {cls.kind!r}")
    KINDS[cls.kind] = cls
    return cls


def load_kinds() -> dict[str, type[Expectation]]:
    """Import every module in tutor.checks.kinds (each registers its class), once per process:
    listing the package's directory on every build() was a third of parsing the catalog."""
    global _LOADED
    if not _LOADED:
        from . import kinds
        for info in pkgutil.iter_modules(kinds.__path__):
            importlib.import_module(f"{kinds.__name__}.{info.name}")
        _LOADED = True
    return KINDS


def build(item: Any, line: int | None = None) -> Expectation:
    """Turn one `expect:` list item ({kind: fields}) into an Expectation, or raise SpecError."""
    load_kinds()
    if not isinstance(item, dict) or len(item) != 1:
        raise SpecError(["each expectation is one 'kind: {fields}' pair, e.g. '- netns: {name: RED}'"])
    (kind, spec), = item.items()
    cls = KINDS.get(kind)
    if cls is None:
        raise SpecError([f"unknown expectation kind '{kind}' (known: {', '.join(sorted(KINDS))})"])
    if not isinstance(spec, dict) and cls.shorthand and spec is not None:
        spec = {cls.shorthand: spec}
    problems = cls.problems(spec)
    if problems:
        raise SpecError(problems)
    return cls(spec, line)
