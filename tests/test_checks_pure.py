"""The grader is a pure function of (check, snapshot): no module under tutor/checks/ touches the machine.

Read from each module's syntax tree (nothing is imported or run): a call of open(), a use of a module
that reaches the OS (subprocess, socket, shutil, ctypes, pathlib, ...), an os.* function (os.path's
string functions aside), time.sleep, or a call of a reader from tutor/observe (anything but the data
model). What a kind needs from the machine it asks for in wants(), and observe reads it into the
snapshot (see tutor/observe/snapshot.py answer).

There is no list of exceptions any more (issue 13 part 1 emptied it): a module that touches the machine
fails the last test below, with what it does and where.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

CHECKS = Path(__file__).resolve().parent.parent / "tutor" / "checks"

#: Modules that reach the OS anywhere in their code: a module name that means it, or the os calls.
OS_MODULES = {"subprocess", "shutil", "ctypes", "pathlib", "select", "signal", "fcntl", "glob", "tempfile", "io",
              "mmap", "resource", "multiprocessing"}
#: socket's constants (AF_INET) are data; these of its functions reach the network.
SOCKET_CALLS = {"socket", "create_connection", "getaddrinfo", "gethostbyname", "socketpair", "fromfd"}
PURE_OS_PATH = {"dirname", "basename", "join", "normpath", "split", "splitext", "isabs", "commonpath", "sep"}
#: What checks may take from tutor/observe: the data model (and names that are data, by their capitals),
#: and the text view's functions, which only format model objects (route_text...) but for the names
#: given here, which look something up (user_name asks pwd).
PURE_OBSERVE = {"model": set(), "render": {"user_name"}}

def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    observe_names: set[str] = set()     # names bound to tutor.observe modules other than the model
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OS_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if not node.level and module.split(".")[0] in OS_MODULES:
                found.append(f"line {node.lineno}: from {module} import ...")
            if node.level and (module == "observe" or module.startswith("observe.")):
                sub = module.split(".")[1] if "." in module else None
                for alias in node.names:
                    if sub is None and alias.name not in PURE_OBSERVE and alias.name[:1].islower():
                        observe_names.add(alias.asname or alias.name)      # from ...observe import firewall
                    elif sub is not None and alias.name[:1].islower() and not alias.name.isupper() \
                            and (sub not in PURE_OBSERVE or alias.name in PURE_OBSERVE[sub]):
                        observe_names.add(alias.asname or alias.name)      # from ...observe.x import read_y
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "open":
                found.append(f"line {node.lineno}: open()")
            elif isinstance(func, ast.Name) and func.id in observe_names:
                found.append(f"line {node.lineno}: {func.id}() from tutor/observe")
            elif isinstance(func, ast.Attribute):
                owner = func.value
                if isinstance(owner, ast.Name) and owner.id == "os":
                    found.append(f"line {node.lineno}: os.{func.attr}()")
                elif isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) \
                        and owner.value.id == "os" and owner.attr == "path" and func.attr not in PURE_OS_PATH:
                    found.append(f"line {node.lineno}: os.path.{func.attr}()")
                elif isinstance(owner, ast.Name) and owner.id == "socket" and func.attr in SOCKET_CALLS:
                    found.append(f"line {node.lineno}: socket.{func.attr}()")
                elif isinstance(owner, ast.Name) and owner.id == "time" and func.attr == "sleep":
                    found.append(f"line {node.lineno}: time.sleep()")
                elif isinstance(owner, ast.Name) and owner.id in observe_names:
                    found.append(f"line {node.lineno}: {owner.id}.{func.attr}() from tutor/observe")
                elif func.attr in ("read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "glob"):
                    found.append(f"line {node.lineno}: .{func.attr}()")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in ("environ",):
            found.append(f"line {node.lineno}: os.{node.attr}")
    return found


def modules() -> list[str]:
    return sorted(str(p.relative_to(CHECKS)) for p in CHECKS.rglob("*.py"))


def test_the_checker_finds_what_it_looks_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os, socket, subprocess\nfrom pathlib import Path\nfrom ...observe import firewall\n"
                      "from ...observe.model import Snapshot\nfrom ..select import name\nopen('x')\n"
                      "os.listdir('/')\nos.path.exists('/x')\nos.path.dirname('/x')\nPath('/x').read_text()\n"
                      "firewall.read_nat()\nsocket.socket()\nx = socket.AF_INET\n"
                      "from ...observe.render import route_text, user_name\nroute_text(r)\nuser_name(0)\n")
    assert sorted(o.split(": ", 1)[1] for o in offences(sample)) == sorted([
        "import subprocess", "from pathlib import ...", "open()", "os.listdir()", "os.path.exists()",
        ".read_text()", "firewall.read_nat() from tutor/observe", "socket.socket()",
        "user_name() from tutor/observe"])


@pytest.mark.parametrize("name", ["kinds/masquerade.py", "kinds/file.py", "kinds/pid1.py", "kinds/procfs.py",
                                  "kinds/reachable.py"])
def test_the_kinds_that_read_observed_parts_touch_nothing(name):
    assert offences(CHECKS / name) == []


def test_no_module_under_checks_touches_the_machine():
    touching = {name: found for name in modules() if (found := offences(CHECKS / name))}
    assert len(modules()) > 40, "the scan found too few modules to mean anything"
    assert not touching, f"these modules under tutor/checks/ touch the machine: {touching}"
