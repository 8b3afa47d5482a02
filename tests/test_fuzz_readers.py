"""Issue 17, a fuzzer of the project's own: property-based tests (Hypothesis) that take valid lesson
files and progress exports, mutate them at the byte, YAML and JSON levels, and feed them to the
readers. Properties: no exception escapes; every refusal is located (a lesson problem has a line and
a message, a skipped export a reason); a valid file still passes (and the good export beside a bad one
is still read); the time per file is bounded.

Reproducible in CI without a seed database: every test runs with `derandomize=True` (Hypothesis
derives its examples from the test's own source, so the same sequence every run) and `database=None`
(nothing remembered between runs). The budget is FUZZ_EXAMPLES (1500) examples per test, ~45 s for the
file; set NSTUTOR_FUZZ_EXAMPLES=10000 (say) for a longer local run. The number of cases each test
ran is printed at the end (`pytest -s` shows it) and kept in CASES.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from progress_support import StepPlan, make_export, write_export
from tutor.lessons.parse import parse_lesson
from tutor.progress.merge import load_class
from tutor.progress.report import summary_lines, write_csv
from tutor.progress.report_html import render_html

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO / "lessons").glob("*.md"))
FUZZ_EXAMPLES = int(os.environ.get("NSTUTOR_FUZZ_EXAMPLES", "1500"))
SECONDS_PER_FILE = 2.0
CASES: dict[str, int] = {}

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print("\nfuzz cases:", ", ".join(f"{k}={v}" for k, v in sorted(CASES.items())))


# ------------------------------------------------------------------------------------ mutations
def byte_mutation():
    """One edit of raw bytes at an offset given as a fraction of the length."""
    pos = st.floats(0, 1, allow_nan=False)
    some = st.binary(min_size=1, max_size=16) | st.sampled_from(
        [b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\r", b"\t", b"---\n", b"```", b"\n```check\n",
         b"[" * 2000, b"{" * 2000, b"&a ", b"*a", b"\xe2\x80\xae", b"\x1b]8;;x\x07"])
    return st.one_of(
        st.tuples(st.just("flip"), pos, st.integers(1, 255)),
        st.tuples(st.just("insert"), pos, some),
        st.tuples(st.just("delete"), pos, st.integers(1, 64)),
        st.tuples(st.just("truncate"), pos, st.just(None)),
    )


def apply_bytes(data: bytes, edits) -> bytes:
    for kind, where, arg in edits:
        at = min(int(where * len(data)), max(len(data) - 1, 0))
        if kind == "flip" and data:
            data = data[:at] + bytes([data[at] ^ arg]) + data[at + 1:]
        elif kind == "insert":
            data = data[:at] + arg + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + arg:]
        elif kind == "truncate":
            data = data[:at]
    return data


#: YAML text to put where a value was: deep nesting, aliases and a small bomb, control characters,
#: duplicate keys, mixed-type keys, wrong types, tags, odd scalars.
YAML_NASTIES = [
    "[" * 3000, "{a: " * 500, "&a [1, *a]", "*nowhere", "!!python/object:os.system x", "!!binary AAAA",
    '"\\x00\\ud800\\u202e"', "'\x00'", "\x07\x1b[31m", "{1: a, b: c}", "[{1: a, b: c}]",
    "{expect: a, expect: b}", "true", "null", "~", ".inf", "-.nan", "0x7fffffffffffffffffff", "-1",
    "1e999", "''", "|\n  block", ">-\n folded", "? complex\n: key", "%YAML 1.1", "---", "...",
    "\n".join(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}" if i else "x"] * 9) + "]" for i in range(8)),
]
yaml_scalar = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True).map(repr), st.booleans().map(str),
                        st.text(max_size=20).map(json.dumps), st.text(max_size=20))
yaml_value = st.one_of(st.sampled_from(YAML_NASTIES), yaml_scalar.map(str),
                       st.recursive(yaml_scalar.map(str), lambda inner: st.lists(inner, max_size=4).map(
                           lambda xs: "[" + ", ".join(xs) + "]"), max_leaves=20))


def yaml_lines(text: str) -> list[int]:
    """Line indexes of `key: value` lines inside the front matter or a ```check block."""
    lines = text.split("\n")
    found, inside, fences = [], False, 0
    for i, line in enumerate(lines):
        s = line.strip()
        if (i == 0 and s == "---") or (fences == 0 and i and s == "---" and inside):
            inside = not inside
            fences += 0 if inside else 1
            continue
        if s.startswith("```"):
            inside = s.startswith("```check")
            continue
        if inside and ":" in line and not s.startswith("#"):
            found.append(i)
    return found


def apply_yaml(text: str, index: float, value: str, mode: str) -> str:
    lines = text.split("\n")
    spots = yaml_lines(text)
    if not spots:
        return text
    i = spots[min(int(index * len(spots)), len(spots) - 1)]
    key, _, _old = lines[i].partition(":")
    if mode == "replace":
        lines[i] = f"{key}: {value}"
    elif mode == "duplicate":
        lines.insert(i + 1, f"{key}: {value}")
    else:                                          # a sibling key of the same indentation
        indent = key[:len(key) - len(key.lstrip())]
        lines.insert(i + 1, f"{indent}{value}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------- lessons
#: The file-level problems that Problem allows without a line (line=None): a thing that is missing
#: from the whole file has no line that shows it. Every other problem must have its line.
NO_LINE = ("the lesson has no ```check blocks",)


def check_lesson(data: bytes, name: str) -> None:
    count(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "99-fuzz.md"
        path.write_bytes(data)
        started = time.monotonic()
        lesson, problems = parse_lesson(path)
        took = time.monotonic() - started
        for p in problems:
            if p.line is None:          # only a problem of absence has no line that shows it
                assert any(m in p.message for m in NO_LINE), (p, data[:200])
            else:
                assert isinstance(p.line, int) and p.line >= 1, (p, data[:200])
            assert p.message and p.message.strip(), (p, data[:200])
            str(p).encode("utf-8")              # printable: no lone surrogate reaches the terminal
        assert lesson is not None or problems, "refused without a problem"
    assert took < SECONDS_PER_FILE, f"{took:.2f} s for one file"


@FUZZ
@given(lesson=st.sampled_from(LESSONS), edits=st.lists(byte_mutation(), min_size=1, max_size=4))
def test_lessons_mutated_at_the_byte_level(lesson, edits):
    check_lesson(apply_bytes(lesson.read_bytes(), edits), "lesson_bytes")


@FUZZ
@given(lesson=st.sampled_from(LESSONS), where=st.floats(0, 1, allow_nan=False), value=yaml_value,
       mode=st.sampled_from(["replace", "duplicate", "sibling"]))
def test_lessons_mutated_at_the_yaml_level(lesson, where, value, mode):
    text = apply_yaml(lesson.read_text(encoding="utf-8"), where, value, mode)
    check_lesson(text.encode("utf-8", "surrogatepass"), "lesson_yaml")


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.name for p in LESSONS])
def test_a_shipped_lesson_unmutated_still_parses(lesson):
    started = time.monotonic()
    parsed, problems = parse_lesson(lesson)
    assert parsed is not None and problems == []
    assert time.monotonic() - started < SECONDS_PER_FILE


# -------------------------------------------------------------------------------------- exports
_GOOD: dict = {}


def good_export() -> dict:
    """A valid export made the real way (a ProgressStore, as `nstutor progress export`), made once."""
    if not _GOOD:
        with tempfile.TemporaryDirectory() as tmp:
            _GOOD.update(make_export(Path(tmp), "Ada", {("rooms", "made"): StepPlan(fails=2, passes=True, hints=1),
                                                        ("rooms", "cable"): StepPlan(fails=1, solution=True),
                                                        ("pids", "pid1"): StepPlan(passes=True)},
                                     minutes={"rooms": 12.5}))
    return json.loads(json.dumps(_GOOD))


def json_paths(node, prefix=()):
    """Every path to a value in the document (dict keys and list indexes)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from json_paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from json_paths(v, prefix + (i,))


#: JSON text (not values: Infinity and NaN must reach the file as the words) to put in a field.
JSON_NASTIES = ["Infinity", "-Infinity", "NaN", "1e999", "-1", "-0.0", "true", "false", "null", "[]", "{}",
                "9" * 5000, "[" * 5000 + "]" * 5000, '"\\ud800"', '"\\udfff\\ud800"', '"\\u202e\\u2066evil"',
                '"=HYPERLINK(\\"x\\")"', '"\\u001b]8;;http://x\\u0007"', '"\\u0000"', '""', '"' + "x" * 100000 + '"']
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 80), 2 ** 80),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
json_value = st.one_of(st.sampled_from(JSON_NASTIES),
                       st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4) |
                                    st.dictionaries(st.text(max_size=8), inner, max_size=4),
                                    max_leaves=15).map(json.dumps))
MARK = "\u2603fuzz-value\u2603"


def mutated_export(doc: dict, where: float, value: str, mode: str) -> str:
    paths = list(json_paths(doc))
    path = paths[min(int(where * len(paths)), len(paths) - 1)]
    if not path:
        return value if mode == "replace" else "{}"
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if mode == "delete":
        del parent[path[-1]]
        return json.dumps(doc, indent=2)
    parent[path[-1]] = MARK
    return json.dumps(doc, indent=2).replace(json.dumps(MARK), value, 1)


def check_class(data: bytes, name: str) -> None:
    count(name)
    good = good_export()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "class"
        write_export(folder / "good.json", dict(good, learner={"name": "Grace", "id": "good-learner"}))
        (folder / "fuzz.json").write_bytes(data)
        started = time.monotonic()
        result = load_class([folder])
        write_csv(result, tmp / "steps.csv")
        html = render_html(result)
        html.encode("utf-8")
        for line in summary_lines(result):
            line.encode("utf-8")
        took = time.monotonic() - started
        skipped = {Path(s.path).name: s.reason for s in result.skipped}
        assert "good.json" not in skipped, skipped
        assert all(reason and str(reason).strip() for reason in skipped.values()), skipped
        assert result.files_read + len(skipped) == 2, (result.files_read, skipped)
        assert any(learner_name(l) == "Grace" for l in result.learners)
    assert took < SECONDS_PER_FILE, f"{took:.2f} s for one file"


def learner_name(learner) -> str:
    return getattr(learner, "name", None) or getattr(getattr(learner, "learner", None), "name", "")


@FUZZ
@given(where=st.floats(0, 1, allow_nan=False), value=json_value, mode=st.sampled_from(["replace", "replace", "delete"]))
def test_exports_mutated_at_the_json_level(where, value, mode):
    check_class(mutated_export(good_export(), where, value, mode).encode("utf-8", "surrogatepass"), "export_json")


@FUZZ
@given(edits=st.lists(byte_mutation(), min_size=1, max_size=4))
def test_exports_mutated_at_the_byte_level(edits):
    check_class(apply_bytes(json.dumps(good_export(), indent=2).encode(), edits), "export_bytes")


def test_a_valid_export_unmutated_is_read():
    check_class(json.dumps(good_export(), indent=2).encode(), "export_valid")


# ------------------------------------------------------------------------- the two YAML readers
def yaml_blocks(text: str) -> list[str]:
    from tutor.lessons.parse import _block_parser
    return [t.content for t in _block_parser().parse(text)
            if t.type == "front_matter" or (t.type == "fence" and t.info.startswith("check"))]


def outcome(read, text: str):
    """What a reader makes of *text*: its data and key lines, or that it refused it."""
    from tutor.lessons.parse import _item_lines, _key_lines
    try:
        data, node = read(text)
    except yaml.YAMLError:
        return "refused"
    return repr(data), _key_lines(node, 1), _item_lines(node, 1)     # repr: nan equals nan


def agree(block: str, name: str) -> None:
    """Where libyaml and PyYAML's pure-Python reader both accept a text, they read the same data on
    the same lines; safe_yaml.load gives libyaml's reading, or else PyYAML's (its data or its error)."""
    from tutor.lessons import safe_yaml
    fast = outcome(lambda text: safe_yaml._read(safe_yaml.FastLessonLoader, text, 1), block)
    slow = outcome(lambda text: safe_yaml._read(safe_yaml.LessonLoader, text, 1), block)
    if "refused" not in (fast, slow):
        assert fast == slow, block[:300]
    elif fast != slow:
        count(f"{name}_only_libyaml_accepts" if slow == "refused" else f"{name}_only_pyyaml_accepts")
    assert outcome(safe_yaml.load, block) == (fast if fast != "refused" else slow)


@FUZZ
@given(lesson=st.sampled_from(LESSONS), where=st.floats(0, 1, allow_nan=False), value=yaml_value,
       mode=st.sampled_from(["replace", "duplicate", "sibling"]))
def test_the_c_reader_and_the_python_reader_agree(lesson, where, value, mode):
    """safe_yaml reads with libyaml where it can and falls back to PyYAML's pure-Python reader when
    libyaml refuses: where both accept, libyaml must read exactly what PyYAML would have read."""
    from tutor.lessons import safe_yaml
    if safe_yaml.FastLessonLoader is None:
        pytest.skip("this PyYAML has no libyaml")
    text = apply_yaml(lesson.read_text(encoding="utf-8"), where, value, mode)
    for block in yaml_blocks(text):
        count("yaml_readers")
        agree(block, "yaml_readers")


@FUZZ
@given(lesson=st.sampled_from(LESSONS), edits=st.lists(byte_mutation(), min_size=1, max_size=4))
def test_the_c_reader_and_the_python_reader_agree_on_mutated_bytes(lesson, edits):
    from tutor.lessons import safe_yaml
    if safe_yaml.FastLessonLoader is None:
        pytest.skip("this PyYAML has no libyaml")
    text = apply_bytes(lesson.read_bytes(), edits).decode("utf-8", "replace")
    for block in yaml_blocks(text):
        count("yaml_readers_bytes")
        agree(block, "yaml_readers_bytes")
