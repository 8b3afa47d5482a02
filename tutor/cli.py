"""The nstutor command line: the same engine as the app, without the TUI.

    nstutor                       open the app (catalog)
    nstutor LESSON                open the app on that lesson (its id, number or file name:
                                  tutor/lessons/lookup.py; near misses get a "did you mean")
    nstutor list [--json]         lessons, minutes, whether they can run here
    nstutor check LESSON [--step STEP] [--json] [--no-probe]
    nstutor lint [PATH...]        check lesson files; file:line for every problem
    nstutor snapshot [--json]     what nstutor sees of this machine
    nstutor kinds                 the expectation kinds a check block may use
    nstutor setup LESSON          build a lesson's lab (flannel's nodes), showing progress
    nstutor whoami [NAME]         show or set the name your progress exports carry
    nstutor progress [--lesson ID] [--all]          your progress, lesson by lesson
    nstutor progress export --format json|csv [-o FILE]
    nstutor report FILES_OR_DIRS... [--csv OUT] [--html OUT]   merge learners' exports
    nstutor pause                 the pause process of a hand-made pod (pod, shared-pid)
    nstutor packs [--json]        the lesson packs (packs_cli.py); trust PACK [--yes], untrust PACK
    --lessons DIR                 with any of them: a folder of lessons read as a pack too

Exit codes: 0 success / all checked steps pass, 1 a step fails or lint found problems (report:
an input file was skipped), 2 a usage error or an unknown lesson.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .elevate import how_to_run_as_root, rerun_as_root, this_command

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments: printed as one line, exit 2."""


def _catalog():
    from .lessons import load_catalog
    return load_catalog()


def _lesson_or_usage(name: str, catalog=None):
    """The lesson *name* means (its id, number or file name: tutor/lessons/lookup.py), else a usage
    error that suggests the near misses."""
    from .lessons.lookup import find_lesson, unknown_lesson
    catalog = catalog or _catalog()
    lesson = find_lesson(catalog, name)
    if lesson is None:
        raise UsageError(unknown_lesson(catalog, name))
    return lesson


def _step_or_usage(lesson, name: str):
    """The step *name* means (its id, or its number as the app lists them), else a usage error."""
    from .lessons.lookup import find_step, unknown_step
    step = find_step(lesson, name)
    if step is None:
        raise UsageError(unknown_step(lesson, name))
    return step


def _root_note(out=sys.stderr) -> None:
    if os.geteuid() != 0:
        from .i18n import _
        print(_("note: not running as root, so nstutor cannot see other users' namespaces or the contents of "
                "network namespaces. For a full check, run it as root: {command}").format(
                    command=how_to_run_as_root(this_command())), file=out)


# --------------------------------------------------------------- commands
def cmd_list(args) -> int:
    catalog = _catalog()
    rows = []
    for lesson in catalog.lessons:
        missing = lesson.missing_requirements()
        rows.append({"id": lesson.id, "number": lesson.number, "title": lesson.title, "minutes": lesson.minutes,
                     "steps": len(lesson.steps), "ready": not missing, "missing": missing,
                     "pack": lesson.pack.name if lesson.pack else None})
    if args.json:
        packs = [{"name": p.pack.name, "version": p.pack.version, "source": p.pack.source,
                  "lessons": list(p.lesson_ids), "problems": [str(x) for x in p.problems]} for p in catalog.packs]
        print(json.dumps({"lessons": rows, "packs": packs}, indent=2))
        return EXIT_OK
    from .i18n import _, ngettext
    from .texts import cell_width, pad
    width = max((cell_width(r["id"]) for r in rows), default=2)
    packs = {p.name: p.pack for p in catalog.packs if p.lesson_ids}
    shown_pack = None
    for r in rows:
        if r["pack"] != shown_pack:         # a pack's lessons come after the shipped ones, under its name
            shown_pack = r["pack"]
            print("\n" + _("pack {pack}:").format(pack=packs[shown_pack].described()))
        state = _("ready") if r["ready"] else "; ".join(r["missing"])
        minutes = _("{minutes:>3} min").format(minutes=r["minutes"])
        print(f"{r['number']:>2}  {pad(r['id'], width)}  {minutes}  {r['title']}  [{state}]")
    if catalog.problems:
        print(ngettext("warning: the lessons have {count} problem; see `nstutor lint`",
                       "warning: the lessons have {count} problems; see `nstutor lint`",
                       len(catalog.problems)).format(count=len(catalog.problems)), file=sys.stderr)
    broken = [p.name for p in catalog.packs if p.problems]
    if broken:
        print(ngettext("warning: pack {packs} has problems; see `nstutor packs`",
                       "warning: packs {packs} have problems; see `nstutor packs`",
                       len(broken)).format(packs=", ".join(broken)), file=sys.stderr)
    return EXIT_OK


def cmd_check(args) -> int:
    from .checks.runner import grade_step
    from .i18n import _, ngettext
    from .grade import snapshot_for
    lesson = _lesson_or_usage(args.lesson)
    steps = (_step_or_usage(lesson, args.step),) if args.step else lesson.steps
    rerun_as_root(_("checking a lesson against every namespace"))
    snap = snapshot_for(steps, probes=not args.no_probe)
    results = [grade_step(s, snap, probes=not args.no_probe, lesson=lesson) for s in steps]
    passed = all(r.passed for r in results)
    _record_attempts(lesson, results, steps[0].id if args.step else None, snap.taken_at)
    if args.json:
        print(json.dumps({"lesson": lesson.id, "passed": passed, "steps": [r.as_dict() for r in results]},
                         indent=2))
    else:
        print(f"{lesson.title}  ({lesson.id})")
        for r in results:
            print("\n".join(step_lines(r)))
        unprobed = sum(r.unprobed for r in results)
        print(ngettext("{passed}/{total} step passes", "{passed}/{total} steps pass", len(results)).format(
                  passed=sum(r.passed for r in results), total=len(results))
              + (_("; {count} not probed (--no-probe)").format(count=unprobed) if unprobed else ""))
        if not snap.is_root:
            _root_note()
    return EXIT_OK if passed else EXIT_FAIL


def step_lines(result) -> list[str]:
    """One step of `nstutor check` as text: PASS/FAIL, each reason once, and any near miss of the
    learner's that sits beside a right object (with the command that removes it)."""
    from .i18n import _
    if result.unprobed:             # --no-probe: the probe was not sent, so nothing is known
        return [f"  ----  {result.id}: {result.title} " + _("(not probed: run without --no-probe)")]
    # PASS and FAIL stay English in every language: they are the status words scripts look for
    lines = [f"  {'PASS' if result.passed else 'FAIL'}  {result.id}: {result.title}"]
    lines += [f"        - {text}" for text in result.reasons]
    lines += ["        " + _("beside it: {what}; remove it with: {command}").format(what=stray.what, command=stray.command)
              for stray in dict.fromkeys(s for v in result.verdicts if v.passed for s in v.strays)]
    return lines


def _record_attempts(lesson, results, step: str | None, observed_at: float) -> None:
    """Record this check in the learner's progress store: an attempt at the step in front of them
    (*step* when named with --step, else the first failing one; see tutor/progress/store.py). A
    store problem is a one-line warning on stderr, never a failed check."""
    try:
        from .progress import record_check
    except ImportError as err:  # e.g. a Python built without sqlite3
        from .i18n import _
        print(_("nstutor: warning: this check was not saved to your progress: {error}").format(error=err),
              file=sys.stderr)
        return
    record_check(lesson, results, step=step, observed_at=observed_at)


def _begin_lab_change(lesson, kind: str):
    """Note in the progress store that a setup/reset of *lesson* starts, so what it changes is not
    counted as the learner's attempts (tutor/progress/store.py); returns the call that notes its end."""
    try:
        from .progress import begin_lab_change, end_lab_change
    except ImportError:  # e.g. a Python built without sqlite3: nothing is recorded anyway
        return lambda: None
    begin_lab_change(lesson.id, kind)
    return lambda: end_lab_change(lesson.id, kind)


def cmd_lang(args) -> int:
    """`nstutor lang`: the language in use and why; `nstutor lang ko` remembers Korean."""
    from . import i18n
    from .progress import ProgressStore, ProgressStoreError
    if args.language is None:
        language = i18n.current()
        print(f"{language} ({i18n.LANGUAGES[language]})")
        return EXIT_OK
    choice = args.language.strip().lower()
    if choice != "auto" and i18n.normalise(choice) is None:
        raise UsageError(i18n._("unknown language '{language}': choose from {languages}, or {auto}").format(
            language=args.language, languages=", ".join(i18n.LANGUAGES), auto="auto"))
    try:
        with ProgressStore.open() as store:
            store.set_language(None if choice == "auto" else i18n.normalise(choice))
    except ProgressStoreError as err:
        print(f"nstutor: {err}", file=sys.stderr)
        return EXIT_FAIL
    i18n.set_language(i18n.choose())        # say it in the language just chosen
    if choice == "auto":
        print(i18n._("Language: chosen by the locale from now on (now: {language}).").format(language=i18n.current()))
    else:
        language = i18n.normalise(choice)
        print(i18n._("Language: {language} ({name}) from now on; {option} still overrides it.").format(
            language=language, name=i18n.LANGUAGES[language], option="--lang"))
    return EXIT_OK


def cmd_whoami(args) -> int:
    """Print the learner's display name, or set it (`nstutor whoami Ada Lovelace`)."""
    from .i18n import _
    from .progress import ProgressStore, ProgressStoreError
    try:
        store = ProgressStore.open()
    except ProgressStoreError as err:
        print(f"nstutor: {err}", file=sys.stderr)
        return EXIT_FAIL
    try:
        if args.name:
            try:
                store.set_learner_name(" ".join(args.name))
            except ValueError as err:
                raise UsageError(_("cannot use that name: {error}").format(error=err)) from None
            print(_("Your name in progress exports is now: {name}").format(name=store.learner_name()))
            return EXIT_OK
        name = store.learner_name()
        if name is None:
            print(_("No name set yet. Set the one your progress exports carry with: {command}").format(
                command=_whoami_command()), file=sys.stderr)
            return EXIT_FAIL
        print(name)
        return EXIT_OK
    except ProgressStoreError as err:
        print(f"nstutor: {err}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        store.close()


def _whoami_command() -> str:
    """`nstutor whoami 'Your Name'`, with the example name in the learner's language."""
    from .i18n import _
    example = _("Your Name")
    return f"nstutor whoami '{example}'"


def cmd_lint(args) -> int:
    from .paths import lessons_dir
    paths: list[Path] = []
    pack_problems: list = []                # of the packs that cannot be read at all
    catalog = None
    for raw in args.paths or [str(lessons_dir())]:
        p = Path(raw)
        if p.is_dir():
            paths.append(p)                 # its lessons and their translations (lessons/lint.py)
        elif p.exists() or p.is_symlink():  # a broken link or a loop: the lint says which
            paths.append(p)
        elif (lesson := _shipped_lesson(raw, catalog := catalog or _catalog())) is not None:  # `lint 11`, `lint nat/snat`
            paths.append(lesson.path)
        elif (loaded := catalog.pack(raw)) is not None:        # `nstutor lint nat`: the whole pack
            if loaded.pack.usable:
                paths.append(loaded.pack.directory)
            else:
                pack_problems.extend(loaded.problems)
        else:
            print(f"{p}: no such file or directory, nor a lesson or a pack", file=sys.stderr)
            return EXIT_USAGE
    if not args.paths:                      # every lesson: the packs' too
        for loaded in (catalog or _catalog()).packs:
            if loaded.pack.usable:
                paths.append(loaded.pack.directory)
            elif not loaded.pack.shadowed_by:
                pack_problems.extend(loaded.problems)
    from .i18n import LANGUAGES
    from .lessons.lint import lint
    from .texts import counted
    report = lint(paths)
    report.problems[:0] = pack_problems
    for problem in report.problems:
        print(problem)
    total = len(report.problems)
    for language, names in report.untranslated.items():
        if names:
            print(f"{language} ({LANGUAGES[language]}): {counted(len(names), 'lesson')} not translated yet: "
                  f"{', '.join(names)}", file=sys.stderr)
    from .lessons.translation import source_path
    translations = sum(1 for path in report.files if source_path(path) is not None)
    files = counted(len(report.files) - translations, "lesson file") + (
        f" and {counted(translations, 'translation')}" if translations else "")
    if not args.paths:                      # the shipped lessons: nstutor's own messages too
        _lint_messages()
    print(f"{files}, {counted(total, 'problem') if total else 'no problems'}", file=sys.stderr)
    return EXIT_FAIL if total else EXIT_OK


def _lint_messages() -> None:
    """Per language, the marked messages its catalogue has no text for (shown in English meanwhile:
    a report, not a problem; tests/test_messages.py is what fails on one)."""
    from .i18n import LANGUAGES, SOURCE
    from .message_coverage import marked_messages, untranslated
    marked = len(marked_messages())
    for language, name in LANGUAGES.items():
        if language == SOURCE:
            continue
        missing = untranslated(language)
        if not missing:
            print(f"{language} ({name}): all {marked} messages translated", file=sys.stderr)
            continue
        print(f"{language} ({name}): {len(missing)} of {marked} messages not translated yet (shown in English):",
              file=sys.stderr)
        for message in missing:
            print(f"  {message}", file=sys.stderr)


def _shipped_lesson(name: str, catalog=None):
    from .lessons.lookup import find_lesson
    return find_lesson(catalog or _catalog(), name)


def cmd_snapshot(args) -> int:
    from .observe import take_snapshot
    from .observe.render import render_text, snapshot_to_dict
    snap = take_snapshot()
    if args.json:
        print(json.dumps(snapshot_to_dict(snap), indent=1))
    else:
        print(render_text(snap))
        if not snap.is_root:
            _root_note()
    return EXIT_OK


def cmd_kinds(args) -> int:
    from .checks.registry import load_kinds
    for kind, cls in sorted(load_kinds().items()):
        fields = ", ".join(f"{n}{'*' if f.required else ''}" for n, f in cls.fields.items())
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()
        note = "   (* required)" if any(f.required for f in cls.fields.values()) else ""
        print(f"{kind:<12} {doc[0] if doc else ''}\n{'':<12} fields: {fields}{note}")
    return EXIT_OK


def cmd_verify(args) -> int:
    from .verify import verify_lesson
    catalog = _catalog()
    if args.all == bool(args.lessons):
        raise UsageError("name lessons to verify, or --all")
    lessons = list(catalog.lessons) if args.all else [_lesson_or_usage(i, catalog) for i in args.lessons]
    rerun_as_root("verify-lesson")
    if os.geteuid() != 0:
        raise UsageError("verify-lesson builds and removes the lessons' objects for real: run it as root: "
                         + how_to_run_as_root(this_command()))
    reports = []
    for lesson in lessons:
        end_lab_change = _begin_lab_change(lesson, "verify")    # its solutions are not the learner's attempts
        try:
            reports.append(verify_lesson(lesson))
        finally:
            end_lab_change()
    passed = [r for r in reports if r.ok]
    skipped = [r for r in reports if r.skipped]
    failed = [r for r in reports if r.failures]
    print(f"\n{len(passed)} passed, {len(failed)} failed, {len(skipped)} skipped")
    for r in skipped:
        print(f"  skipped {r.lesson}: {r.skipped}")
    # a lesson named on the command line that could not be verified for want of trust is a failure
    # of the command (--all skips the untrusted packs' lessons, as it skips what this machine lacks)
    refused = [r for r in reports if r.refused] if not args.all else []
    return EXIT_FAIL if failed or refused else EXIT_OK


def cmd_setup(args) -> int:
    """Build a lesson's lab (its setup script: flannel's nodes), printing its progress as it goes."""
    from .i18n import _
    from .lessons.setup import run_setup
    lesson = _lesson_or_usage(args.lesson)
    if not lesson.setup:
        print(_("Lesson '{lesson}' has no lab to build: its steps start from nothing.").format(lesson=lesson.id))
        return EXIT_OK
    from .lessons.trust import shell_refusal
    refused = shell_refusal(lesson, _("its setup"))
    if refused:             # said at once, not after a "Building the lab" that never starts
        print(_("problem: {problem}").format(problem=refused), file=sys.stderr)
        return EXIT_FAIL
    rerun_as_root(_("building a lesson's lab"))
    if os.geteuid() != 0:
        raise UsageError(_("setup builds the lesson's lab for real: run it as root: {command}").format(
            command=how_to_run_as_root(this_command())))
    print(_("Building the lab of lesson '{lesson}' (only what is missing):").format(lesson=lesson.id), flush=True)
    end_lab_change = _begin_lab_change(lesson, "setup")
    try:
        log = run_setup(lesson, progress=lambda line: print(f"  {line}", flush=True))
    finally:
        end_lab_change()
    for line in log.errors:
        print("  " + _("problem: {problem}").format(problem=line), file=sys.stderr)
    print(_("The lab is ready.") if log.ok else _("The setup did not finish."))
    return EXIT_OK if log.ok else EXIT_FAIL


def cmd_reset(args) -> int:
    """Remove what a lesson made (its declared cleanup) and, one by one, the learner's strays of
    it that nstutor recognises, after asking (--yes: everything)."""
    from .lessons.cleanup import (cleanup_present, cleanup_summary, find_strays, names_objects, refused_cleanup,
                                  remove_strays, run_cleanup)
    from .i18n import _, ngettext
    from .lessons.scripts import ActionLog
    lesson = _lesson_or_usage(args.lesson)
    rerun_as_root(_("removing a lesson's objects"))
    from .lessons.trust import shell_refusal
    refused = refused_cleanup(lesson)
    if refused:         # said first, and the exit status says reset could not do its job
        print(_("problem: {problem}").format(problem=refused), file=sys.stderr)
    failed = EXIT_FAIL if refused else EXIT_OK
    script_refused = shell_refusal(lesson, _("its cleanup script")) if (lesson.cleanup or {}).get("script") else None
    if script_refused:  # an untrusted pack: what its declaration names is still removed, its script is not
        print(_("note: {problem}").format(problem=script_refused), file=sys.stderr)
    present = cleanup_present(lesson)       # the question names only what is really here
    objects = names_objects(present)
    if objects:
        print(_("This removes what lesson {lesson} made and is still on this machine:").format(lesson=lesson.label)
              + f"\n{cleanup_summary(lesson, present)}")
    elif present.get("script"):
        print(_("Nothing that lesson {lesson} makes is on this machine now, but its cleanup commands may "
                "still find something (rules it adds, for example):").format(lesson=lesson.label)
              + f"\n{cleanup_summary(lesson, present)}")
    else:
        print(_("Nothing that lesson {lesson} makes is on this machine now.").format(lesson=lesson.label))
    offer_cleanup = objects or bool(present.get("script"))
    strays = find_strays(lesson)
    if strays:
        print(ngettext("nstutor also sees {count} stray of this lesson: near misses of its objects, "
                       "which its cleanup does not remove:",
                       "nstutor also sees {count} strays of this lesson: near misses of its objects, "
                       "which its cleanup does not remove:", len(strays)).format(count=len(strays)))
        for stray in strays:
            print(f"  - {stray.what}\n      " + _("remove with: {command}").format(command=stray.command))
    if not offer_cleanup and not strays:
        print(_("Nothing to reset."))
        return failed
    if args.yes:
        cleanup, chosen = offer_cleanup, strays
    else:
        if not sys.stdin.isatty():
            raise UsageError(_("not a terminal: pass {option} to confirm the reset").format(option="--yes"))
        cleanup = offer_cleanup and _confirm(_("Go ahead? [y/N] "))
        chosen = [s for s in strays if _confirm(_("Remove {what}? [y/N] ").format(what=s.what))]
    if not cleanup and not chosen:
        print(_("Nothing changed."))
        return failed
    end_lab_change = _begin_lab_change(lesson, "reset")    # what follows is not the learner's attempts
    log = ActionLog()
    if chosen:      # first: some are recognised only beside the lesson's objects (a veth left in the host)
        remove_strays(lesson, chosen, log)
    if cleanup:
        done = run_cleanup(lesson)
        log.done.extend(done.done)
        log.errors.extend(done.errors)
    end_lab_change()
    for line in log.done:
        print(f"  {line}")
    if not log.done and log.ok:
        print("  " + _("nothing of it was there to remove"))
    for line in log.errors:
        if line not in (refused, script_refused):     # already said
            print("  " + _("problem: {problem}").format(problem=line), file=sys.stderr)
    return EXIT_OK if log.ok else EXIT_FAIL


YES = ("y", "yes", "ㅛ", "예", "네")    # ㅛ: the y key with a Korean keyboard layout on


def _confirm(question: str) -> bool:
    try:
        return input(question).strip().lower() in YES
    except EOFError:
        return False


def _open_store():
    from .progress import ProgressStore, ProgressStoreError
    try:
        return ProgressStore.open()
    except ProgressStoreError as err:
        raise UsageError(str(err)) from None


def _export_name(store, ask: bool = True) -> str:
    """The learner's display name; asked once (and kept) when it was never set and we can ask,
    else the login name, with a note on how to set a real one."""
    from .i18n import _
    name = store.learner_name()
    if name:
        return name
    if ask and sys.stdin.isatty():
        while True:
            answer = input(_("Your name, as your study group should see it in the class report: "))
            try:
                store.set_learner_name(answer)
                return store.learner_name()
            except ValueError as err:
                print(_("Cannot use that name: {error}. Try again.").format(error=err))
    from .progress.paths import sudo_owner
    import pwd
    owner = sudo_owner()
    login = owner.name if owner else pwd.getpwuid(os.getuid()).pw_name
    if ask:
        print(_("note: no name set; the export says '{login}'. Set yours with: {command}").format(
            login=login, command=_whoami_command()), file=sys.stderr)
    return login


def _progress_doc(store, ask: bool = True):
    from .progress.export import build_export
    return build_export(store, _catalog(), learner_name=_export_name(store, ask))


def cmd_progress(args) -> int:
    from .progress.table import progress_table
    store = _open_store()
    try:
        doc = _progress_doc(store, ask=False)
    finally:
        store.close()
    lesson_id = args.lesson
    if lesson_id and not any(l["id"] == lesson_id for l in doc["lessons"]):
        lesson_id = _lesson_or_usage(lesson_id).id
    print(progress_table(doc, lesson_id=lesson_id, all_steps=args.all))
    return EXIT_OK


def cmd_progress_export(args) -> int:
    from .progress.export import step_rows, to_csv
    store = _open_store()
    try:
        doc = _progress_doc(store)
    finally:
        store.close()
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n" if args.format == "json" else to_csv(step_rows(doc))
    if not args.output or args.output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    _write_output(Path(args.output), text)
    from .i18n import _, ngettext
    lessons = doc["lessons"]
    total = sum(l["steps_total"] for l in lessons)
    steps = ngettext("{passed} of {total} step", "{passed} of {total} steps", total).format(
        passed=sum(l["steps_passed"] for l in lessons), total=total)
    in_lessons = ngettext("{count} lesson", "{count} lessons", len(lessons)).format(count=len(lessons))
    print(_("Wrote {path}: {steps} passed in {lessons}, learner {name}.").format(
        path=args.output, steps=steps, lessons=in_lessons, name=doc["learner"]["name"]), file=sys.stderr)
    return EXIT_OK


def _write_output(path: Path, text: str) -> None:
    """Write a file for the learner or instructor; under sudo a file we create is theirs, not root's."""
    from .progress.paths import hand_over, sudo_owner
    existed = path.exists()
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        from .i18n import _
        raise UsageError(_("cannot write {path}: {error}").format(path=path, error=err.strerror or err)) from None
    if not existed:
        hand_over(path, sudo_owner())


def cmd_report(args) -> int:
    from .i18n import _, ngettext
    from .progress.merge import display_path, load_class
    from .progress.report import summary_lines, write_csv
    from .progress.report_html import render_html
    from .texts import safe_text
    data = load_class(args.paths)
    # Everything printed from an export or a file name goes through safe_text/display_path: an
    # escape sequence in a learner's name must not reach the instructor's terminal as one.
    for ignored in data.ignored:
        print(_("not read {path}: {reason}").format(path=display_path(ignored.path), reason=safe_text(ignored.reason)),
              file=sys.stderr)
    for skipped in data.skipped:
        print(_("skipped {path}: {reason}").format(path=display_path(skipped.path), reason=safe_text(skipped.reason)),
              file=sys.stderr)
    if args.html:
        _write_output(Path(args.html), render_html(data))
        print(_("Wrote {files}").format(files=display_path(args.html)))
    if args.csv:
        try:
            written = write_csv(data, Path(args.csv))
        except OSError as err:
            raise UsageError(_("cannot write {path}: {error}").format(path=display_path(args.csv),
                                                                      error=err.strerror or err)) from None
        print(_("Wrote {files}").format(files=", ".join(map(display_path, written))))
    if not (args.html or args.csv):
        for line in summary_lines(data):
            print(line)
    learners = ngettext("{n} learner", "{n} learners", len(data.learners)).format(n=len(data.learners))
    files = ngettext("{n} file", "{n} files", data.files_read).format(n=data.files_read)
    if data.skipped:
        line = ngettext("{learners} from {files}; {n} file skipped.", "{learners} from {files}; {n} files skipped.",
                        len(data.skipped)).format(learners=learners, files=files, n=len(data.skipped))
    else:
        line = _("{learners} from {files}.").format(learners=learners, files=files)
    print(line, file=sys.stderr)
    if not data.files_read and not data.skipped:
        # nothing named was an export: say so (and fail), rather than a quiet "0 learners from 0 files"
        print(_("no progress export was found: a report reads files named *.json (nstutor progress export "
                "-o NAME.json), given by name or in the folders given"), file=sys.stderr)
        return EXIT_FAIL
    return EXIT_FAIL if data.skipped else EXIT_OK


def cmd_packs(args) -> int:
    from .packs_cli import PackUsageError, cmd_packs as packs
    try:
        return packs(args, _catalog())
    except PackUsageError as err:
        raise UsageError(str(err)) from None


def cmd_packs_add(args) -> int:
    from .packs_cli import PackUsageError, cmd_packs_add as add
    try:
        return add(args, _open_store)
    except PackUsageError as err:
        raise UsageError(str(err)) from None


def cmd_packs_remove(args) -> int:
    from .packs_cli import PackUsageError, cmd_packs_remove as remove
    try:
        return remove(args, _open_store)
    except PackUsageError as err:
        raise UsageError(str(err)) from None


def cmd_trust(args) -> int:
    from .packs_cli import PackUsageError, cmd_trust as trust
    try:
        return trust(args, _catalog(), _confirm)
    except PackUsageError as err:
        raise UsageError(str(err)) from None


def cmd_untrust(args) -> int:
    from .packs_cli import PackUsageError, cmd_untrust as untrust
    try:
        return untrust(args)
    except PackUsageError as err:
        raise UsageError(str(err)) from None


def cmd_pause(args) -> int:
    """`nstutor pause`: a pod's pause process (see tutor/pause.py)."""
    from . import pause
    return pause.main(args.rest)


def cmd_app(args) -> int:
    from .i18n import _
    try:
        from .app.main import run_app
    except ImportError:
        print(_("The full-screen app is not available in this build; here are the lessons:") + "\n")
        return cmd_list(argparse.Namespace(json=False))
    inside = os.environ.get("NSTUTOR_SHELL")
    if inside:
        # the shell nstutor's `!` opened (tutor/app/subshell.py): a second app here would sit on top of the first
        print(_("nstutor: this is the shell that nstutor opened for lesson {lesson}, and nstutor is still open "
                "behind it: type `exit` to go back to it.").format(lesson=inside), file=sys.stderr)
        return EXIT_USAGE
    rerun_as_root(_("seeing every namespace"))
    return run_app(lesson_id=args.lesson)


# --------------------------------------------------------------- argument parsing
# The help texts are built when the parser is (build_parser, called by main after --lang and the
# environment have fixed the language), never at import time: a module constant would be English.
def _usage() -> str:
    from .i18n import _
    lines = [("nstutor [LESSON]", _("open the app (on LESSON: its id or number)")),
             ("nstutor COMMAND [ARGS...]", _("run one command; {command} says more").format(
                 command="nstutor COMMAND --help")),
             ("--lang en|ko", _("with any of them: the language (else {command}, or the locale)").format(
                 command="`nstutor lang`")),
             ("--lessons DIR", _("with any of them: also read the lesson pack in DIR"))]
    from .texts import cell_width
    indent = " " * cell_width(_("usage: "))            # under argparse's "usage: "
    return f"\n{indent}".join(f"{command:<27}{text}" for command, text in lines)


def _examples() -> str:
    from .i18n import _
    lines = [("nstutor 10", _("open lesson {number} ({lesson}) in the app").format(number=10, lesson="netns-veth")),
             ("nstutor list", _("the lessons, with their numbers")),
             ("nstutor check bridge --step ports", _("check one step of a lesson against this machine")),
             ("nstutor reset 11", _("remove what lesson {number} made (asks first)").format(number=11)),
             ("nstutor progress export -o me.json", _("write your progress to a file to hand in"))]
    return "\n".join([_("examples:"), *(f"  {command:<36}{text}" for command, text in lines), "",
                      _("exit codes: 0 success, 1 a step fails (or lint found problems), 2 a usage error or an "
                        "unknown lesson")])


def _lesson_help() -> str:
    from .i18n import _
    return _("the lesson's id or number, e.g. {examples}").format(examples=_("{lesson} or {number}").format(
        lesson="bridge", number=11))


class CellWidthHelp(argparse.HelpFormatter):
    """argparse wraps help by characters; a terminal shows Hangul in two cells, so a Korean help
    line wrapped at 80 characters is 100 or more cells wide. Text that is not ASCII is wrapped by
    cells (texts.wrap); ASCII text as argparse always did (textwrap), so English is unchanged."""

    def _split_lines(self, text, width):
        if text.isascii():
            return super()._split_lines(text, width)
        from .texts import wrap
        return wrap(self._whitespace_matcher.sub(" ", text).strip(), width)

    def _fill_text(self, text, width, indent):
        if text.isascii():
            return super()._fill_text(text, width, indent)
        from .texts import wrap
        return "\n".join(indent + line for line in wrap(self._whitespace_matcher.sub(" ", text).strip(),
                                                           width - len(indent)))


class RawDescriptionCellWidthHelp(CellWidthHelp, argparse.RawDescriptionHelpFormatter):
    """The top-level help: its usage and examples are laid out by hand (kept as written); its
    commands' lines are wrapped by cells."""

    def _fill_text(self, text, width, indent):
        return argparse.RawDescriptionHelpFormatter._fill_text(self, text, width, indent)


class Parser(argparse.ArgumentParser):
    """argparse, with a 'did you mean' for a mistyped choice (`progress exprot`, `--format jsno`),
    and argparse's own words (usage:, options, -h's help, error:) in nstutor's language."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        from .i18n import _
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = _("show this help message and exit")

    def _get_formatter(self):
        from .i18n import _
        formatter = super()._get_formatter()
        add_usage = formatter.add_usage
        formatter.add_usage = lambda usage, actions, groups, prefix=None: add_usage(
            usage, actions, groups, _("usage: ") if prefix is None else prefix)
        return formatter

    def error(self, message):
        from .i18n import _
        # argparse's own words (English: its gettext domain has no catalogue here) in nstutor's language
        required = "the following arguments are required: "
        if message.startswith(required):
            message = _("the following arguments are required: {arguments}").format(
                arguments=message[len(required):])
        elif message.startswith("argument ") and ": " in message:        # an ArgumentError: "argument --format: ..."
            argument, _colon, reason = message[len("argument "):].partition(": ")
            if reason == "expected one argument":                      # `--step` with nothing after it
                reason = _("expected one argument")
            message = _("argument {argument}: {message}").format(argument=argument, message=reason)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, _("{prog}: error: {message}").format(prog=self.prog, message=message) + "\n")

    def _check_value(self, action, value):
        # argparse's own hook for a value outside `choices` (its message lists them all, no suggestion)
        if action.choices is not None and value not in action.choices:
            from .i18n import _
            from .lessons.lookup import close_matches, either
            near = close_matches(str(value), [str(c) for c in action.choices])
            hint = (_("did you mean {choices}?").format(choices=either(near)) if near
                    else _("choose from {choices}").format(choices=", ".join(map(str, action.choices))))
            raise argparse.ArgumentError(action, _("invalid choice '{value}': {hint}").format(value=value, hint=hint))
        super()._check_value(action, value)

    def parse_args(self, args=None, namespace=None):
        # argparse's own message for a mistyped option is "unrecognized arguments: --stpe"; say
        # which option was meant, from the options of the command that was given.
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command, message = self._unrecognized(parsed, extras)
            command.error(message)              # with that command's usage line
        return parsed

    def _unrecognized(self, parsed, extras: list[str]) -> tuple[argparse.ArgumentParser, str]:
        from .i18n import _
        from .lessons.lookup import close_matches, either
        parser: argparse.ArgumentParser = self
        for dest in ("command", "progress_command", "packs_command"):   # down to the (sub)command that was given
            chosen = getattr(parsed, dest, None)
            sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
            if chosen is None or sub is None or chosen not in sub.choices:
                break
            parser = sub.choices[chosen]
        options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
        word = extras[0]
        if word.startswith("-"):
            near = close_matches(word.split("=", 1)[0], options)
            if near:
                return parser, _("unknown option '{option}': did you mean {options}?").format(
                    option=word, options=either(near))
            return parser, _("unknown option '{option}' (see {command})").format(
                option=word, command=f"{parser.prog} --help")
        return parser, _("unexpected '{words}' (see {command})").format(
            words=" ".join(extras), command=f"{parser.prog} --help")


def _command(sub, name: str, summary: str, **kw) -> argparse.ArgumentParser:
    """A subcommand whose one-line summary is its line in `nstutor --help` and its own --help's."""
    kw.setdefault("formatter_class", CellWidthHelp)
    return sub.add_parser(name, help=summary, description=summary[:1].upper() + summary[1:] + ".", **kw)


def build_parser() -> argparse.ArgumentParser:
    """The parser, in this process's language (so build it after --lang is taken: main)."""
    from .i18n import _
    lesson_help = _lesson_help()
    print_json = _("print JSON")
    parser = Parser(prog="nstutor", usage=_usage(), epilog=_examples(),
                    formatter_class=RawDescriptionCellWidthHelp,
                    description=_("Learn what a container really is, on your own machine's kernel."))
    parser.add_argument("--version", action="version", version=f"nstutor {__version__}",
                        help=_("show program's version number and exit"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="nstutor", title=_("commands"))

    p = _command(sub, "list", _("list the lessons: number, id, minutes, whether they can run here"))
    p.add_argument("--json", action="store_true", help=print_json)
    p.set_defaults(func=cmd_list)

    p = _command(sub, "check", _("check a lesson's steps against this machine now (exit 1 if one fails)"))
    p.add_argument("lesson", metavar="LESSON", help=lesson_help)
    p.add_argument("--step", help=_("only this step: its id or its number in the lesson"))
    p.add_argument("--json", action="store_true", help=print_json)
    p.add_argument("--no-probe", action="store_true", help=_("do not send reachability probes"))
    p.set_defaults(func=cmd_check)

    p = _command(sub, "lint", _("check lesson files for mistakes (file:line for each)"))
    p.add_argument("paths", nargs="*", metavar="PATH", help=_("lesson files or directories, or lessons by id or "
                   "number (default: every lesson)"))
    p.set_defaults(func=cmd_lint)

    p = _command(sub, "snapshot", _("print what nstutor sees of this machine"))
    p.add_argument("--json", action="store_true", help=print_json)
    p.set_defaults(func=cmd_snapshot)

    p = _command(sub, "kinds", _("list the expectation kinds a lesson's check blocks may use (for lesson authors)"))
    p.set_defaults(func=cmd_kinds)

    p = _command(sub, "verify-lesson", _("prove lessons work: each step fails first, passes after its solution, "
                 "cleanup leaves nothing (root)"))
    p.add_argument("lessons", nargs="*", metavar="LESSON", help=lesson_help)
    p.add_argument("--all", action="store_true", help=_("every lesson"))
    p.set_defaults(func=cmd_verify)

    p = _command(sub, "setup", _("build a lesson's lab (e.g. flannel's nodes), showing its progress (root)"))
    p.add_argument("lesson", metavar="LESSON", help=lesson_help)
    p.set_defaults(func=cmd_setup)

    p = _command(sub, "reset", _("remove what a lesson made, and your near misses of it (asks first)"))
    p.add_argument("lesson", metavar="LESSON", help=lesson_help)
    p.add_argument("--yes", action="store_true", help=_("do not ask"))
    p.set_defaults(func=cmd_reset)

    p = _command(sub, "whoami", _("show or set your name in progress exports"))
    p.add_argument("name", nargs="*", help=_("your display name (no quotes needed)"))
    p.set_defaults(func=cmd_whoami)

    p = _command(sub, "lang", _("show or set the language nstutor speaks (en, ko); {option} on any command "
                                "overrides it").format(option="--lang"))
    p.add_argument("language", nargs="?", metavar="LANG",
                   help=_("en or ko; 'auto' forgets the choice (the locale decides)"))
    p.set_defaults(func=cmd_lang)

    p = _command(sub, "progress", _("show your progress; {command} writes it to hand in").format(
        command="`nstutor progress export`"))
    p.add_argument("--lesson", metavar="LESSON", help=_("show only this lesson (id or number), with all its steps"))
    p.add_argument("--all", action="store_true", help=_("list the steps of every lesson, started or not"))
    p.set_defaults(func=cmd_progress)
    progress_sub = p.add_subparsers(dest="progress_command", metavar="export", title=_("commands"))
    e = _command(progress_sub, "export", _("write your progress as JSON (for the class report) or CSV"))
    e.add_argument("--format", choices=("json", "csv"), default="json", help=_("json (the default) or csv"))
    e.add_argument("-o", "--output", metavar="FILE", help=_("write to FILE instead of standard output"))
    e.set_defaults(func=cmd_progress_export)

    p = _command(sub, "packs", _("list the lesson packs: name, version, source, lessons, trusted or not, problems"))
    p.add_argument("--json", action="store_true", help=print_json)
    p.set_defaults(func=cmd_packs)
    packs_sub = p.add_subparsers(dest="packs_command", metavar="add|remove", title=_("commands"))
    e = _command(packs_sub, "add", _("remember a folder of lessons to read as a pack from now on"))
    e.add_argument("folder", metavar="DIR", help=_("the folder (a pack's source tree, or lesson files)"))
    e.set_defaults(func=cmd_packs_add)
    e = _command(packs_sub, "remove", _("forget a folder that {command} remembered").format(command="`packs add`"))
    e.add_argument("folder", metavar="DIR", help=_("the folder, or the name of its pack"))
    e.set_defaults(func=cmd_packs_remove)

    p = _command(sub, "trust", _("let a lesson pack run its shell (setup, cleanup, solutions): shows what would run "
                                 "and asks"))
    p.add_argument("pack", metavar="PACK", help=_("the pack's name, as {command} lists it").format(
        command="`nstutor packs`"))
    p.add_argument("--yes", action="store_true", help=_("do not ask"))
    p.set_defaults(func=cmd_trust)

    p = _command(sub, "untrust", _("take back a pack's trust: its checks still run, its shell no longer"))
    p.add_argument("pack", metavar="PACK", help=_("the pack's name"))
    p.set_defaults(func=cmd_untrust)

    p = _command(sub, "pause", _("the tiny pause program of the pod and shared-pid lessons (named 'pause'; sleeps, "
                                 "reaps orphans)"), add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_pause)

    p = _command(sub, "report", _("merge learners' JSON exports into a class report (CSV, HTML)"))
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help=_("export files, or directories holding them"))
    p.add_argument("--csv", metavar="OUT", help=_("one row per learner x step (and OUT-summary.csv per learner)"))
    p.add_argument("--html", metavar="OUT", help=_("one self-contained page with the matrix and charts"))
    # main's _take_lang takes --lang off the line before argparse (any command has it); listed here so
    # `nstutor report --help` says the report's language is the instructor's choice, not the learners'
    p.add_argument("--lang", metavar="LANG", help=_("the report's language (en, ko: headers and words; the data "
                   "stays as exported); else {command}, or the locale").format(command="`nstutor lang`"))
    p.set_defaults(func=cmd_report)
    return parser


def command_names(parser: argparse.ArgumentParser) -> list[str]:
    """The commands *parser* knows, so a new one is never mistaken for a lesson."""
    return [name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices]


def _app_lesson(argv: list[str], commands: list[str]):
    """`nstutor` or `nstutor LESSON`: the lesson to open (None: the catalog). A first word that is
    no lesson is a usage error that says which slip it looks like: a command's, a lesson's, or
    neither (then where the lessons and commands are listed)."""
    from .i18n import _
    from .lessons.lookup import close_matches, either, find_lesson, similarity, suggest_lessons, unknown_lesson
    if not argv:
        return None
    catalog = _catalog()
    word, rest = argv[0], argv[1:]
    lesson = find_lesson(catalog, word)
    if lesson is not None:
        if rest and rest[0] in commands:                 # `nstutor bridge check`
            raise UsageError(_("the command comes first: {command}").format(
                command=f"nstutor {' '.join([rest[0], word, *rest[1:]])}"))
        if rest:
            options = " " + " ".join(rest) if rest[0].startswith("-") else ""
            raise UsageError(_("'{command}' opens the app and takes nothing after the lesson; to check it: "
                               "{check}").format(command=f"nstutor {word}", check=f"nstutor check {word}{options}"))
        return lesson
    near_commands = close_matches(word, commands)
    near_lessons = suggest_lessons(catalog, word)
    # More words after it (`nstutor chekc bridge`) make a command the likelier slip.
    if near_commands and (rest or not near_lessons
                          or similarity(word, near_commands[0]) >= similarity(word, near_lessons[0])):
        raise UsageError(_("unknown command '{command}': did you mean {commands}?").format(
            command=word, commands=either(near_commands)))
    if near_lessons or word.isdigit():
        raise UsageError(unknown_lesson(catalog, word))
    raise UsageError(_("unknown lesson or command '{word}': {list} shows the lessons; {help} the commands").format(
        word=word, list="nstutor list", help="nstutor --help"))


def _take_lang(argv: list[str]) -> list[str]:
    """Remove `--lang CODE` / `--lang=CODE` wherever it stands (every command and the app take it)
    and fix the process's language; an unknown code is a usage error with the known ones."""
    from . import i18n
    out, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word == "--lang" or word.startswith("--lang="):
            if word == "--lang":
                if i + 1 >= len(argv):
                    raise UsageError(i18n._("{option} needs a language: {languages}").format(
                        option="--lang", languages=", ".join(i18n.LANGUAGES)))
                value, i = argv[i + 1], i + 2
            else:
                value, i = word.split("=", 1)[1], i + 1
            if i18n.normalise(value) is None:
                raise UsageError(i18n._("unknown language '{language}' for {option}: choose from {languages}").format(
                    language=value, option="--lang", languages=", ".join(i18n.LANGUAGES)))
            i18n.set_language(value)
            continue
        if word == "--":
            out.extend(argv[i:])
            break
        out.append(word)
        i += 1
    return out


def _take_lessons(argv: list[str]) -> list[str]:
    """Remove `--lessons DIR` / `--lessons=DIR` (any number, wherever they stand: a folder of
    lessons to read as a pack, tutor/lessons/packs.py) and remember the folders."""
    from .i18n import _
    out, folders, i = [], [], 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            out.extend(argv[i:])
            break
        if word == "--lessons" or word.startswith("--lessons="):
            if word == "--lessons":
                if i + 1 >= len(argv):
                    raise UsageError(_("{option} needs a folder of lessons").format(option="--lessons"))
                folders.append(argv[i + 1])
                i += 2
            else:
                folders.append(word.split("=", 1)[1])
                i += 1
            continue
        out.append(word)
        i += 1
    if folders:
        from .lessons.packs import set_command_line_folders
        set_command_line_folders(folders)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "pause":      # its own arguments, untouched by argparse (it may run as PID 1)
        try:
            return cmd_pause(argparse.Namespace(rest=argv[1:]))
        except BrokenPipeError:
            return EXIT_OK
    try:
        argv = _take_lang(argv)
        argv = _take_lessons(argv)
    except UsageError as err:
        print(f"nstutor: {err}", file=sys.stderr)
        return EXIT_USAGE
    parser = build_parser()
    # `nstutor` and `nstutor LESSON` open the app.
    if not argv or (not argv[0].startswith("-") and argv[0] not in command_names(parser)):
        if {"-h", "--help"} & set(argv[1:]):
            parser.print_help()
            return EXIT_OK
        try:
            lesson = _app_lesson(argv, command_names(parser))
        except UsageError as err:
            print(f"nstutor: {err}", file=sys.stderr)
            return EXIT_USAGE
        return cmd_app(argparse.Namespace(lesson=lesson.id if lesson else None))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except UsageError as err:
        print(f"nstutor: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
