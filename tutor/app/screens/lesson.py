"""The lesson screen: the lesson text (with step cards), the live panel, and the step list.

Live results arrive from the app (`apply_update`, called for each LiveUpdate of this
lesson); the screen keeps a LessonState and redraws only what changed. Learner actions
(hint, solution, check, reset, shell, next) are the screen's bindings.

Layout: wide terminals show the text and the live panel side by side; narrow ones (< 110
columns, e.g. 80x24) show one of them at a time (p switches; a view key shows the panel).
The step list is always at the bottom.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static

from ...lessons import Lesson
from ...i18n import N_, _, ngettext
from ..keys import InLanguage

from ..widgets.lesson_markdown import LessonMarkdown, LessonScroll, lesson_pane_width, widest_block
from ..live_checker import LiveUpdate
from ..widgets.live_panel import LivePanel
from .modals import ConfirmScreen, SolutionScreen
from ..widgets.notices import NoticeBar
from .setup import SetupScreen, lab_absent, setup_blocker
from ..panel import focus_for, views_by_key
from ..state import LessonState, StepState
from ..subshell import mark, shell_command
from ..widgets.step_card import StepCard
from ..widgets.step_list import StepList
from ...elevate import how_to_run_as_root

VIEWS = views_by_key()
TIME_FLUSH_SECONDS = 30.0


def stray_summary(strays: list) -> str:
    """The learner's strays that reset also removes, each with its command ("" when none)."""
    if not strays:
        return ""
    lines = "\n".join(f"  {s.what}\n      {s.command}" for s in strays)
    return "\n\n" + _("and these strays of yours, near misses of the lesson's objects:") + f"\n{lines}"


def lab_change_words(lesson: Lesson, kind: str) -> str:
    """What the learner is told when a setup/reset from another shell took passed steps back."""
    name = (_("Lesson {number}").format(number=lesson.number) if lesson.number
            else _("Lesson '{lesson}'").format(lesson=lesson.id))
    done = {"reset": _("{name} was reset"),
            "setup": _("{name}'s lab was built again"),
            "verify": _("{name} was run by verify-lesson (its solutions, then its cleanup)")}.get(kind, _("{name} changed"))
    return _("{done} (from another shell): its steps are back to not done").format(done=done.format(name=name))


class LessonScreen(InLanguage, Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        # the keys' words are translated when this module is imported: the CLI fixes the language
        # (--lang, tutor/i18n.py) before it imports the app
        Binding("escape", "catalog", N_("Lessons"), tooltip=N_("back to the list of lessons")),
        Binding("h", "hint", N_("Hint"),
                tooltip=N_("the next hint, one at a time, for the step in front (▶ in the step list)")),
        Binding("s", "solution", N_("Solution"), tooltip=N_("the solution of the step in front (recorded as viewed)")),
        Binding("c", "check", N_("Check"), tooltip=N_("check every step now, sending probes (ping) too")),
        Binding("exclamation_mark", "shell", N_("Shell"), key_display="!",
                tooltip=N_("your shell; type exit to come back (steps are re-checked)")),
        Binding("p", "toggle_panel", N_("Text/Panel"), tooltip=N_("switch between the lesson text and the live panel")),
        Binding("r", "reset", N_("Reset lesson"), show=False, tooltip=N_("remove what this lesson made (asks first)")),
        Binding("b", "build", N_("Build lab"), tooltip=N_("build this lesson's lab (its setup); adds only what is missing")),
        # n: shown in the footer once the lesson is complete (check_action); before, it works unshown
        Binding("n", "next_lesson", N_("Next lesson")),
        Binding("n", "next_lesson_early", N_("Next lesson"), show=False),
        Binding("j", "step(1)", N_("Next step"), show=False,
                tooltip=N_("puts another step in front; also: click a step, or arrows in the list")),
        Binding("k", "step(-1)", N_("Previous step"), show=False),
    ] + [Binding(view.key, f"view('{view.key}')", view.english_title, show=False)    # named in __init__
         for view in VIEWS.values()]

    def __init__(self, lesson: Lesson) -> None:
        # The breakpoint class from the start: set after mounting, it would restyle every widget.
        width = self.app.size.width if self.app.size.width else 120
        wide = width >= self.HORIZONTAL_BREAKPOINTS[1][0]
        super().__init__(id="lesson-" + lesson.id.replace("/", "--"), classes="-wide" if wide else "-narrow")
        for view in VIEWS.values():        # the views' keys, named in this language (help lists them)
            self._bindings.key_to_bindings[view.key] = [
                replace(b, description=_("View: {title}").format(title=view.title))
                if b.action == f"view('{view.key}')" else b for b in self._bindings.key_to_bindings[view.key]]
        self.title = f"{lesson.number:02d} {lesson.title}"
        self.lesson = lesson
        self.state = LessonState(lesson, self.app.progress.lesson_progress(lesson))
        self.snap = None
        self.previous = None
        self.update_error: str | None = None
        # The step in front of the learner, the one h and s act on: the first step not passing, unless
        # the learner picked another in the step list (click, arrows, j/k). None: every step passes and
        # the learner picked none.
        self.selected: str | None = None
        self._picked = False           # `selected` is the learner's pick, not the app's
        self._announce_check = False
        self._reset_at: float | None = None    # a reset finished: select the first step again once seen
        self._time_mark = time.monotonic()
        self.text_loaded = False       # the lesson text is drawn (it comes right after the first frame)
        self._ready = False            # composed and mounted: updates before that wait for on_mount
        self._numbers = {s.id: i for i, s in enumerate(lesson.steps, 1)}
        # Back to a lesson started earlier: show the first step not yet done, not the top.
        started = any(s.ever_passed for s in self.state)
        todo = next((s.step.id for s in self.state if not s.ever_passed), None)
        self._scroll_target = todo if started and todo != lesson.steps[0].id else None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with Horizontal(id="lesson-body"):
            with LessonScroll(id="lesson-scroll"):
                yield LessonMarkdown(id="lesson-text")
            yield LivePanel(VIEWS, id="live")
        yield Static(id="lesson-banner")
        yield NoticeBar(id="notices")
        yield StepList(id="steps")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(LivePanel).set_focus_info(focus_for(self.lesson))
        steps = self.query_one(StepList)
        steps.show_state(self.state, None)
        current = self.state.current() or (self.state.ordered()[0] if self.state.steps else None)
        if current is not None:
            self._select(current.step.id)
        self.query_one("#lesson-scroll").focus()
        self._fit_panes(self.app.size.width)
        self.paint_all()
        # The text is the costliest part to build (a few hundred ms for a long lesson): it is built
        # just after the screen, which makes the first frame come ~20-30 % sooner (bench/app.py).
        self.set_timer(0.02, self._load_text)
        self.set_interval(TIME_FLUSH_SECONDS, self.flush_time)
        self.app.progress.set_last_lesson(self.lesson.id)
        self.app.live.set_lesson(self.lesson)
        self._ready = True
        if self.app.last_update is not None and self.app.last_update.lesson_id == self.lesson.id:
            self.apply_update(self.app.last_update)
        self._offer_setup_if_needed()

    def on_resize(self, event) -> None:
        self._fit_panes(event.size.width)

    def _fit_panes(self, width: int) -> None:
        """Side by side, the lesson pane is as wide as its widest code block needs, within the room the
        live panel leaves (app.tcss gives the panel the rest: all of it when p hides the text). A
        narrow screen shows one pane at a time, at full width."""
        if not hasattr(self, "_widest"):
            self._widest = widest_block(self.lesson.body)
        wide = width >= self.HORIZONTAL_BREAKPOINTS[1][0]
        self.query_one("#lesson-scroll").styles.width = lesson_pane_width(width, self._widest) if wide else None

    async def _load_text(self) -> None:
        await self.query_one(LessonMarkdown).update(self.lesson.body)
        self.text_loaded = True

    def on_unmount(self) -> None:
        self.flush_time()

    def flush_time(self) -> None:
        now = time.monotonic()
        self.app.progress.add_time(self.lesson.id, now - self._time_mark)
        self._time_mark = now

    # ------------------------------------------------------------------ live results
    def apply_update(self, update: LiveUpdate) -> None:
        if not self._ready or not self.query(StepList):     # not laid out yet, or being taken down
            return
        if update.snap is None:                 # the live loop could not observe: say why
            self.update_error = update.error
            self._paint_banner()
            return
        if update.lesson_id != self.lesson.id:
            return
        self.update_error = None
        seen_before = self.snap.taken_at if self.snap is not None else None    # the last round this screen saw
        self.previous, self.snap = update.previous, update.snap
        changes = self.state.apply(update.results)
        if changes.newly_broken:
            self._take_lab_change(changes, seen_before, update.snap.taken_at)
        # The learner's own check is `c` only: the explicit round after the shell, a reset or a
        # build is nstutor looking again, not the learner asking.
        asked = self._announce_check and update.explicit
        if changes.changed or asked:
            self.app.progress.record_check(self.lesson, update.results, in_front=self.selected, explicit=asked,
                                           observed_at=update.snap.taken_at)
        for step_id in changes.newly_passed:
            if self.state.rounds > 1:
                self.notify(f"✔ {self.lesson.step(step_id).title}", title=_("Step passed"), timeout=4)
        for step_id in changes.newly_broken:
            st = self.state.steps[step_id]
            reason = st.failures[0] if st.failures else ""
            self.notify(f"{st.step.title}: {reason}", title=_("✘ A passed step broke"), severity="warning", timeout=8)
        if self._reset_at is not None and update.snap.taken_at > self._reset_at:
            self._reset_at = None       # the learner starts again: the first step not passing is in front
            self._picked = False
        self._follow_progress(changes.newly_passed)
        if self._announce_check and update.explicit:
            self._announce_check = False
            self.notify(ngettext("{passed} of {total} step passes", "{passed} of {total} steps pass",
                                 len(self.state.steps)).format(passed=self.state.npassed, total=len(self.state.steps))
                        + (_(" (probes sent)") if update.probed else ""), title=_("Checked"), timeout=3)
        for step_id in changes.changed:
            self._paint_card_id(step_id)
        self.query_one(StepList).show_state(self.state, self.selected)
        panel = self.query_one(LivePanel)
        panel.show(update.snap, update.previous, f"{update.snap.duration_ms:.0f} ms")
        self._paint_banner()

    def _take_lab_change(self, changes, since: float | None, until: float) -> None:
        """Passed steps fail now. If a setup/reset of this lesson ran since they were last seen
        passing (this app's reset or build, or `nstutor reset` in another shell: the progress store
        records both, and takes their outcome as a new baseline), they are back to not done: no
        "broke" alarm. A break with no lab change in that window (the learner's own) still alarms."""
        change = self.app.progress.lab_change_between(self.lesson.id, since, until)
        if change is None:
            return
        self.state.lab_changed(changes)
        if not change.by_this_app:      # the app's own reset or build says so itself
            self.notify(lab_change_words(self.lesson, change.kind), timeout=6)

    # ------------------------------------------------------------------ notices
    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """This screen's notices go to its notice line above the step list, not to toasts, which
        would cover the text or the panel (widgets/notices.py says why). *message* and *title* are
        markdown (a hint's `code` is styled, its backticks not shown); *markup* is ignored: a
        failure reason's brackets are text, never Textual markup."""
        bars = self.query(NoticeBar)
        if not bars:            # being built or taken down: a toast is better than nothing
            self.app.notify(message, title=title, severity=severity, timeout=timeout or 5.0, markup=False)
            return
        bars.first().post(message, title=title, severity=severity, timeout=timeout or 5.0)

    # ------------------------------------------------------------------ painting
    def _paint_banner(self) -> None:
        lines: list[Text] = []
        st = self.state
        if st.complete:
            nxt = self.app.catalog.next_after(self.lesson.id)
            tail = (_(" Press n for the next lesson: {title}.").format(title=nxt.title) if nxt
                    else _(" That was the last lesson."))
            done = ngettext("✔ Lesson complete: its step passes.", "✔ Lesson complete: all {count} steps pass.",
                            len(st.steps)).format(count=len(st.steps))
            lines.append(Text(done + tail, style="bold green"))
        missing = self.lesson.missing_requirements()
        not_root = (self.snap is not None and not self.snap.is_root) or os.geteuid() != 0
        if not_root:
            blocked = [s.step.id for s in st if not s.passed]
            what = (_("steps {steps} cannot be checked").format(steps=", ".join(blocked)) if blocked
                    else _("some checks cannot run"))
            lines.append(Text(_("Not root: nstutor cannot see inside other namespaces, so {what}. "
                                "Quit (q) and rerun: {command}").format(
                                    what=what, command=how_to_run_as_root(f"nstutor {self.lesson.id}")),
                              style="bold yellow"))
        other = [m for m in missing if not m.startswith("needs root")]
        if other:
            lines.append(Text(_("This machine: {what}").format(what="; ".join(other)), style="yellow"))
        if self.update_error:
            lines.append(Text(self.update_error, style="red"))
        problem = self.app.progress.take_problem()
        if problem:
            self.notify(problem, severity="warning", timeout=8)
        self._set_status()
        found = self.query("#lesson-banner")
        if not found:       # a live result that arrives while the screen is being taken down
            return
        banner = found.first(Static)
        banner.update(Text("\n").join(lines) if lines else "")
        banner.display = bool(lines)

    def _set_status(self) -> None:
        st = self.state
        # steps passing now; those passed before (the catalog's ✔ counts them) but not now, e.g. after a reset
        before = sum(1 for s in st if s.ever_passed and not s.passed)
        self.sub_title = (ngettext("{passed}/{total} step", "{passed}/{total} steps", len(st.steps)).format(
                              passed=st.npassed, total=len(st.steps))
                          + (_(" · {count} done before").format(count=before) if before else "")
                          + (_(" · complete") if st.complete else ""))
        # "Lesson complete" is the banner's, said once (no notice too); the footer offers n meanwhile
        if st.complete != getattr(self, "_footer_complete", False):
            self._footer_complete = st.complete
            self.refresh_bindings()

    def paint_all(self) -> None:
        for card in self.query(StepCard):
            self.paint_card(card)
        self._paint_banner()

    def paint_card(self, card: StepCard) -> None:
        state = self.state.steps.get(card.step_id)
        card.paint(state, self._numbers.get(card.step_id, 0), card.step_id == self.selected,
                   self.app.current_theme.dark)
        if card.step_id == self._scroll_target:
            self._scroll_target = None
            self.call_after_refresh(self._scroll_to_card, card.step_id)

    def _paint_card_id(self, step_id: str) -> None:
        for card in self.query(StepCard):
            if card.step_id == step_id:
                self.paint_card(card)

    def _repaint_step(self, step_id: str) -> None:
        self._paint_card_id(step_id)
        self.query_one(StepList).show_state(self.state, self.selected)

    # ------------------------------------------------------------------ step selection
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        new = event.option.id
        if new == self.selected or new != self.query_one(StepList).selected_id:
            return          # the app's own move (selected set first), or a stale event the app overtook
        old, self.selected = self.selected, new
        self._picked = True             # the learner moved it: h and s act on this step now
        for step_id in (old, new):
            if step_id:
                self._paint_card_id(step_id)
        self.query_one(StepList).show_state(self.state, self.selected)
        if self._ready:
            self._scroll_to_card(new)      # the learner picked a step: show it in the text

    def _select(self, step_id: str | None) -> None:
        """Move the selection without scrolling the text (the app did it, not the learner): the
        highlight event that follows finds `selected` already set and does nothing more.
        None: no step is in front (every step passes), and the list marks none."""
        old, self.selected = self.selected, step_id
        self.query_one(StepList).select_step(step_id)
        if old != step_id and self._ready:
            for changed in (old, step_id):
                if changed:
                    self._paint_card_id(changed)

    def _follow_progress(self, newly_passed: list[str]) -> None:
        """After a round: the first step not passing comes in front, unless the learner picked a
        step that still fails. A pick ends when the picked step passes, or (a passed step picked
        to read again) when any step passes: the learner's work has moved on."""
        if self._picked and self.selected is not None:
            picked = self.state.steps.get(self.selected)
            if picked is None or (picked.passed and newly_passed):
                self._picked = False
        if self._picked:
            return
        first = self.state.current()
        self._select(first.step.id if first is not None else None)

    def in_front(self) -> StepState | None:
        """The StepState of the step in front (h and s act on it), or None."""
        return self.state.steps.get(self.selected) if self.selected else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id != self.selected:
            self._select(event.option.id)
        self._picked = True             # enter or a click on a step: the learner's choice, even the app's one
        self._scroll_to_card(event.option.id)

    def _scroll_to_card(self, step_id: str | None) -> None:
        for card in self.query(StepCard):
            if card.step_id == step_id:
                if self.has_class("-narrow"):
                    self.remove_class("-panel-only")
                self.query_one("#lesson-scroll", VerticalScroll).scroll_to_center(card, animate=False)

    def action_step(self, delta: int) -> None:
        steps = self.query_one(StepList)
        if delta > 0:
            steps.action_cursor_down()
        else:
            steps.action_cursor_up()

    # ------------------------------------------------------------------ actions
    def action_view(self, key: str) -> None:
        if self.query_one(LivePanel).select(key) and self.has_class("-narrow"):
            self.add_class("-panel-only")

    def action_toggle_panel(self) -> None:
        self.toggle_class("-panel-only")

    def _step_asked_about(self, done: str) -> StepState | None:
        """The step h or s is about (the one in front), or None after saying, with *done*, that
        every step passes and how to pick a finished one."""
        st = self.in_front()
        if st is None:
            self.notify(done, title=_("Lesson complete"), timeout=6)
        return st

    def action_hint(self) -> None:
        st = self._step_asked_about(_("Every step passes: no hint needed. To read a step's hints again, pick it in "
                                      "the step list (click it, or j/k) and press h."))
        if st is None:
            return
        step_id = st.step.id
        if not st.step.hints:
            self.notify(_("This step has no hints; press s for the solution."), timeout=4)
            return
        hint = self.state.show_hint(step_id)
        if hint is None:
            self.notify(_("No more hints for this step. Press s to see the solution."), timeout=5)
            return
        self.app.progress.record_hint(self.lesson.id, step_id, st.hints_shown)
        self._repaint_step(step_id)
        self._scroll_to_card(step_id)
        # the step's title is in the marked line of the step list and on its card: the number says which
        title = (_("Hint {shown}/{total}, step {step} (it passes already):") if st.passed
                 else _("Hint {shown}/{total}, step {step}:"))
        self.notify(hint, title=title.format(shown=st.hints_shown, total=len(st.step.hints),
                                             step=self._numbers.get(step_id, "?")), timeout=12)

    def action_solution(self) -> None:
        st = self._step_asked_about(_("Every step passes. To see a step's solution again, pick it in the step list "
                                      "(click it, or j/k) and press s."))
        if st is None:
            return
        step_id = st.step.id
        solution = self.state.view_solution(step_id)
        self.app.progress.record_solution(self.lesson.id, step_id)
        self._repaint_step(step_id)
        already = () if st.result is None or st.result.passed else tuple(
            v.expected for v in st.result.verdicts if v.passed)
        which = _("step {number}, {title}").format(number=self._numbers.get(step_id, "?"), title=st.step.title)
        self.app.push_screen(SolutionScreen(which, solution,
                                            self.app.current_theme.dark, already=already))

    def action_check(self) -> None:
        self._announce_check = True
        self.app.live.request(explicit=True)

    def action_shell(self) -> None:
        shell = os.environ.get("SHELL") or "/bin/bash"
        self.app.live.pause()
        try:
            with self.app.suspend():
                print("\n" + _("nstutor: here is your shell ({shell}), its prompt marked {mark}. Type the lesson's "
                               "commands; `exit` brings you back to the lesson.").format(
                                   shell=shell, mark=mark(self.lesson.id).strip()) + "\n", flush=True)
                argv, env, rcfile = shell_command(shell, self.lesson.id)
                try:
                    subprocess.run(argv, env=env, check=False)
                except OSError as exc:
                    print(_("nstutor: cannot start {shell}: {error}").format(shell=shell, error=exc.strerror or exc),
                          flush=True)
                    input(_("Press Enter to go back to the lesson. "))
                finally:
                    if rcfile:
                        os.unlink(rcfile)
        except SuspendNotSupported:
            self.notify(_("This terminal cannot suspend the app: use a second terminal for the commands."),
                        severity="warning", timeout=6)
        finally:
            self.app.live.resume(explicit=True)

    def action_reset(self) -> None:
        # The learner's strays need a fresh snapshot (and the firewall read): look in a worker, then ask.
        self.run_worker(self._find_strays, thread=True, exclusive=True, group="reset", exit_on_error=False)

    def _find_strays(self) -> None:
        from ...lessons.cleanup import cleanup_present, find_strays
        try:
            strays = find_strays(self.lesson)
        except Exception:  # noqa: BLE001 - not seeing strays must not stop the declared reset
            strays = []
        present = cleanup_present(self.lesson)      # the question names only what is really here
        self.app.call_from_thread(self._ask_reset, strays, present)

    def _ask_reset(self, strays: list, present: dict) -> None:
        self._reset_strays = strays
        from ...lessons.cleanup import cleanup_summary, names_objects, refused_cleanup
        label = self.lesson.label
        refused = refused_cleanup(self.lesson)
        if refused:
            self.notify(refused, title=_("Reset"), severity="error", timeout=10)
        objects = names_objects(present)
        if objects:
            intro = _("Remove what lesson {lesson} made and is still here, so you can start it again?").format(
                lesson=label) + "\n\n"
        elif present.get("script"):
            intro = _("Nothing that lesson {lesson} makes is here now, but its cleanup commands may still find "
                      "something (rules it adds, for example). Run them?").format(lesson=label) + "\n\n"
        elif strays:
            intro = _("Nothing that lesson {lesson} makes is here now.").format(lesson=label)
        else:
            self.notify(_("Nothing that lesson {lesson} makes is on this machine now: nothing to reset.").format(
                lesson=label))
            return
        summary = cleanup_summary(self.lesson, present) if objects or present.get("script") else ""
        body = f"{intro}{summary}{stray_summary(strays)}\n\n" + _("Your progress record is kept.")
        self.app.push_screen(ConfirmScreen(_("Reset this lesson?"), body, yes=_("Remove")), self._reset_answered)

    def _reset_answered(self, yes: bool | None) -> None:
        if yes:
            self.notify(_("Removing the lesson's objects…"), timeout=3)
            self.app.progress.begin_lab_change(self.lesson.id, "reset")
            self.run_worker(self._do_reset, thread=True, exclusive=True, group="reset", exit_on_error=False)

    def _do_reset(self) -> None:
        from ...lessons.cleanup import remove_strays, run_cleanup
        from ...lessons.scripts import ActionLog
        try:
            log = ActionLog()
            remove_strays(self.lesson, getattr(self, "_reset_strays", []), log)   # shown in the question
            cleanup = run_cleanup(self.lesson)
            done, errors = log.done + cleanup.done, log.errors + cleanup.errors
        except Exception as exc:  # noqa: BLE001
            done, errors = [], [_("reset failed: {error}").format(error=exc)]
        self.app.call_from_thread(self._reset_done, done, errors)

    def _reset_done(self, done: list[str], errors: list[str]) -> None:
        self.app.progress.end_lab_change(self.lesson.id)
        self._reset_at = time.time()
        if errors:
            self.notify("\n".join(errors), title=_("Reset: some things could not be removed"), severity="error",
                        timeout=10)
        else:
            self.notify(_("the lesson's steps are back to not done"), title=_("Reset done:"), timeout=5)
        self.app.live.request(explicit=True)
        self._offer_setup_if_needed()

    # ------------------------------------------------------------------ the lesson's lab (setup)
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "build" and not self.lesson.setup:
            return False                # only lessons with a setup have a lab to build
        if action in ("next_lesson", "next_lesson_early"):
            # one of the two n bindings is live: the shown one once the lesson is complete
            return self.state.complete == (action == "next_lesson")
        return True

    def _offer_setup_if_needed(self) -> None:
        """A lesson with a setup whose lab is not there (first visit, or after a reset): ask to build it."""
        if not lab_absent(self.lesson) or setup_blocker(self.lesson):
            return
        body = (_("This lesson starts from a lab that nstutor builds for you with the lesson's setup script "
                  "(the lesson text says what is in it). Everything is made inside the lesson's own network "
                  "namespaces: your machine's interfaces, routes and firewall are not touched.") + "\n\n"
                + _("Build it now? You can also do it later: press b."))
        self.app.push_screen(ConfirmScreen(_("Build the lab?"), body, yes=_("Build"), yes_variant="primary"),
                             self._build_answered)

    def _build_answered(self, yes: bool | None) -> None:
        if yes:
            self.action_build()

    def action_build(self) -> None:
        problem = setup_blocker(self.lesson)
        if problem:
            self.notify(_("Cannot build the lab: {problem}.").format(problem=problem), severity="warning", timeout=6)
            return
        self.app.push_screen(SetupScreen(self.lesson), self._build_done)

    def _build_done(self, ok: bool | None) -> None:
        self.app.live.request(explicit=True)

    def action_next_lesson_early(self) -> None:
        self.action_next_lesson()

    def action_next_lesson(self) -> None:
        nxt = self.app.catalog.next_after(self.lesson.id)
        if nxt is None:
            self.notify(_("This is the last lesson."), timeout=3)
            return
        if not self.state.complete:
            todo = len(self.state.steps) - self.state.npassed
            self.notify(ngettext("Opening the next lesson; this one has {count} step still to do (escape: lessons).",
                                 "Opening the next lesson; this one has {count} steps still to do (escape: lessons).",
                                 todo).format(count=todo), timeout=4)
        self.app.open_lesson(nxt.id)

    def action_catalog(self) -> None:
        self.app.show_catalog()
