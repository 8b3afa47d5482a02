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

from ..i18n import _, ngettext
from ..texts import command_words, words


def cleanup_phrases(spec: Mapping[str, Any] | None) -> list[str]:
    """One phrase per kind of thing the declaration removes, in the order cleanup removes them
    (the script is not here: its commands are shown as they are, see cleanup_summary)."""
    spec = spec or {}
    phrases = engine_phrases(spec)          # removed first: see cleanup.remove_engine_objects
    if spec.get("processes"):
        phrases.append(processes_phrase(spec["processes"]))
    if spec.get("mounts"):
        phrases.append(_("what is mounted on {paths}").format(paths=words(map(str, spec["mounts"]))))
    for key in ("netns", "links", "cgroups"):
        names = [str(n) for n in spec.get(key) or ()]
        if names:
            phrases.append(_named(key, len(names)).format(names=words(names)))
    if spec.get("paths"):
        phrases.append(paths_phrase([str(p) for p in spec["paths"]]))
    return phrases


def _named(key: str, n: int) -> str:
    """'the network namespace {names}' and the like, for *n* objects of cleanup.<key>."""
    if key == "netns":
        return ngettext("the network namespace {names}", "the network namespaces {names}", n)
    if key == "links":
        return ngettext("the link {names}", "the links {names}", n)
    return ngettext("the cgroup {names}", "the cgroups {names}", n)


def engine_phrases(spec: Mapping[str, Any]) -> list[str]:
    """'the docker containers web and nonet', 'the podman pod podweb (and its containers)', per
    engine, for the containers, pods and images the declaration names."""
    out = []
    for key in ("containers", "pods", "images"):
        by_engine: dict[str, list[str]] = {}
        for item in spec.get(key) or ():
            if isinstance(item, Mapping) and item.get("engine") and item.get("name"):
                by_engine.setdefault(str(item["engine"]), []).append(str(item["name"]))
        for engine, names in by_engine.items():
            out.append(_engine_objects(key, len(names)).format(engine=engine, names=words(names)))
    return out


def _engine_objects(key: str, n: int) -> str:
    if key == "containers":
        return ngettext("the {engine} container {names}", "the {engine} containers {names}", n)
    if key == "pods":
        return ngettext("the {engine} pod {names} (and its containers)",
                        "the {engine} pods {names} (and their containers)", n)
    return ngettext("the {engine} image {names}", "the {engine} images {names}", n)


def paths_phrase(paths: list[str]) -> str:
    """'the directory /tmp/nstutor-root', 'the files A and B', by what is there now."""
    groups: dict[str, list[str]] = {}
    for raw in paths:
        path = Path(raw)
        kind = ("directory" if path.is_dir() and not path.is_symlink()
                else "file" if path.exists() or path.is_symlink() else "file or directory")
        groups.setdefault(kind, []).append(raw)
    return words(_paths(kind, len(names)).format(paths=words(names)) for kind, names in groups.items())


def _paths(kind: str, n: int) -> str:
    if kind == "directory":
        return ngettext("the directory {paths}", "the directories {paths}", n)
    if kind == "file":
        return ngettext("the file {paths}", "the files {paths}", n)
    return ngettext("the file or directory {paths}", "the files or directories {paths}", n)


def processes_phrase(selectors: list) -> str:
    """'processes named pause (started as …)' per named selector, and one 'the processes `a` and `b`'
    for the selectors that give only a command line."""
    named, commands, patterns = [], [], []
    for sel in selectors:
        sel = {"cmdline": sel} if isinstance(sel, str) else dict(sel)
        pattern = str(sel["cmdline"]) if "cmdline" in sel else None
        shown = command_words(pattern) if pattern is not None else None
        if "comm" in sel:
            if pattern is None:
                named.append(_("processes named {name}").format(name=sel["comm"]))
            elif shown:
                named.append(_("processes named {name} (started as {commands})").format(name=sel["comm"],
                                                                                      commands=shown))
            else:
                named.append(_("processes named {name} whose command line matches the pattern `{pattern}`").format(
                    name=sel["comm"], pattern=pattern))
        elif shown:
            commands.append(shown)
        else:
            patterns.append(_("processes whose command line matches the pattern `{pattern}`").format(pattern=pattern))
    if commands:
        named.append(ngettext("the process {commands}", "the processes {commands}", len(commands)).format(
            commands=words(commands)))
    return words(named + patterns)
