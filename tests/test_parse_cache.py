"""Issue 18, the lesson parse cache (tutor/lessons/parse_cache.py): a catalog read from the cache is
the catalog a fresh parse gives; a changed lesson or a changed parser is parsed again; a corrupt,
foreign or unwritable cache is ignored; and a pickle nobody but the user could have written is the
only one ever read. Plus the two speed-ups that need no cache: the C YAML reader agrees with the
pure-Python one, and the CLI imports nothing of Textual."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tutor.lessons import catalog as catalog_module
from tutor.lessons import load_catalog, parse as parse_module, safe_yaml
from tutor.lessons.parse_cache import ParseCache, cache_dir

from test_lessons import GOOD_STEP

REPO = Path(__file__).resolve().parent.parent
FILE_NAME = ParseCache(Path("/nonexistent")).file_name          # this code's cache file


def lesson_text(title: str = "Demo") -> str:
    return f"---\nid: demo\ntitle: {title}\nminutes: 5\n---\n# Demo\n\nSome prose.\n\n{GOOD_STEP}"


def form(catalog) -> list:
    """What a learner or a grader can see of a catalog, expectations by kind, spec and line."""
    out = []
    for lesson in catalog.lessons:
        steps = [(s.id, s.title, s.hints, s.solution, s.line, s.explain,
                  [(e.kind, e.spec, e.line) for e in s.expectations]) for s in lesson.steps]
        out.append((lesson.id, lesson.title, lesson.minutes, str(lesson.path), lesson.number, lesson.body,
                    dict(lesson.cleanup), lesson.cleanup_refused, lesson.setup, lesson.lab, lesson.summary,
                    lesson.content_hash, lesson.trusted, lesson.language, lesson.shell_blocks, steps))
    return out + [[(str(p.path), p.line, p.message) for p in catalog.problems], catalog.untranslated]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("NSTUTOR_CACHE_DIR", str(directory))
    return directory


def no_parsing(monkeypatch):
    """From here on, a lesson that is not served from the cache fails the test."""
    def refuse(path, *_args):
        raise AssertionError(f"{path} was parsed again")
    monkeypatch.setattr(parse_module, "_parse_bytes", refuse)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_shipped_catalog_from_the_cache_is_the_parsed_one(cache, monkeypatch, language):
    monkeypatch.setenv("NSTUTOR_CACHE_DIR", "off")
    fresh = load_catalog(language=language)
    monkeypatch.setenv("NSTUTOR_CACHE_DIR", str(cache))
    first = load_catalog(language=language)
    assert (cache / FILE_NAME).is_file()
    no_parsing(monkeypatch)
    cached = load_catalog(language=language)
    assert form(cached) == form(fresh) == form(first)
    assert len(cached.lessons) >= 18


def test_a_cached_step_grades_like_a_parsed_one(cache):
    """An expectation comes back from the cache as built from its spec: the same class, its
    fields set, nothing of a grading kept (a CPU history starts afresh)."""
    load_catalog()
    lesson = load_catalog().find("cgroups")
    for step in lesson.steps:
        for expectation in step.expectations:
            rebuilt = type(expectation)(expectation.spec, expectation.line)
            assert vars(expectation).keys() == vars(rebuilt).keys()
            assert repr(sorted((k, str(v)) for k, v in vars(expectation).items() if k != "history")) == \
                repr(sorted((k, str(v)) for k, v in vars(rebuilt).items() if k != "history"))


def test_a_changed_lesson_is_parsed_again_even_with_the_same_size_and_mtime(cache, tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    path = lessons / "05-demo.md"
    path.write_text(lesson_text("Alpha"))
    stamp = path.stat()
    assert load_catalog(lessons).lessons[0].title == "Alpha"
    path.write_text(lesson_text("Omega"))               # same length
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert load_catalog(lessons).lessons[0].title == "Omega"


def test_a_changed_parser_is_never_served_an_old_parse(cache, tmp_path, monkeypatch):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "05-demo.md").write_text(lesson_text())
    load_catalog(lessons)
    monkeypatch.setattr("tutor.lessons.parse_cache.code_fingerprint", lambda: "another nstutor")
    parsed = []
    real = parse_module._parse_bytes
    monkeypatch.setattr(parse_module, "_parse_bytes", lambda *a: parsed.append(a[0]) or real(*a))
    assert load_catalog(lessons).lessons[0].title == "Demo"
    assert parsed == [lessons / "05-demo.md"]


def test_a_problem_is_cached_with_its_lesson_and_said_again(cache, tmp_path, monkeypatch):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "05-demo.md").write_text(lesson_text().replace("minutes: 5", "minutes: 0"))
    first = load_catalog(lessons).problems
    no_parsing(monkeypatch)
    assert [(p.line, p.message) for p in load_catalog(lessons).problems] == [(p.line, p.message) for p in first]
    assert [p.message for p in first] == ["'minutes' must be a whole number from 1 to 600"]


def test_another_nstutors_cache_is_left_alone_until_it_is_stale(cache):
    load_catalog()
    recent, stale = cache / "lessons-0123456789abcdef.pickle", cache / "lessons-fedcba9876543210.pickle"
    for path in (recent, stale):
        path.write_bytes(b"another nstutor's")
    old = time.time() - 8 * 86400
    os.utime(stale, (old, old))
    (cache / FILE_NAME).unlink()
    load_catalog()
    assert recent.exists() and not stale.exists() and (cache / FILE_NAME).exists()


@pytest.mark.parametrize("content", [b"", b"not a pickle", pickle.dumps("a text")[:-3],
                                     pickle.dumps((1, "fingerprint", {})), pickle.dumps(["a", "list"]),
                                     pickle.dumps((1, 2, 3, 4)), b"\x80\x05" + b"\xff" * 100])
def test_a_corrupt_cache_is_ignored_and_replaced(cache, content):
    expected = form(load_catalog())
    (cache / FILE_NAME).write_bytes(content)
    assert form(load_catalog()) == expected
    form_, fingerprint, entries = pickle.loads((cache / FILE_NAME).read_bytes())
    assert len(entries) == len(expected) - 2            # rewritten whole: one entry per lesson


class Trap:
    """A pickle that runs code when it is read: what someone else could plant as a cache."""
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def plant(cache: Path, marker: Path) -> Path:
    cache.mkdir(mode=0o700, exist_ok=True)
    path = cache / FILE_NAME
    path.write_bytes(pickle.dumps(Trap(marker)))
    path.chmod(0o600)
    return path


@pytest.mark.needs_root
def test_a_cache_file_someone_else_owns_is_never_read(cache, tmp_path):
    marker = tmp_path / "ran"
    os.chown(plant(cache, marker), 65534, 65534)
    load_catalog()
    assert not marker.exists()


@pytest.mark.parametrize("mode", [0o620, 0o602])
def test_a_cache_file_others_can_write_is_never_read(cache, tmp_path, mode):
    marker = tmp_path / "ran"
    plant(cache, marker).chmod(mode)
    load_catalog()
    assert not marker.exists()


def test_a_cache_in_a_directory_others_can_write_is_never_read(cache, tmp_path):
    marker = tmp_path / "ran"
    plant(cache, marker)
    cache.chmod(0o777)
    load_catalog()
    assert not marker.exists()


def test_a_symlinked_cache_file_is_never_read(cache, tmp_path):
    marker = tmp_path / "ran"
    elsewhere = plant(tmp_path / "elsewhere", marker)
    cache.mkdir(mode=0o700)
    (cache / FILE_NAME).symlink_to(elsewhere)
    load_catalog()
    assert not marker.exists()


def test_the_trap_does_run_when_it_is_the_users_own(cache, tmp_path):
    """The test above can fail: the same pickle, the user's own, is read (and runs)."""
    marker = tmp_path / "ran"
    plant(cache, marker)
    load_catalog()
    assert marker.exists()


def test_an_unwritable_cache_costs_nothing_but_time(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NSTUTOR_CACHE_DIR", str(blocker / "cache"))      # cannot be made: a file is in the way
    assert len(load_catalog().lessons) >= 18
    monkeypatch.setenv("NSTUTOR_CACHE_DIR", "off")
    assert cache_dir() is None and ParseCache().entries == {}


def test_the_cache_of_root_is_in_roots_own_home_not_the_sudo_users(monkeypatch):
    """Under sudo the learner's home is theirs to write, so root never reads a pickle from it."""
    monkeypatch.delenv("NSTUTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("SUDO_USER", "nobody")
    monkeypatch.setenv("HOME", "/tmp/someone-elses-home")
    import pwd
    assert cache_dir() == Path(pwd.getpwuid(os.geteuid()).pw_dir) / ".cache" / "nstutor"


def test_lint_reads_afresh_whatever_the_cache_says(cache, tmp_path, capsys):
    """A cache entry for exactly these bytes that claims no problem: the catalog would believe it
    (it is the user's own), lint does not read it."""
    from tutor.cli import main
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    path = lessons / "05-demo.md"
    path.write_text(lesson_text().replace("minutes: 5", "minutes: 0"))
    load_catalog(lessons)
    stored = ParseCache()
    key = (str(path), False)
    sha, lesson, _problems = stored.entries[key]
    stored.entries[key] = (sha, lesson, [])
    stored.changed = True
    stored.save()
    assert load_catalog(lessons).problems == ()
    assert main(["lint", str(path)]) == 1
    assert "'minutes' must be a whole number from 1 to 600" in capsys.readouterr().out


# ------------------------------------------------------------------ the C reader, the CLI's imports
@pytest.mark.skipif(safe_yaml.FastLessonLoader is None, reason="this PyYAML has no libyaml")
def test_the_c_reader_gives_the_same_data_and_lines_on_every_shipped_block():
    blocks = 0
    for path in sorted((REPO / "lessons").rglob("*.md")):
        for token in parse_module._block_parser().parse(path.read_text(encoding="utf-8")):
            if token.type == "front_matter" or (token.type == "fence" and token.info.startswith("check")):
                fast = safe_yaml._read(safe_yaml.FastLessonLoader, token.content, 1)
                slow = safe_yaml._read(safe_yaml.LessonLoader, token.content, 1)
                assert fast[0] == slow[0], path
                assert parse_module._key_lines(fast[1], 1) == parse_module._key_lines(slow[1], 1)
                assert parse_module._item_lines(fast[1], 1) == parse_module._item_lines(slow[1], 1)
                blocks += 1
    assert blocks > 150         # 186 when written: 36 front matters and 150 check blocks


def test_a_yaml_error_has_pythons_wording_whichever_reader_ran(tmp_path):
    path = tmp_path / "05-demo.md"
    path.write_text(lesson_text().replace("title: Create RED", "title: [unclosed"))
    _lesson, problems = parse_module.parse_lesson(path)
    assert (12, "bad YAML in the check block: while parsing a flow sequence, expected ',' or ']', but got "
                "':'") in [(p.line, p.message) for p in problems], problems


@pytest.mark.parametrize("command", [["list"], ["check", "netns-veth", "--no-probe"], ["lint"]])
def test_the_cli_imports_nothing_of_textual(command):
    code = ("import sys\nfrom tutor.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
            "print('LOADED', loaded)\n")
    res = subprocess.run([sys.executable, "-c", code, *command], cwd=REPO, capture_output=True, text=True,
                         timeout=60)
    assert "LOADED [" in res.stdout, res.stdout + res.stderr
    assert "LOADED []" in res.stdout, res.stdout.splitlines()[-1]
