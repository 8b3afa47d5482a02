"""Can a process's command be typed again as it is? Observe answers it for the restart advice.

A kind that tells the learner to restart a process (namespaces are fixed when a process starts)
suggests its command line with unshare/nsenter in front, but only when that command line works
when typed: not when its argv[0] was renamed (`exec -a app-a sleep 1000`), or is a path relative
to a directory the learner is no longer in. Whether it works depends on the machine (PATH, the
file system), so the grader asks for it (Wants.programs) and reads the answer from the snapshot.
"""
from __future__ import annotations

import os
import shutil


def runnable(program: str) -> bool:
    """Does a shell here find *program* (an argv[0]) as it is written: a path to an existing file,
    or a name on PATH?"""
    if not program:
        return False
    return os.path.isfile(program) if "/" in program else shutil.which(program) is not None
