"""The shell the `!` key opens: the learner's own, with a prompt that says it runs inside nstutor.

A learner who pressed `!` and then left the terminal for a while comes back to a prompt that looks
like any other; typing `nstutor` there would start a second app inside the first. So the prompt
starts with "(nstutor LESSON)", and NSTUTOR_SHELL names the lesson for scripts that want to know.

bash reads ~/.bashrc, which usually sets PS1, so an inherited PS1 would be overwritten: bash gets an
rc file of ours that reads ~/.bashrc first and then puts the mark in front of whatever prompt that
made. Other shells (dash, sh, zsh without a PROMPT of its own) take PS1 from the environment.
"""
from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path


def mark(lesson_id: str) -> str:
    return f"(nstutor {lesson_id}) "


def shell_command(shell: str, lesson_id: str) -> tuple[list[str], dict[str, str], str | None]:
    """(argv, environment, rc file to remove afterwards or None) for the learner's *shell*."""
    env = dict(os.environ, NSTUTOR_SHELL=lesson_id)
    prefix = mark(lesson_id)
    if Path(shell).name != "bash":
        env["PS1"] = prefix + env.get("PS1", "# " if os.geteuid() == 0 else "$ ")
        return [shell], env, None
    fd, rcfile = tempfile.mkstemp(prefix="nstutor-bashrc-")
    with os.fdopen(fd, "w") as out:
        out.write("[ -f ~/.bashrc ] && . ~/.bashrc\n"
                  f"PS1={shlex.quote(prefix)}\"$PS1\"\n")
    return [shell, "--rcfile", rcfile, "-i"], env, rcfile
