"""What `nstutor lint` calls an untranslated message (tutor/message_coverage.py): a message marked
in the code that the compiled catalogue nstutor reads has no text for."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tutor import message_coverage

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def package(tmp_path):
    """A tiny package that marks three messages, and a Korean catalogue that has one of them."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        'from tutor.i18n import _, ngettext\n'
        'def f(n, name):\n'
        '    print(_("hello"))\n'
        '    print(_("no netns {name}").format(name=name))\n'
        '    print(ngettext("{n} file", "{n} files", n).format(n=n))\n'
        '    print(_(name))\n', encoding="utf-8")
    (pkg / "broken.py").write_text("def (:\n  _('never seen')\n", encoding="utf-8")
    po = tmp_path / "locale" / "ko" / "LC_MESSAGES"
    po.mkdir(parents=True)
    (po / "nstutor.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        'msgid "hello"\nmsgstr "안녕하세요"\n', encoding="utf-8")
    subprocess.run(["msgfmt", "-o", str(po / "nstutor.mo"), str(po / "nstutor.po")], check=True) \
        if _has("msgfmt") else _compile(po)
    return pkg


def _has(tool: str) -> bool:
    from shutil import which
    return which(tool) is not None


def _compile(po: Path) -> None:
    pytest.importorskip("babel")
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    with open(po / "nstutor.po", "rb") as f:
        catalog = read_po(f, locale="ko")
    with open(po / "nstutor.mo", "wb") as f:
        write_mo(f, catalog)


def test_marks_are_read_from_the_source_with_their_place(package):
    marked = message_coverage.marked_messages(package)
    assert [m.msgid for m in marked] == ["hello", "no netns {name}", "{n} file"]
    assert marked[2].plural == "{n} files" and marked[0].where == "pkg/a.py:3"


def test_untranslated_names_what_the_catalogue_lacks(package):
    missing = message_coverage.untranslated("ko", package, package.parent / "locale")
    assert [str(m) for m in missing] == ["pkg/a.py:4: 'no netns {name}'", "pkg/a.py:5: '{n} file'"]
    # a language with no catalogue at all: every message is untranslated, and nothing raises
    assert len(message_coverage.untranslated("xx", package, package.parent / "locale")) == 3


def test_every_shipped_message_has_its_korean():
    assert message_coverage.marked_messages(), "tutor/ marks no message at all?"
    assert not message_coverage.untranslated("ko"), [str(m) for m in message_coverage.untranslated("ko")]


def test_lint_reports_untranslated_messages(tmp_path):
    """`nstutor lint` on the shipped lessons ends with the messages line; here every message is Korean."""
    out = subprocess.run([sys.executable, "-m", "tutor", "lint"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ko (한국어): all " in out.stderr and " messages translated" in out.stderr, out.stderr
