"""Which language nstutor speaks: English (the source of every text) or Korean.

The language is chosen once per process, first match wins:

1. `--lang ko` / `--lang en` on the command line (any command, and the app): cli.main sets it;
2. the environment variable NSTUTOR_LANG (a lab image or a test can fix it);
3. the learner's remembered choice, `nstutor lang ko` (kept in the progress store's meta table);
4. the locale, as gettext reads it: LANGUAGE, LC_ALL, LC_MESSAGES, LANG; a value starting with
   `ko` (ko_KR.UTF-8) means Korean;
5. English.

Whatever is chosen, a text that has no translation is shown in English: a missing translation is
something `nstutor lint` reports, never an error for a learner.

Messages (the app's and the CLI's own words) go through gettext: `_("...")` marks and translates a
message, `ngettext` a counted one; a message with values uses named placeholders, filled after
translation (`_("{done} of {total} steps").format(done=..., total=...)`), so a translation may put
them in its own order. The catalogues are tutor/locale/<lang>/LC_MESSAGES/nstutor.po, compiled to
the .mo next to it (tutor/locale/README.md says how). Lessons are translated as files instead
(tutor/lessons/translation.py).
"""
from __future__ import annotations

import gettext
import os
from functools import lru_cache
from pathlib import Path
from typing import Mapping

LANGUAGES = {"en": "English", "ko": "한국어"}
SOURCE = "en"                     # the language every text is written in first
ENV_LANG = "NSTUTOR_LANG"
META_KEY = "language"             # the progress store's meta key for `nstutor lang` (ProgressStore.language)

_chosen: str | None = None


def normalise(value: str | None) -> str | None:
    """'ko', 'KO', 'ko_KR.UTF-8', 'ko-KR' -> 'ko'; 'en_US' -> 'en'; anything else -> None."""
    if not value:
        return None
    code = value.strip().lower().replace("-", "_").split(".")[0].split("@")[0].split("_")[0]
    return code if code in LANGUAGES else None


def from_locale(environ: Mapping[str, str] | None = None) -> str | None:
    """The language the locale asks for, in gettext's order (LANGUAGE is a list: its first known
    entry counts; then LC_ALL, LC_MESSAGES, LANG, the first that is set). None: C/POSIX or unknown."""
    env = os.environ if environ is None else environ
    for entry in (env.get("LANGUAGE") or "").split(":"):
        if normalise(entry):
            return normalise(entry)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return normalise(value)
    return None


def remembered(environ: Mapping[str, str] | None = None) -> str | None:
    """`nstutor lang`'s choice, read without creating or changing anything (a first start has no
    store yet: then None)."""
    from .progress.settings import remembered as remembered_setting
    value = remembered_setting(META_KEY, environ)
    return normalise(value) if value else None


def choose(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The language by the order in the module docstring."""
    env = os.environ if environ is None else environ
    return (normalise(explicit) or normalise(env.get(ENV_LANG)) or remembered(env) or from_locale(env)
            or SOURCE)


def set_language(code: str) -> None:
    """Fix this process's language (cli.main, for --lang)."""
    global _chosen
    _chosen = normalise(code) or SOURCE


def current() -> str:
    """This process's language: as set, else chosen once from the environment."""
    global _chosen
    if _chosen is None:
        _chosen = choose()
    return _chosen


# --------------------------------------------------------------- messages (gettext)
DOMAIN = "nstutor"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@lru_cache(maxsize=None)
def _translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of *language*; English (and a missing or broken catalogue) translates
    nothing, so every message falls back to its English text."""
    if language == SOURCE:
        return gettext.NullTranslations()
    try:
        with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo", "rb") as mo:
            return gettext.GNUTranslations(mo)
    except (OSError, ValueError):           # not there, or not a catalogue: English
        return gettext.NullTranslations()


def _(message: str) -> str:
    """*message* in this process's language (its English text when it has no translation)."""
    return _translations(current()).gettext(message)


def N_(message: str) -> str:
    """Marks *message* for translation where it is shown, not here: for text made at import time
    (a class's BINDINGS), which is translated later with _() (tutor/app/keys.py)."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for *n*, in this process's language."""
    return _translations(current()).ngettext(singular, plural, n)
