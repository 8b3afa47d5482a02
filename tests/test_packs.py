"""Lesson packs from folders (`nstutor --lessons DIR`): found, pack-qualified everywhere, broken
ones costing only themselves, and their shell refused until trusted (issue 19).

The installed case (a real `pip install` into a fresh venv) is tests/test_pack_install.py. Here
every pack is a folder under tmp_path, every command a real `nstutor` process from this checkout,
with its own data, cache and trust directories. Objects on the machine are named pkt-*.
"""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from conftest import sh

REPO = Path(__file__).resolve().parent.parent

LESSON = """\
---
id: {id}
title: {title}
minutes: 5
summary: a lesson of a test pack
cleanup:
  netns: [{netns}]
  script: touch {marker}-cleanup
setup: touch {marker}-setup
---
# A test lesson

```check
id: made
title: Make the network namespace {netns}
expect:
  - netns: {{name: {netns}}}
hint: "Run: ip netns add {netns}"
solution: |
  ip netns add {netns}
  touch {marker}-solution
```
"""


def write_lesson(directory: Path, number: int, lesson_id: str, netns: str, marker: Path,
                 title: str = "A test lesson") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{number:02d}-{lesson_id}.md"
    path.write_text(LESSON.format(id=lesson_id, title=title, netns=netns, marker=marker), encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path):
    """The environment of a learner with nothing trusted yet (their own data, trust and cache)."""
    environ = dict(os.environ)
    environ.update(NSTUTOR_DATA_DIR=str(tmp_path / "data"), NSTUTOR_TRUST_DIR=str(tmp_path / "trust"),
                   NSTUTOR_CACHE_DIR=str(tmp_path / "cache"), NSTUTOR_LANG="en", NSTUTOR_NO_SUDO="1")
    environ.pop("NSTUTOR_LESSONS", None)
    return environ


def nstutor(env, *args, stdin=subprocess.DEVNULL, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tutor", *args], cwd=REPO, env=env, stdin=stdin,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def names():
    """Unique names for what the machine gets: netns pkt-XXXX-N, removed at the end."""
    tag = uuid.uuid4().hex[:6]
    made = []

    def name(n: int = 0) -> str:
        made.append(f"pkt-{tag}-{n}")
        return made[-1]
    yield name
    for netns in made:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)


@pytest.fixture
def demo(tmp_path, names):
    """A folder pack `demo` of two lessons whose shell leaves marker files."""
    folder = tmp_path / "demo"
    marker = tmp_path / "marker"
    write_lesson(folder, 1, "hello", names(1), marker, title="Hello from a pack")
    write_lesson(folder, 2, "second", names(2), marker)
    return folder, marker


# --------------------------------------------------------------- found and named
def test_a_folder_pack_is_listed_after_the_shipped_lessons_under_its_name(env, demo):
    folder, _marker = demo
    listing = nstutor(env, "--lessons", str(folder), "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    header = lines.index(f"pack demo (folder: {folder}):")
    assert any("welcome" in line for line in lines[:header]), "the shipped lessons come first"
    assert "demo/hello" in lines[header + 1] and "Hello from a pack" in lines[header + 1]
    assert "demo/second" in lines[header + 2]
    doc = json.loads(nstutor(env, "--lessons", str(folder), "list", "--json").stdout)
    assert [r["id"] for r in doc["lessons"] if r["pack"] == "demo"] == ["demo/hello", "demo/second"]
    assert doc["packs"][0]["name"] == "demo" and doc["packs"][0]["lessons"] == ["demo/hello", "demo/second"]
    # the same through the environment (what a rerun through sudo and the app's shell inherit)
    by_env = nstutor({**env, "NSTUTOR_LESSONS": str(folder)}, "list", "--json")
    assert json.loads(by_env.stdout)["lessons"] == doc["lessons"]


def test_a_pack_lesson_is_named_with_its_pack_and_a_bare_id_is_only_a_near_miss(env, demo, names):
    folder, _marker = demo
    for name in ("demo/hello", "demo/1", "demo/01-hello", "DEMO/Hello"):
        result = nstutor(env, "--lessons", str(folder), "check", name, "--no-probe", "--json")
        assert result.returncode == 1, (name, result.stderr)          # its netns is not there: FAIL
        assert json.loads(result.stdout)["lesson"] == "demo/hello"
    bare = nstutor(env, "--lessons", str(folder), "check", "hello")
    assert bare.returncode == 2 and "did you mean 'demo/hello'?" in bare.stderr
    # a number alone is a shipped lesson's, never a pack's
    one = nstutor(env, "--lessons", str(folder), "check", "1", "--json", "--no-probe")
    assert json.loads(one.stdout)["lesson"] == "welcome"


def test_a_pack_lesson_is_graded_by_the_kernel(env, demo, names):
    folder, _marker = demo
    netns = names(1)
    before = nstutor(env, "--lessons", str(folder), "check", "demo/hello")
    assert before.returncode == 1 and f"there is no network namespace {netns}" in before.stdout
    sh(f"ip netns add {netns}")
    after = nstutor(env, "--lessons", str(folder), "check", "demo/hello")
    assert after.returncode == 0, after.stdout
    progress = nstutor(env, "--lessons", str(folder), "progress", "export")
    lessons = {l["id"]: l for l in json.loads(progress.stdout)["lessons"]}
    assert lessons["demo/hello"]["steps_passed"] == 1
    assert lessons["demo/hello"]["pack"] == {"name": "demo", "version": ""}
    assert lessons["welcome"]["pack"] is None
    table = nstutor(env, "--lessons", str(folder), "progress").stdout.splitlines()
    header = table.index("pack demo:")
    assert "demo/hello" in table[header + 1] and "complete" in table[header + 1]
    assert not any("demo/" in line for line in table[:header])


def test_a_source_tree_is_read_as_the_pack_its_pyproject_declares(env, tmp_path, names):
    tree = tmp_path / "nstutor-pack-lab"
    write_lesson(tree / "src" / "lab_lessons", 1, "first", names(1), tmp_path / "m")
    (tree / "pyproject.toml").write_text(textwrap.dedent("""\
        [project]
        name = "nstutor-pack-lab"
        version = "2.1.0"
        [project.entry-points."nstutor.lessons"]
        lab = "lab_lessons"
        """))
    doc = json.loads(nstutor(env, "--lessons", str(tree), "packs", "--json").stdout)
    (pack,) = doc["packs"]
    assert (pack["name"], pack["version"], pack["lessons"], pack["trust"]) == ("lab", "2.1.0", 1, "untrusted")
    assert pack["directory"] == str(tree / "src" / "lab_lessons")


# --------------------------------------------------------------- a broken pack costs only itself
def test_broken_packs_cost_only_themselves(env, tmp_path, demo, names):
    folder, _marker = demo
    empty = tmp_path / "empty"
    empty.mkdir()
    badname = tmp_path / "Bad Name!"
    write_lesson(badname, 1, "x", names(3), tmp_path / "m")
    half = tmp_path / "half"
    write_lesson(half, 1, "good", names(4), tmp_path / "m")
    (half / "02-broken.md").write_text("---\nid: broken\ntitle: [unclosed\n---\n")
    os.mkfifo(half / "notes.fifo")                # nothing may block on it (a read of a FIFO waits forever)
    clash = tmp_path / "other" / "demo"           # a second pack named demo
    write_lesson(clash, 1, "other", names(5), tmp_path / "m")
    args = []
    for path in (folder, empty, badname, half, clash, tmp_path / "missing"):
        args += ["--lessons", str(path)]

    listing = nstutor(env, *args, "list", "--json")
    assert listing.returncode == 0, listing.stderr
    ids = [r["id"] for r in json.loads(listing.stdout)["lessons"]]
    assert "welcome" in ids and "demo/hello" in ids and "half/good" in ids
    assert not [i for i in ids if i.startswith(("empty/", "half/broken", "demo/other"))]
    text = nstutor(env, *args, "list")
    assert "see `nstutor packs`" in text.stderr

    packs = {p["name"]: p for p in json.loads(nstutor(env, *args, "packs", "--json").stdout)["packs"]
             if not p["shadowed_by"]}
    assert "holds no lesson files" in " ".join(packs["empty"]["problems"])
    assert "cannot name a pack" in " ".join(packs["bad name!"]["problems"])
    assert any("02-broken.md" in p for p in packs["half"]["problems"]) and packs["half"]["lessons"] == 1
    assert "does not exist" in " ".join(packs["missing"]["problems"])
    shadowed = [p for p in json.loads(nstutor(env, *args, "packs", "--json").stdout)["packs"] if p["shadowed_by"]]
    assert [(p["name"], p["shadowed_by"]) for p in shadowed] == [("demo", f"folder: {folder}")]
    human = nstutor(env, *args, "packs")
    assert "not loaded: a pack of the same name comes first" in human.stdout

    lint = nstutor(env, *args, "lint")
    assert lint.returncode == 1
    assert "02-broken.md" in lint.stdout and "holds no lesson files" in lint.stdout
    assert "does not exist" in lint.stdout
    only_half = nstutor(env, *args, "lint", "half")
    assert only_half.returncode == 1 and "02-broken.md" in only_half.stdout and "empty" not in only_half.stdout
    # and the shipped lessons still check
    assert nstutor(env, *args, "check", "welcome", "--no-probe").returncode in (0, 1)


# --------------------------------------------------------------- trust
def test_an_untrusted_pack_runs_its_checks_but_none_of_its_shell(env, demo, names):
    folder, marker = demo
    netns = names(1)
    setup = nstutor(env, "--lessons", str(folder), "setup", "demo/hello")
    assert setup.returncode == 1
    assert "not run: its setup. Pack 'demo' is not trusted" in setup.stderr
    assert "nstutor trust demo shows what it would run" in setup.stderr
    assert "Building the lab" not in setup.stdout, "a refused setup does not announce a build first"
    verify = nstutor(env, "--lessons", str(folder), "verify-lesson", "demo/hello")
    assert verify.returncode == 1 and "not run: its solutions" in verify.stdout
    # reset removes what the lesson declares (data), but not by its script (shell)
    sh(f"ip netns add {netns}")
    reset = nstutor(env, "--lessons", str(folder), "reset", "demo/hello", "--yes")
    assert f"deleted the network namespace {netns}" in reset.stdout
    assert "not run: its cleanup script" in reset.stderr
    assert not Path(f"/run/netns/{netns}").exists()
    assert not list(marker.parent.glob("marker-*")), "no shell of the untrusted pack ran"


def test_trust_shows_what_would_run_and_then_it_runs(env, demo, names):
    folder, marker = demo
    shown = nstutor(env, "--lessons", str(folder), "trust", "demo")
    assert shown.returncode == 2 and "pass --yes" in shown.stderr        # no terminal, no --yes: nothing
    assert f"touch {marker}-setup" in shown.stdout and f"touch {marker}-solution" in shown.stdout
    assert "demo/hello: setup" in shown.stdout and "demo/second: solution of step 'made'" in shown.stdout
    assert nstutor(env, "--lessons", str(folder), "setup", "demo/hello").returncode == 1

    trusted = nstutor(env, "--lessons", str(folder), "trust", "demo", "--yes")
    assert trusted.returncode == 0 and "Pack 'demo' is trusted" in trusted.stdout
    packs = json.loads(nstutor(env, "--lessons", str(folder), "packs", "--json").stdout)["packs"]
    assert packs[0]["trust"] == "trusted"
    assert nstutor(env, "--lessons", str(folder), "setup", "demo/hello").returncode == 0
    assert Path(f"{marker}-setup").exists()
    verify = nstutor(env, "--lessons", str(folder), "verify-lesson", "demo/hello")
    assert verify.returncode == 0, verify.stdout
    assert Path(f"{marker}-solution").exists() and Path(f"{marker}-cleanup").exists()


def test_a_changed_pack_is_untrusted_again_and_says_what_changed(env, demo):
    folder, marker = demo
    assert nstutor(env, "--lessons", str(folder), "trust", "demo", "--yes").returncode == 0
    with open(folder / "02-second.md", "a") as lesson:
        lesson.write("\nOne more line.\n")
    (folder / "notes.txt").write_text("new\n")
    packs = json.loads(nstutor(env, "--lessons", str(folder), "packs", "--json").stdout)["packs"]
    assert packs[0]["trust"] == "changed"
    assert packs[0]["trust_words"] == "changed since you trusted it (02-second.md changed, notes.txt added)"
    setup = nstutor(env, "--lessons", str(folder), "setup", "demo/hello")
    assert setup.returncode == 1 and "changed since you trusted it (02-second.md changed" in setup.stderr
    assert not Path(f"{marker}-setup").exists()
    again = nstutor(env, "--lessons", str(folder), "trust", "demo", "--yes")
    assert "You trusted an earlier version of it; since then: 02-second.md changed, notes.txt added." in again.stdout
    assert nstutor(env, "--lessons", str(folder), "setup", "demo/hello").returncode == 0
    untrust = nstutor(env, "--lessons", str(folder), "untrust", "demo")
    assert untrust.returncode == 0 and "no longer trusted" in untrust.stdout
    assert nstutor(env, "--lessons", str(folder), "setup", "demo/hello").returncode == 1


def _ask_on_a_terminal(env, args, answer: str) -> tuple[int, str]:
    """Run nstutor with a terminal as its standard input, answer its question, return (rc, output)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tutor", *args], cwd=REPO, env=env, stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        os.write(master, answer.encode() + b"\n")
        out, _err = proc.communicate(timeout=60)
        return proc.returncode, out
    finally:
        os.close(master)
        os.close(slave)


def test_trust_asks_and_takes_a_korean_yes(env, demo):
    folder, _marker = demo
    rc, out = _ask_on_a_terminal(env, ["--lessons", str(folder), "trust", "demo"], "n")
    assert rc == 1 and "Nothing changed: pack 'demo' is not trusted." in out
    assert json.loads(nstutor(env, "--lessons", str(folder), "packs", "--json").stdout)["packs"][0]["trust"] == \
        "untrusted"
    rc, out = _ask_on_a_terminal(env, ["--lessons", str(folder), "trust", "demo"], "ㅛ")
    assert rc == 0 and "Pack 'demo' is trusted" in out


def test_trust_of_an_unknown_pack_is_a_usage_error_with_a_near_miss(env, demo):
    folder, _marker = demo
    result = nstutor(env, "--lessons", str(folder), "trust", "dmeo", "--yes")
    assert result.returncode == 2 and "did you mean 'demo'?" in result.stderr


@pytest.mark.parametrize("spoil", ["group-writable", "other owner", "symlink", "garbage"])
def test_a_trust_file_someone_else_could_write_is_ignored(env, demo, tmp_path, spoil):
    folder, marker = demo
    assert nstutor(env, "--lessons", str(folder), "trust", "demo", "--yes").returncode == 0
    record = tmp_path / "trust" / "trusted-packs.json"
    if spoil == "group-writable":
        record.chmod(0o664)
    elif spoil == "other owner":
        os.chown(record, 65534, 65534)
    elif spoil == "symlink":
        real = tmp_path / "elsewhere.json"
        record.rename(real)
        record.symlink_to(real)
    else:
        record.write_text("{not json")
    packs = nstutor(env, "--lessons", str(folder), "packs", "--json")
    doc = json.loads(packs.stdout)
    assert doc["packs"][0]["trust"] == "untrusted"
    assert "no pack is trusted" in doc["trust_problem"]
    assert nstutor(env, "--lessons", str(folder), "setup", "demo/hello").returncode == 1
    assert not Path(f"{marker}-setup").exists()


# --------------------------------------------------------------- the app
async def test_the_app_shows_a_pack_under_its_row_and_opens_its_lesson(tmp_path, demo, names):
    """The catalog's row for pack demo says what it is; its lesson opens and is graded live (a lesson
    id with a '/' in a screen's id was a crash: Textual's BadIdentifier)."""
    from test_app import wait_for
    from tutor.app.app import NstutorApp
    from tutor.app.screens.catalog import PACK_ROW, CatalogScreen
    from tutor.app.screens.lesson import LessonScreen
    from tutor.lessons import load_catalog
    from tutor.lessons.packs import folder_packs
    folder, _marker = demo
    catalog = load_catalog(packs=folder_packs(folder))
    app = NstutorApp(None, store_path=tmp_path / "progress.sqlite3", catalog=catalog, resume_last=False,
                     probes=False)
    async with app.run_test(size=(110, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CatalogScreen), what="the catalog")
        table = app.screen.query_one("#catalog")
        row = table.get_row_index(PACK_ROW + "demo")
        assert table.get_row_index("demo/hello") == row + 1 and table.get_row_index("demo/second") == row + 2
        table.move_cursor(row=row)
        await pilot.pause()
        detail = str(app.screen.query_one("#lesson-detail-text").render())
        assert f"Pack demo (folder: {folder})" in detail and "nstutor trust demo" in detail
        await pilot.press("enter")                  # a pack's row is not a lesson: nothing opens
        await pilot.pause()
        assert isinstance(app.screen, CatalogScreen)
        table.move_cursor(row=row + 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and app.updates >= 1, what="the lesson")
        assert app.screen.lesson.id == "demo/hello"
        assert names(1) in " ".join(app.lesson_screen().state.steps["made"].failures)


def test_the_class_report_lists_a_packs_lessons_after_the_shipped_ones(env, demo, names, tmp_path):
    """Two learners export; one has the pack and passed its lesson. The report's lessons: the
    shipped ones by number, then demo/hello and demo/second (numbered 1 and 2 in their pack, not
    between the shipped 1 and 2), with the pack's name in the matrix."""
    folder, _marker = demo
    sh(f"ip netns add {names(1)}")
    with_pack = {**env, "NSTUTOR_DATA_DIR": str(tmp_path / "ada")}
    assert nstutor(with_pack, "--lessons", str(folder), "check", "demo/hello").returncode == 0
    assert nstutor(with_pack, "whoami", "Ada").returncode == 0
    assert nstutor(with_pack, "--lessons", str(folder), "progress", "export", "-o", str(tmp_path / "ada.json")
                   ).returncode == 0
    assert nstutor({**env, "NSTUTOR_DATA_DIR": str(tmp_path / "bo")}, "whoami", "Bo").returncode == 0
    assert nstutor({**env, "NSTUTOR_DATA_DIR": str(tmp_path / "bo")}, "progress", "export", "-o",
                   str(tmp_path / "bo.json")).returncode == 0
    report = nstutor(env, "report", str(tmp_path / "ada.json"), str(tmp_path / "bo.json"),
                     "--csv", str(tmp_path / "class.csv"), "--html", str(tmp_path / "class.html"))
    assert report.returncode == 0, report.stderr
    import csv
    rows = list(csv.DictReader(open(tmp_path / "class.csv", encoding="utf-8")))
    order = list(dict.fromkeys(r["lesson"] for r in rows))
    assert order[-2:] == ["demo/hello", "demo/second"] and order[0] == "welcome"
    ada = {(r["lesson"], r["step"]): r for r in rows if r["learner"] == "Ada"}
    assert ada[("demo/hello", "made")]["status"] == "passed"
    html = (tmp_path / "class.html").read_text(encoding="utf-8")
    assert 'title="Hello from a pack (pack demo)">demo/hello</th>' in html
    assert html.index(">1. welcome</th>") < html.index(">demo/hello</th>")


def test_a_lesson_changed_between_digest_and_parse_can_never_run_its_shell(demo, monkeypatch, tmp_path):
    """Trust is given to a digest; shell runs from the lessons parsed. A file changed between the
    two reads (and changed back: the digest on disk is the trusted one again) must not run what was
    parsed. The change is made from inside content_digest, the moment after it has read the files."""
    from tutor.lessons import catalog as catalog_module
    from tutor.lessons.packs import content_digest, folder_packs
    from tutor.lessons.trust import TrustStore, shell_refusal
    folder, _marker = demo
    monkeypatch.setenv("NSTUTOR_TRUST_DIR", str(tmp_path / "trust"))
    monkeypatch.setenv("NSTUTOR_CACHE_DIR", "off")
    (pack,) = folder_packs(folder)
    original = (folder / "01-hello.md").read_text()
    TrustStore().trust(pack, content_digest(folder))            # the learner trusted this content

    def digest_then_change(directory):
        digest = content_digest(directory)
        (folder / "01-hello.md").write_text(original.replace("setup: touch", "setup: echo evil; touch"))
        return digest
    monkeypatch.setattr(catalog_module, "content_digest", digest_then_change)
    loaded, lessons, _untranslated = catalog_module._load_pack(pack, "en", catalog_module.ParseCache())
    (folder / "01-hello.md").write_text(original)              # back as it was: the digest on disk is trusted
    hello = next(l for l in lessons if l.id == "demo/hello")
    assert "echo evil" in hello.setup
    assert loaded.ref.content_hash == ""
    refusal = shell_refusal(hello, "its setup")
    assert refusal is not None and "changed since this lesson was loaded" in refusal
    # read normally, the same content is trusted
    monkeypatch.setattr(catalog_module, "content_digest", content_digest)
    _loaded, lessons, _untranslated = catalog_module._load_pack(pack, "en", catalog_module.ParseCache())
    assert shell_refusal(next(l for l in lessons if l.id == "demo/hello"), "its setup") is None


def test_packs_add_remembers_a_folder_for_the_learner_and_remove_forgets_it(env, demo, tmp_path):
    folder, _marker = demo
    assert "demo/hello" not in nstutor(env, "list").stdout
    added = nstutor(env, "packs", "add", str(folder))
    assert added.returncode == 0 and f"Added {folder}: pack demo." in added.stdout
    assert nstutor(env, "packs", "add", str(folder)).stdout.strip() == f"{folder} is remembered already."
    listing = json.loads(nstutor(env, "list", "--json").stdout)
    assert [r["id"] for r in listing["lessons"] if r["pack"]] == ["demo/hello", "demo/second"]
    # another learner (another progress store) does not see it
    other = {**env, "NSTUTOR_DATA_DIR": str(tmp_path / "other-learner")}
    assert "demo/hello" not in nstutor(other, "list").stdout
    refused = nstutor(env, "packs", "add", str(tmp_path / "nothing-here"))
    assert refused.returncode == 2 and "is not a lesson pack" in refused.stderr
    removed = nstutor(env, "packs", "remove", "demo")
    assert removed.returncode == 0 and f"Forgot {folder}" in removed.stdout
    assert "demo/hello" not in nstutor(env, "list").stdout
    assert folder.is_dir(), "forgetting a folder leaves it on disk"
