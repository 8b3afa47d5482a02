"""The example pack, installed with pip into a fresh venv, as a study group would (issue 19).

A fresh venv gets this checkout's nstutor and its dependencies (pip and setuptools too) through
.pth files (nothing is downloaded), then `pip install ./examples/packs/nat` (offline: --no-index, and the build uses the
setuptools the test extra brings), beside two more distributions: one whose entry point names a
package that is not there, and one whose package runs code when imported (nstutor must never
import it). Then nstutor, run by that venv's Python, must list the packs, refuse the untrusted
pack's shell, verify its lessons once trusted, and untrust it again when a file of it changes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "packs" / "nat"
NAT_LESSONS = ["nat/snat", "nat/dnat", "nat/conntrack"]


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert result.returncode == 0, f"{cmd}: {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


def _distribution(base: Path, name: str, entry: str, package: str | None, init: str = "",
                  lessons: dict[str, str] | None = None) -> Path:
    """A source tree of a distribution *name* declaring `nstutor.lessons` entry *entry*."""
    tree = base / name
    tree.mkdir(parents=True)
    packages = f'["{package}"]' if package else "[]"
    (tree / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "0.3.0"
        [project.entry-points."nstutor.lessons"]
        {entry}
        [tool.setuptools]
        packages = {packages}
        [tool.setuptools.package-data]
        "*" = ["*.md"]
        """))
    if package:
        (tree / package).mkdir()
        (tree / package / "__init__.py").write_text(init)
        for file_name, text in (lessons or {}).items():
            (tree / package / file_name).write_text(text)
    return tree


EVIL_LESSON = """\
---
id: quiet
title: A pack whose package runs code on import
minutes: 5
---
# Quiet

```check
id: made
title: Make the network namespace pkt-evil-never
expect:
  - netns: {name: pkt-evil-never}
hint: "Run: ip netns add pkt-evil-never"
solution: ip netns add pkt-evil-never
```
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """(python of a fresh venv with nat, broken and evil installed, the marker evil's import would make)"""
    try:
        import setuptools  # noqa: F401  (the offline build's backend: the test extra installs it)
    except ImportError:
        pytest.skip("needs setuptools in this interpreter (sudo ./install.sh --test)")
    base = tmp_path_factory.mktemp("pack-install")
    root = base / "venv"
    # --without-pip: pip and setuptools come from nstutor's environment too (a venv's own bundled
    # setuptools may be too old to build a wheel: no bdist_wheel without the `wheel` package)
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)])
    python = root / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "00-nstutor-checkout.pth").write_text(f"{REPO}\n")                    # tutor from this checkout
    (site / "01-nstutor-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")   # textual, PyYAML...
    marker = base / "evil-was-imported"
    sources = base / "sources"
    nat = sources / "nat"
    shutil.copytree(EXAMPLE, nat, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    broken = _distribution(sources, "nstutor-pack-broken", 'broken = "nstutor_pack_gone"', None)
    evil = _distribution(sources, "nstutor-pack-evil", 'evil = "nstutor_pack_evil"', "nstutor_pack_evil",
                         init=f"open({str(marker)!r}, 'w').write('imported')\n",
                         lessons={"01-quiet.md": EVIL_LESSON})
    for tree in (nat, broken, evil):
        _run([str(python), "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps",
              "--disable-pip-version-check", "--quiet", str(tree)], cwd=base)
    return python, marker, site


@pytest.fixture
def env(tmp_path):
    environ = dict(os.environ)
    environ.update(NSTUTOR_DATA_DIR=str(tmp_path / "data"), NSTUTOR_TRUST_DIR=str(tmp_path / "trust"),
                   NSTUTOR_CACHE_DIR=str(tmp_path / "cache"), NSTUTOR_LANG="en", NSTUTOR_NO_SUDO="1")
    for name in ("NSTUTOR_LESSONS", "PYTHONPATH"):
        environ.pop(name, None)
    return environ


def nstutor(venv, env, *args, timeout=300) -> subprocess.CompletedProcess:
    python, _marker, _site = venv
    return subprocess.run([str(python), "-m", "tutor", *args], cwd="/", env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def packs(venv, env) -> dict[str, dict]:
    result = nstutor(venv, env, "packs", "--json")
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)["packs"] if not p["shadowed_by"]}


def test_pip_installed_packs_are_listed_with_version_source_and_problems(venv, env):
    python, marker, site = venv
    where = _run([str(python), "-c", "import tutor; print(tutor.__file__)"], env=env).stdout.strip()
    assert where == str(REPO / "tutor" / "__init__.py"), "the venv runs this checkout's nstutor"
    found = packs(venv, env)
    nat = found["nat"]
    assert (nat["version"], nat["source"], nat["lessons"], nat["trust"]) == ("1.0.0", "pip: nstutor-pack-nat", 3,
                                                                             "untrusted")
    assert nat["directory"] == str(site / "nstutor_pack_nat") and nat["problems"] == []
    assert found["broken"]["lessons"] == 0
    assert found["broken"]["problems"] == ["pip: nstutor-pack-broken: pack broken: its entry point broken = "
                                           "'nstutor_pack_gone': no such package is installed"]
    assert found["evil"]["lessons"] == 1

    listing = nstutor(venv, env, "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    header = lines.index("pack nat 1.0.0 (pip: nstutor-pack-nat):")
    assert [line.split()[1] for line in lines[header + 1:header + 4]] == NAT_LESSONS
    assert "welcome" in listing.stdout and "evil/quiet" in listing.stdout
    assert "warning: pack broken has problems; see `nstutor packs`" in listing.stderr

    lint = nstutor(venv, env, "lint", "nat")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    everything = nstutor(venv, env, "lint")
    assert everything.returncode == 1 and "no such package is installed" in everything.stdout
    # checks of a pack are data: they run, untrusted
    check = nstutor(venv, env, "check", "evil/quiet", "--no-probe")
    assert check.returncode == 1 and "there is no network namespace pkt-evil-never" in check.stdout
    # an untrusted pack's lab: the advice says that its setup waits for trust (not a loop of b / setup)
    lab = nstutor(venv, env, "check", "nat/dnat", "--no-probe")
    assert "press b in the app, or run: nstutor setup nat/dnat (a pack's setup runs once you trust the pack: " \
           "nstutor trust nat)" in lab.stdout, lab.stdout
    assert nstutor(venv, env, "trust", "evil", "--yes").returncode == 0
    assert not marker.exists(), "nstutor imported a pack's package (its code ran)"


@pytest.mark.needs_root
def test_the_example_pack_verifies_once_trusted_and_not_once_changed(venv, env):
    _python, _marker, site = venv
    refused = nstutor(venv, env, "verify-lesson", "nat/snat")
    assert refused.returncode == 1
    assert "Pack 'nat' is not trusted to run shell commands; nstutor trust nat shows what it would run" in refused.stdout

    trusted = nstutor(venv, env, "trust", "nat", "--yes")
    assert trusted.returncode == 0, trusted.stderr
    assert "nat/snat: solution of step" in trusted.stdout
    verified = nstutor(venv, env, "verify-lesson", *NAT_LESSONS, timeout=600)
    assert verified.returncode == 0, verified.stdout[-4000:] + verified.stderr[-2000:]
    assert "3 passed, 0 failed, 0 skipped" in verified.stdout

    lesson = site / "nstutor_pack_nat" / "01-snat.md"
    original = lesson.read_bytes()
    try:
        lesson.write_bytes(original + b"\n<!-- edited after it was trusted -->\n")
        assert packs(venv, env)["nat"]["trust_words"] == "changed since you trusted it (01-snat.md changed)"
        again = nstutor(venv, env, "verify-lesson", "nat/dnat")
        assert again.returncode == 1 and "changed since you trusted it (01-snat.md changed)" in again.stdout
    finally:
        lesson.write_bytes(original)
    assert packs(venv, env)["nat"]["trust"] == "trusted"          # the trusted content again
    assert nstutor(venv, env, "untrust", "nat").returncode == 0
    assert packs(venv, env)["nat"]["trust"] == "untrusted"
