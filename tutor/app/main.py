"""run_app(): start the full-screen app (what `nstutor` and `nstutor LESSON_ID` do)."""
from __future__ import annotations

import sys
from pathlib import Path


def run_app(lesson_id: str | None = None, store_path: Path | str | None = None) -> int:
    """Run the app until the learner quits. Returns the process exit code.

    *store_path* overrides where progress is kept; by default the store picks the learner's own
    location (the invoking user's under sudo; NSTUTOR_DATA_DIR moves it, e.g. for tests).
    """
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        print("nstutor: the app needs a terminal; for scripts use `nstutor list` or `nstutor check LESSON`.",
              file=sys.stderr)
        return 2
    from .app import NstutorApp
    app = NstutorApp(lesson_id, store_path=store_path, ask_name=True)
    app.run()
    return 0 if app.return_code in (None, 0) else app.return_code
