"""The README's map of the code ("How it fits together", "Where things go") names files that exist.

A newcomer finds their way by that map, so a module that is moved or renamed without the map
following fails here, naming the line.
"""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, flags=re.S | re.M)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def tree_block() -> list[str]:
    """The lines of the code block that draws tutor/."""
    blocks = re.findall(r"^```\n(tutor/\n.*?)^```", section("How it fits together"), flags=re.S | re.M)
    assert blocks, "the section draws no tree of tutor/"
    return blocks[0].splitlines()


def files_in_tree(lines: list[str]) -> list[tuple[str, Path]]:
    """(the line, the file it names) for each NAME.py in the tree, placed in the folder above it:
    a folder line ("  checks/ ...") opens a folder at its indentation, and a deeper line without one
    goes on in the last folder."""
    folders: list[tuple[int, Path]] = [(-1, REPO)]
    found = []
    for line in lines:
        indent = len(line) - len(line.lstrip())
        first = line.split()[0] if line.split() else ""
        if first.endswith("/"):
            while folders[-1][0] >= indent:
                folders.pop()
            folders.append((indent, folders[-1][1] / first.rstrip("/")))
        elif first.endswith(".py") and indent <= folders[-1][0]:
            while folders[-1][0] >= indent:  # a file at a folder's own level belongs to the folder above
                folders.pop()
        for name in re.findall(r"\b[a-z_]+\.py\b", line):
            found.append((line, folders[-1][1] / name))
    return found


def test_every_module_the_tree_names_is_where_it_says():
    named = files_in_tree(tree_block())
    assert len(named) > 30, f"the tree names too few modules ({len(named)}) for this test to mean much"
    missing = [f"{path.relative_to(REPO)} (line: {line.strip()!r})" for line, path in named if not path.is_file()]
    assert not missing, "the README's tree names files that are not there:\n" + "\n".join(missing)


def test_every_package_of_tutor_is_in_the_tree():
    drawn = {path.parent for _, path in files_in_tree(tree_block())}
    text = "\n".join(tree_block())
    packages = sorted(p.parent for p in (REPO / "tutor").rglob("__init__.py"))
    absent = [str(p.relative_to(REPO)) for p in packages
              if p not in drawn and f"{p.name}/" not in text]
    assert not absent, f"the README's tree leaves out these packages: {absent}"


def test_every_path_in_backticks_exists():
    text = section("How it fits together") + section("Where things go")
    paths = set(re.findall(r"`((?:tutor|tests|lessons|assets|bench)/[\w./-]*\w)", text))
    assert paths, "the map names no paths"
    missing = sorted(p for p in paths if "NN" not in p and not (REPO / p).exists())
    assert not missing, f"the README names paths that do not exist: {missing}"


def test_the_map_check_catches_a_moved_module(tmp_path):
    moved = ["tutor/", "  observe/       procfs.py, nowhere.py", "  app/           app.py",
             "    panel/       layout.py", "  cli.py         every command"]
    missing = [path for _, path in files_in_tree(moved) if not path.is_file()]
    assert missing == [REPO / "tutor/observe/nowhere.py"]
    assert (REPO / "tutor/app/panel/layout.py").is_file() and (REPO / "tutor/cli.py").is_file()
