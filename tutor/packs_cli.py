"""`nstutor packs`, `nstutor trust PACK`, `nstutor untrust PACK`: the lesson packs on this machine,
and which of them may run shell (tutor/lessons/packs.py finds them, tutor/lessons/trust.py decides).

Trust is recorded for the user whose privileges a pack's shell would run with, so these commands
run as root when sudo can make them (as `check` and `reset` do): a learner who trusts a pack with
sudo trusts it for the root that `sudo nstutor setup` runs as.
"""
from __future__ import annotations

import json
import sys
import textwrap

from .elevate import rerun_as_root
from .i18n import _, ngettext
from .lessons.trust import TrustStore, describe_changes, pack_state, shell_of

EXIT_OK, EXIT_FAIL = 0, 1


class PackUsageError(Exception):
    """An unknown pack or a refused request: one line, exit 2 (cli.UsageError's job)."""


def pack_rows(catalog, store: TrustStore | None = None) -> list[dict]:
    """One dict per pack found, loaded or not: what `nstutor packs --json` prints."""
    store = store if store is not None else TrustStore()
    rows = []
    for loaded in catalog.packs:
        pack = loaded.pack
        state = pack_state(pack, store) if pack.usable else None
        rows.append({
            "name": pack.name, "version": pack.version, "source": pack.source,
            "directory": str(pack.directory) if pack.directory else None,
            "lessons": len(loaded.lesson_ids),
            "trust": state.state if state else None,
            "trust_words": state.words() if state else None,
            "shadowed_by": pack.shadowed_by or None,
            "problems": [str(p) for p in loaded.problems],
        })
    return rows


def cmd_packs(args, catalog) -> int:
    rerun_as_root(_("reading whom a pack is trusted by"))
    store = TrustStore()
    rows = pack_rows(catalog, store)
    if args.json:
        print(json.dumps({"packs": rows, "trust_file": str(store.path) if store.path else None,
                          "trust_problem": store.problem or None}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if store.problem:
        print(_("warning: {problem}").format(problem=store.problem), file=sys.stderr)
    if not rows:
        print(_("No lesson packs here. A pack is a Python package of lessons ({install}) or a folder of lesson "
                "files ({folder}, or {add} to keep it); the README's \"Write a pack\" says how to make one.").format(
                    install="pip install ...", folder="nstutor --lessons DIR", add="nstutor packs add DIR"))
        return EXIT_OK
    for row in rows:
        version = f" {row['version']}" if row["version"] else ""
        lessons = ngettext("{count} lesson", "{count} lessons", row["lessons"]).format(count=row["lessons"])
        if row["shadowed_by"]:
            state = _("not loaded: a pack of the same name comes first ({source})").format(source=row["shadowed_by"])
        elif row["trust"] is None:
            state = _("cannot be read")
        else:
            state = row["trust_words"]
        print(f"{row['name']}{version}  {row['source']}  {lessons}  [{state}]")
        if row["directory"]:
            print(f"    {row['directory']}")
        for problem in row["problems"]:
            print("    " + _("problem: {problem}").format(problem=problem))
    untrusted = [r["name"] for r in rows if r["trust"] not in (None, "trusted") and not r["shadowed_by"]]
    if untrusted:
        print("\n" + _("A pack's checks always run; its shell (setup, cleanup scripts, solutions) runs only once "
                       "you trust it: {command}").format(command=f"nstutor trust {untrusted[0]}"))
    return EXIT_OK


def cmd_packs_add(args, open_store) -> int:
    """`nstutor packs add DIR`: read DIR as a pack from now on (remembered in the learner's store)."""
    from pathlib import Path
    from .lessons.packs import folder_packs
    folder = Path(args.folder).expanduser().absolute()
    packs = folder_packs(folder)
    usable = [p for p in packs if p.usable]
    if not usable:
        raise PackUsageError(_("{folder} is not a lesson pack: {problems}").format(
            folder=folder, problems="; ".join(problem for p in packs for problem in p.problems)))
    store = open_store()
    try:
        folders = store.lesson_folders()
        if str(folder) in folders:
            print(_("{folder} is remembered already.").format(folder=folder))
            return EXIT_OK
        store.set_lesson_folders([*folders, str(folder)])
    finally:
        store.close()
    for pack in usable:
        print(_("Added {folder}: pack {pack}. Its lessons are listed from now on ({command} forgets it).").format(
            folder=folder, pack=pack.name, command=f"nstutor packs remove {pack.name}"))
    return EXIT_OK


def cmd_packs_remove(args, open_store) -> int:
    """`nstutor packs remove DIR|PACK`: forget a remembered folder."""
    from pathlib import Path
    from .lessons.packs import folder_packs
    wanted = str(Path(args.folder).expanduser().absolute())
    store = open_store()
    try:
        folders = store.lesson_folders()
        gone = [f for f in folders if f == wanted or args.folder in {p.name for p in folder_packs(Path(f))}]
        if not gone:
            raise PackUsageError(_("'{folder}' is not a remembered folder (remembered: {folders})").format(
                folder=args.folder, folders=", ".join(folders) or _("none")))
        store.set_lesson_folders([f for f in folders if f not in gone])
    finally:
        store.close()
    for folder in gone:
        print(_("Forgot {folder}: its lessons are no longer listed (nothing on disk changed).").format(folder=folder))
    return EXIT_OK


def _loaded_pack(catalog, name: str):
    """The pack *name* means, loaded; else a PackUsageError naming the near misses."""
    from .lessons.lookup import close_matches, either
    loaded = catalog.pack(name)
    if loaded is not None:
        if not loaded.pack.usable:
            raise PackUsageError(_("pack '{pack}' cannot be read, so it cannot be trusted: {problems}").format(
                pack=name, problems="; ".join(loaded.pack.problems)))
        return loaded
    names = [p.name for p in catalog.packs]
    near = close_matches(name, names)
    if near:
        raise PackUsageError(_("no pack named '{pack}': did you mean {packs}?").format(pack=name, packs=either(near)))
    raise PackUsageError(_("no pack named '{pack}' ({command} lists the packs)").format(pack=name,
                                                                                   command="nstutor packs"))


def cmd_trust(args, catalog, confirm) -> int:
    from .lessons.packs import content_digest
    loaded = _loaded_pack(catalog, args.pack)
    rerun_as_root(_("trusting a pack to run shell as root"))
    pack = loaded.pack
    store = TrustStore()
    digest = content_digest(pack.directory)
    if digest.problem:
        raise PackUsageError(_("pack '{pack}' cannot be checked: {problem}").format(pack=pack.name,
                                                                                   problem=digest.problem))
    if loaded.ref is None or digest.value != loaded.ref.content_hash:
        raise PackUsageError(_("pack '{pack}' changed while nstutor read it: run the command again").format(
            pack=pack.name))
    state = store.state_of(pack.name, digest)
    if state.trusted:
        print(_("Pack {pack} is already trusted, as it is now.").format(pack=pack.described()))
        return EXIT_OK
    lessons = [catalog.find(lesson_id) for lesson_id in loaded.lesson_ids]
    items = shell_of([lesson for lesson in lessons if lesson is not None])
    print(_("Pack {pack}").format(pack=pack.described()))
    print(f"    {pack.directory}")
    if state.state == "changed":
        print(_("You trusted an earlier version of it; since then: {changes}.").format(
            changes=describe_changes(state.changes, most=len(state.changes))))
    print(ngettext("{count} lesson. ", "{count} lessons. ", len(lessons)).format(count=len(lessons)), end="")
    if not items:
        print(_("It holds no shell commands: trusting it changes nothing that runs."))
    else:
        print(ngettext("Trusting it lets nstutor run this shell script, as root, when you ask for it:",
                       "Trusting it lets nstutor run these {count} shell scripts, as root, when you ask for them:",
                       len(items)).format(count=len(items)))
        for item in items:
            print(f"\n  {item.lesson}: {item.what}")
            print(textwrap.indent(item.text.rstrip("\n"), "  | "))
    print("\n" + ngettext("Its content: sha256 {digest} ({count} file). A change to it makes the pack untrusted "
                          "again.",
                          "Its content: sha256 {digest} ({count} files). A change to any of them makes the pack "
                          "untrusted again.", len(digest.files)).format(digest=digest.value[:16],
                                                                         count=len(digest.files)))
    if not args.yes:
        if not sys.stdin.isatty():
            raise PackUsageError(_("not a terminal: pass {option} to trust the pack").format(option="--yes"))
        if not confirm(_("Trust pack '{pack}'? [y/N] ").format(pack=pack.name)):
            print(_("Nothing changed: pack '{pack}' is not trusted.").format(pack=pack.name))
            return EXIT_FAIL
    try:
        store.trust(pack, digest)
    except OSError as err:
        raise PackUsageError(_("cannot record the trust in {path}: {error}").format(
            path=store.path, error=getattr(err, "strerror", None) or err)) from None
    print(_("Pack '{pack}' is trusted: its setup, cleanup scripts and solutions may run when you ask for them. "
            "{command} takes it back.").format(pack=pack.name, command=f"nstutor untrust {pack.name}"))
    return EXIT_OK


def cmd_untrust(args) -> int:
    rerun_as_root(_("taking back a pack's trust"))
    store = TrustStore()
    try:
        removed = store.untrust(args.pack)
    except OSError as err:
        raise PackUsageError(_("cannot record the change in {path}: {error}").format(
            path=store.path, error=getattr(err, "strerror", None) or err)) from None
    if removed:
        print(_("Pack '{pack}' is no longer trusted: its checks still run, its shell does not.").format(pack=args.pack))
    else:
        print(_("Pack '{pack}' is not trusted; nothing changed.").format(pack=args.pack))
    return EXIT_OK
