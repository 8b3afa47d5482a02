"""The wheel is complete: built from this checkout and installed elsewhere, `nstutor list` still works.

lessons/ and assets/ live at the top of the repository and are shipped inside the wheel as the
data-only packages tutor.lessons_data and tutor.assets_data (pyproject.toml, tutor/paths.py).
A forgotten package-data pattern would only show on a learner's machine, so we check it here:

* build the wheel from a copy of the working tree (so the build's build/ and *.egg-info never
  appear in the shared checkout), offline: --no-build-isolation uses this interpreter's
  setuptools (the `test` extra brings setuptools>=77) and --no-index downloads nothing;
* install it with --no-deps --target into a fresh directory: the dependencies (textual, PyYAML...)
  already sit in this interpreter's site-packages, so nothing is downloaded;
* run it from a directory under /tmp with PYTHONPATH=<target> and no repository on sys.path,
  so the installed copy is what runs (PYTHONPATH comes before site-packages, where an older
  nstutor may be installed), and prove it by asking the interpreter where `tutor` came from.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# What a wheel build must not see: VCS data, earlier build output, caches.
_NOT_SOURCE = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                     ".venv", "*.pyc")


def _setuptools_supports_spdx_license() -> bool:
    """pyproject.toml uses `license = "MIT"` (PEP 639), which needs setuptools >= 77."""
    try:
        import setuptools
    except ImportError:
        return False
    major = re.match(r"\d+", setuptools.__version__)
    return bool(major) and int(major.group()) >= 77


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    if res.returncode != 0:
        raise AssertionError(f"command failed ({res.returncode}): {' '.join(cmd)}\n"
                             f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}")
    return res


def _lesson_ids() -> list[str]:
    """The lesson ids in the checkout, read from each file's front matter (no nstutor import)."""
    ids = []
    for path in sorted((REPO / "lessons").glob("*.md")):
        match = re.search(r"^id:\s*(\S+)\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)
        assert match, f"{path.name} has no `id:` in its front matter"
        ids.append(match.group(1))
    return ids


def _needs_modern_setuptools():
    if not _setuptools_supports_spdx_license():
        pytest.skip("needs setuptools>=77 in this interpreter to build the wheel offline "
                    "(the `test` extra installs it: sudo ./install.sh --test)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a copy of the working tree."""
    _needs_modern_setuptools()
    base = tmp_path_factory.mktemp("packaging")
    source, dist = base / "source", base / "dist"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE)
    build = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                  "--wheel-dir", str(dist), str(source)], cwd=base)
    # pip passes the backend's warnings through; the old `license = {text = ...}` table gave a
    # BuildBackendWarning "`project.license` as a TOML table is deprecated" on every install.
    output = build.stdout + build.stderr
    assert "deprecated" not in output.lower(), f"the wheel build warned:\n{output[-3000:]}"
    wheels = list(dist.glob("nstutor-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {dist}, found {wheels}"
    return wheels[0]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed without its dependencies (they are in this interpreter already)."""
    target = tmp_path_factory.mktemp("target")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-compile",
          "--target", str(target), str(wheel)], cwd=target.parent)
    return target


def _clean_env(target: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(target)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_wheel_ships_lessons_and_assets(wheel):
    """The wheel itself holds every lesson and asset of the checkout under tutor/*_data."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = zf.read(metadata).decode()
    lessons = {f"tutor/lessons_data/{p.relative_to(REPO / 'lessons').as_posix()}"
               for p in [*(REPO / "lessons").glob("*.md"), *(REPO / "lessons").glob("ko/*.md")]}
    assert "tutor/lessons_data/ko/01-welcome.md" in lessons            # the translations ship too
    assert "tutor/locale/ko/LC_MESSAGES/nstutor.mo" in names, "the Korean messages are not in the wheel"
    assets = {f"tutor/assets_data/{p.name}" for p in (REPO / "assets").iterdir()
              if p.suffix in (".tcss", ".txt", ".c")}
    assert lessons, "the checkout has no lessons to ship"
    assert lessons <= names, f"lessons missing from the wheel: {sorted(lessons - names)}"
    assert assets <= names, f"assets missing from the wheel: {sorted(assets - names)}"
    assert "License-Expression: MIT" in text, "the wheel's metadata lost its SPDX license"


def test_wheel_ships_every_module(wheel):
    """Every module under tutor/ is in the wheel: a new sub-package missing from pyproject.toml's package
    list would install without its modules (`nstutor list` does not import the app, so it would not tell)."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "tutor").rglob("*.py")}
    assert "tutor/app/panel/layout.py" in modules
    missing = sorted(modules - names)
    assert not missing, f"modules missing from the wheel (is their package in pyproject.toml?): {missing}"

def test_installed_wheel_lists_lessons_from_tmp(installed, tmp_path):
    env = _clean_env(installed)
    # Which tutor does this interpreter import from a directory under /tmp? It must be the wheel's.
    where = _run([sys.executable, "-c", "import tutor, sys; print(tutor.__file__); print('\\n'.join(sys.path))"],
                 cwd=tmp_path, env=env).stdout.splitlines()
    assert Path(where[0]).resolve().is_relative_to(installed.resolve()), \
        f"imported tutor from {where[0]}, not from the installed wheel in {installed}"
    assert not any(p and Path(p).resolve() == REPO for p in where[1:]), "the repository is on sys.path"

    # The console script the wheel declares, as pip wrote it (its shebang is this interpreter).
    script = installed / "bin" / "nstutor"
    assert script.exists(), f"pip did not install the nstutor console script ({script})"
    res = _run([sys.executable, str(script), "list"], cwd=tmp_path, env=env)
    listed = res.stdout
    for lesson_id in _lesson_ids():
        assert re.search(rf"\b{re.escape(lesson_id)}\b", listed), \
            f"`nstutor list` from the installed wheel does not show lesson {lesson_id}:\n{listed}\n{res.stderr}"
    assert "Traceback" not in res.stderr, res.stderr

    # in Korean: the translations are found inside the installed copy too
    korean = _run([sys.executable, str(script), "--lang", "ko", "list"], cwd=tmp_path, env=env).stdout
    assert "시작하기" in korean and " 10분  " in korean, korean            # a Korean lesson, a Korean message

    # --json too: the same lessons, found in tutor/lessons_data inside the installed copy.
    rows = json.loads(_run([sys.executable, str(script), "list", "--json"], cwd=tmp_path, env=env).stdout)["lessons"]
    assert sorted(r["id"] for r in rows) == sorted(_lesson_ids())


def test_no_private_imports_from_textual_or_rich():
    """Textual and rich keep their private modules (`textual.widgets._markdown`) free to change
    between releases: nstutor imports only their public names."""
    import ast
    offenders = []
    for path in sorted((REPO / "tutor").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                parts = name.split(".")
                if parts[0] in ("textual", "rich") and any(p.startswith("_") for p in parts[1:]):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert not offenders, offenders
