"""Where the shipped lessons and assets are, in a source checkout and in an installed wheel."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[-1]


def lessons_dir() -> Path:
    """lessons/ of the checkout (editable install, tests) or tutor/lessons_data in a wheel."""
    return _first_existing(_PACKAGE.parent / "lessons", _PACKAGE / "lessons_data")


def assets_dir() -> Path:
    return _first_existing(_PACKAGE.parent / "assets", _PACKAGE / "assets_data")
