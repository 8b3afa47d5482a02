"""Becoming root the way this shell can: run nstutor again through sudo, or say how.

The README's first command is the same for a root shell without sudo and for a user with sudo:
`./install.sh && nstutor`. In a root shell nothing here does anything. A user who starts the app,
`check`, `setup`, `reset` or `verify-lesson` without root would see only part of the machine (other
users' namespaces are unreadable), so a verdict could be wrong: nstutor runs itself again through
sudo instead, after saying why, and sudo asks for the password as usual.

It does so only when a person is there to answer sudo (standard input and error are terminals),
sudo exists, and NSTUTOR_NO_SUDO is not set. Otherwise nothing changes: scripts, tests and
learners who prefer it get the partial view with its note, or the command's own "needs root".

sudo resets the environment, so the few variables that say where the learner's progress and
settings live are passed on with env(1) (a sudoers rule for ALL allows that command); the store
already hands its files back to SUDO_USER.
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
from typing import Mapping, Sequence

NO_SUDO = "NSTUTOR_NO_SUDO"
# What decides where progress and settings are, and how text is shown: kept across sudo.
PASSED_ON = ("NSTUTOR_DATA_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "NSTUTOR_LANG", "NSTUTOR_LESSONS", "LANG", "LC_ALL",
             "LC_MESSAGES", "COLORTERM")


def is_root() -> bool:
    return os.geteuid() == 0


def sudo_path(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    return shutil.which("sudo", path=env.get("PATH", os.defpath))


def sudo_command(args: Sequence[str], env: Mapping[str, str], sudo: str, python: str) -> list[str]:
    """The command that runs `nstutor ARGS` again as root, with *env*'s settings passed on.

    nstutor runs as `PYTHON -m tutor.cli`, the interpreter this process runs in, so a venv that is
    not on root's PATH (sudo's secure_path) works the same."""
    kept = [f"{name}={env[name]}" for name in PASSED_ON if env.get(name)]
    prefix = ["/usr/bin/env", *kept] if kept else []
    return [sudo, "--", *prefix, python, "-m", "tutor.cli", *args]


def rerun_as_root(why: str, args: Sequence[str] | None = None) -> None:
    """If a person without root started this and sudo can make it root, replace this process with
    `sudo nstutor ARGS`. Returns only when it does not (root already, no sudo, no terminal, opted out)."""
    if is_root() or os.environ.get(NO_SUDO):
        return
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return
    sudo = sudo_path()
    if sudo is None:
        return
    args = list(sys.argv[1:] if args is None else args)
    shown = f"sudo nstutor {shlex.join(args)}".rstrip()
    from .i18n import _
    print(_("nstutor: {why} needs root; running it again as: {command}").format(why=why, command=shown),
          file=sys.stderr)
    sys.stderr.flush()
    os.execv(sudo, sudo_command(args, os.environ, sudo, sys.executable))


def how_to_run_as_root(command: str, env: Mapping[str, str] | None = None) -> str:
    """How to run COMMAND as root from this shell, to follow "run it as root": with sudo if there
    is one, else by becoming root first (a root shell often has no sudo at all)."""
    if sudo_path(env) is not None:
        return f"sudo {command}"
    from .i18n import _
    return _("log in as root (or su -), then {command}").format(command=command)


def this_command() -> str:
    """The command line this process was started with, as the learner would type it again."""
    return shlex.join(["nstutor", *sys.argv[1:]])
