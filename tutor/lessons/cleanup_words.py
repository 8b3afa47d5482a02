"""A lesson's cleanup declaration in words, for the question reset asks before removing anything.

    netns: [RED, BLUE]                   -> the network namespaces RED and BLUE
    links: [nsbr0]                       -> the link nsbr0
    processes: ['^sleep 1001$', '^app-a ']  -> the processes `sleep 1001` and `app-a …`
    processes: [{comm: pause, cmdline: '(nstutor pause|-m tutor\\.pause)$'}]
                                         -> processes named pause (started as `… nstutor pause` or `… -m tutor.pause`)
    mounts: [/mnt/x]                     -> what is mounted on /mnt/x
    cgroups: [nstutor-cpu]               -> the cgroup nstutor-cpu
    paths: [/tmp/nstutor-root]           -> the directory /tmp/nstutor-root
    containers: [{engine: docker, name: web}, {engine: docker, name: nonet}]
                                         -> the docker containers web and nonet
    pods: [{engine: podman, name: podweb}]   -> the podman pod podweb (and its containers)
    images: [{engine: docker, name: nstutor-box}] -> the docker image nstutor-box

A process selector's cmdline is a regular expression; the learner reads the command it stands
for: the literal text, '…' where anything may come before or after, an optional part left out,
the choices of an alternation each shown. A pattern beyond that (classes, repeats) is shown as a
pattern, said to be one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..texts import command_words, noun, words

def cleanup_phrases(spec: Mapping[str, Any] | None) -> list[str]:
    """One phrase per kind of thing the declaration removes, in the order cleanup removes them
    (the script is not here: its commands are shown as they are, see cleanup_summary)."""
    spec = spec or {}
    phrases = engine_phrases(spec)          # removed first: see cleanup.remove_engine_objects
    if spec.get("processes"):
        phrases.append(processes_phrase(spec["processes"]))
    if spec.get("mounts"):
        phrases.append("what is mounted on " + words(map(str, spec["mounts"])))
    for key, one in (("netns", "network namespace"), ("links", "link"), ("cgroups", "cgroup")):
        names = [str(n) for n in spec.get(key) or ()]
        if names:
            phrases.append(f"the {noun(len(names), one)} {words(names)}")
    if spec.get("paths"):
        phrases.append(paths_phrase([str(p) for p in spec["paths"]]))
    return phrases


def engine_phrases(spec: Mapping[str, Any]) -> list[str]:
    """'the docker containers web and nonet', 'the podman pod podweb (and its containers)', per
    engine, for the containers, pods and images the declaration names."""
    out = []
    for key, one, many in (("containers", "container", "containers"), ("pods", "pod", "pods"),
                           ("images", "image", "images")):
        by_engine: dict[str, list[str]] = {}
        for item in spec.get(key) or ():
            if isinstance(item, Mapping) and item.get("engine") and item.get("name"):
                by_engine.setdefault(str(item["engine"]), []).append(str(item["name"]))
        for engine, names in by_engine.items():
            tail = " (and their containers)" if key == "pods" and len(names) > 1 else (
                " (and its containers)" if key == "pods" else "")
            out.append(f"the {engine} {noun(len(names), one, many)} {words(names)}{tail}")
    return out


def paths_phrase(paths: list[str]) -> str:
    """'the directory /tmp/nstutor-root', 'the files A and B', by what is there now."""
    groups: dict[str, list[str]] = {}
    for raw in paths:
        path = Path(raw)
        kind = ("directory" if path.is_dir() and not path.is_symlink()
                else "file" if path.exists() or path.is_symlink() else "file or directory")
        groups.setdefault(kind, []).append(raw)
    many = {"directory": "directories", "file or directory": "files or directories"}
    return words(f"the {noun(len(names), kind, many.get(kind))} {words(names)}" for kind, names in groups.items())


def processes_phrase(selectors: list) -> str:
    """'processes named pause (started as …)' per named selector, and one 'the processes `a` and `b`'
    for the selectors that give only a command line."""
    named, commands, patterns = [], [], []
    for sel in selectors:
        sel = {"cmdline": sel} if isinstance(sel, str) else dict(sel)
        pattern = str(sel["cmdline"]) if "cmdline" in sel else None
        shown = command_words(pattern) if pattern is not None else None
        if "comm" in sel:
            named.append(f"processes named {sel['comm']}" + (
                "" if pattern is None else f" (started as {shown})" if shown
                else f" whose command line matches the pattern `{pattern}`"))
        elif shown:
            commands.append(shown)
        else:
            patterns.append(f"processes whose command line matches the pattern `{pattern}`")
    if commands:
        named.append(f"the {noun(len(commands), 'process', 'processes')} {words(commands)}")
    return words(named + patterns)
