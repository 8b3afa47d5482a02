"""Settings kept in the progress store's meta table, read without opening the store: nothing is
created, migrated or locked, so reading one costs a read-only SQLite open (~1 ms) and a first
start (no store yet) simply has none. Written through ProgressStore (`nstutor lang`,
`nstutor packs add`)."""
from __future__ import annotations

import json
import sqlite3
from typing import Mapping

from .paths import default_location


def remembered(key: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The meta value *key* of the learner's store, or None (no store yet, unreadable, an older store)."""
    try:
        path = default_location(environ).database
        if not path.is_file():
            return None
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
    except (OSError, sqlite3.Error):
        return None
    return row[0] if row else None


LESSON_FOLDERS_KEY = "lesson_folders"


def decode_folders(value: str | None) -> list[str]:
    """The folders list as stored (JSON); anything else reads as none."""
    try:
        folders = json.loads(value) if value else []
    except ValueError:
        return []
    return [f for f in folders if isinstance(f, str) and f] if isinstance(folders, list) else []


def remembered_folders(environ: Mapping[str, str] | None = None) -> list[str]:
    """`nstutor packs add`'s folders, read without opening the store."""
    return decode_folders(remembered(LESSON_FOLDERS_KEY, environ))
