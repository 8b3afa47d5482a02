"""NstutorApp: the Textual application (screens, global keys, themes, the live loop's owner).

The app owns three things the screens share: the lesson catalog, the progress store
(through `Progress`, which never raises), and the LiveChecker thread. Live updates arrive
as `LiveResult` messages (posted thread-safely from the live thread) and are handed to
the lesson screen they belong to.

For tests and the benchmark everything is injectable: the catalog, the store path, and
`snapshot_source` (a callable returning a Snapshot) in place of the real Observer, so a
screenshot test can freeze the kernel's state.
"""
from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Callable

from textual.app import App
from textual.binding import Binding
from textual.message import Message

from .. import i18n
from ..i18n import N_, _
from .keys import InLanguage
from ..lessons import Catalog, load_catalog
from ..lessons.lookup import find_lesson
from ..observe import Snapshot
from ..observe.procfs import proc_path
from ..paths import assets_dir
from .screens.catalog import CatalogScreen
from .live_checker import LiveChecker, LiveUpdate
from .screens.modals import HelpScreen, NameScreen
from .progress_link import Progress

DARK, LIGHT = "textual-dark", "textual-light"


def terminal_is_gone(fd: int = 0) -> bool:
    """True when the terminal on *fd* was closed by the other side (its pty device was deleted)."""
    try:
        return os.readlink(proc_path("self", "fd", fd)).endswith(" (deleted)")
    except OSError:
        return False


class LiveResult(Message):
    """One round of the live loop (snapshot + grades), delivered on the UI thread."""

    def __init__(self, update: LiveUpdate) -> None:
        super().__init__()
        self.update = update


class NstutorApp(InLanguage, App):
    CSS_PATH = str(assets_dir() / "app.tcss")
    TITLE = "nstutor"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("question_mark", "help", N_("Keys"), key_display="?", tooltip=N_("this list")),
        Binding("t", "toggle_theme", N_("Theme"), show=False, tooltip=N_("switch between the dark and light theme")),
        # L: English <-> Korean, remembered like `nstutor lang`; it speaks it from its next start (the keys'
        # words and the lessons are read in the language when nstutor starts)
        Binding("L", "toggle_language", N_("Language"), show=False,
                tooltip=N_("English or 한국어 (Korean), remembered; from the next start of nstutor")),
        Binding("q", "quit", N_("Quit")),
        Binding("ctrl+c", "quit", N_("Quit"), show=False, priority=True),
    ]

    def __init__(self, lesson_id: str | None = None, *, store_path: Path | str | None = None,
                 snapshot_source: Callable[[], Snapshot] | None = None, catalog: Catalog | None = None,
                 interval: float = 1.0, probe_interval: float = 5.0, probes: bool = True, theme: str | None = None,
                 resume_last: bool = True, ask_name: bool = False) -> None:
        super().__init__()
        self.start_lesson = lesson_id
        self.resume_last = resume_last
        self.ask_name = ask_name              # `nstutor` asks once for the learner's name; tests do not
        self.catalog = catalog if catalog is not None else load_catalog()
        self.progress = Progress.open(store_path)
        self.last_update: LiveUpdate | None = None
        self.updates = 0                      # LiveResults handled (tests wait on this)
        self.live = LiveChecker(self._deliver, snapshot_source, interval=interval, probe_interval=probe_interval,
                                probes=probes)
        self._start_theme = theme or DARK
        self._language_choice: str | None = None     # what L remembered in this session (it applies next start)

    # ------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        self.theme = self._start_theme
        target = self.start_lesson
        if target is None and self.resume_last:
            last = self.progress.last_lesson()
            target = last if last and self.catalog.find(last) else None
        # Straight to the lesson when there is one: the catalog is only built when asked for, and
        # the live loop starts after the first frame (its first snapshot would compete with it).
        if target is None or not self.open_lesson(target):
            self.push_screen(CatalogScreen(id="catalog-screen"))
        # call_after_refresh hands the callback to the screen on top when it runs, and a screen
        # dismissed before its next refresh drops it: so the name dialog is pushed only after the
        # live loop's start is queued on the catalog or lesson (answering the dialog at once, Esc
        # before it was drawn, left a live loop that never started).
        self.call_after_refresh(self.live.start)
        self._exit_when_the_terminal_goes()
        if self.ask_name and self.progress.should_ask_name():
            self.call_after_refresh(self._ask_name_once)

    def _ask_name_once(self) -> None:
        """The display name progress exports carry: asked on the first start, kept, never asked again
        (skipping is an answer too; `nstutor whoami NAME` changes it)."""
        from ..progress.store import clean_name

        def problem(name: str) -> str | None:
            try:
                clean_name(name)
            except ValueError as exc:
                return str(exc)
            return None

        def answered(name: str | None) -> None:
            self.progress.mark_name_asked()
            if name:
                self.progress.set_learner_name(name)
                # the screen's own notice place: the lesson screen's notice line, else a toast
                self.screen.notify(_("Saved: your progress exports will say {name}.").format(name=clean_name(name)))

        self.push_screen(NameScreen(problem), answered)

    def _exit_when_the_terminal_goes(self) -> None:
        """Quit (saving progress) when the terminal disappears: SIGHUP when an ssh session or a tmux
        pane closes, and a check every 2 s for a terminal without a controlling tty (its device
        file is deleted when the other side closes; Textual's input thread would then spin on EOF)."""
        if self.is_headless:
            return
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._leave_a_gone_terminal)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
        self.set_interval(2.0, self._check_terminal)

    def _check_terminal(self) -> None:
        if terminal_is_gone():
            self._leave_a_gone_terminal()

    def _leave_a_gone_terminal(self) -> None:
        """Save, and end the process at once. Textual's own exit first writes its reset sequences to
        the terminal; with nobody left to read them its writer queue fills and the exit blocks for
        ever (seen: `nstutor 10` still running 45 minutes after its tmux session was killed, asleep,
        its live thread holding a netlink socket in every netns). There is no terminal to restore."""
        self.live.stop()
        self.progress.close()
        os._exit(0)

    def on_unmount(self) -> None:
        self.live.stop()
        self.progress.close()

    def _deliver(self, update: LiveUpdate) -> None:
        """Called in the live thread: hand the update to the UI thread."""
        self.post_message(LiveResult(update))

    def on_live_result(self, message: LiveResult) -> None:
        update = message.update
        self.last_update = update
        self.updates += 1
        screen = self.lesson_screen()
        if screen is not None:
            screen.apply_update(update)

    # ------------------------------------------------------------------ navigation
    def lesson_screen(self):
        from .screens.lesson import LessonScreen
        for screen in reversed(self.screen_stack):
            if isinstance(screen, LessonScreen):
                return screen
        return None

    def open_lesson(self, lesson_id: str) -> bool:
        """Show a lesson: on top of the catalog, or in place of the lesson shown now."""
        from .screens.lesson import LessonScreen
        lesson = find_lesson(self.catalog, lesson_id)       # an id, or a number as `nstutor 10` gives
        if lesson is None:
            self.notify(_("No lesson '{lesson}'.").format(lesson=lesson_id), severity="error")
            return False
        self._pop_dialogs()
        if isinstance(self.screen, LessonScreen):
            self.switch_screen(LessonScreen(lesson))
        else:
            if isinstance(self.screen, CatalogScreen) and self.screen.is_mounted:
                self.screen.select_lesson(lesson.id)
            self.push_screen(LessonScreen(lesson))
        return True

    def show_catalog(self) -> None:
        """Back to the catalog: the one under the lesson, or a new one in its place."""
        self.live.set_lesson(None)
        self._pop_dialogs()
        if any(isinstance(s, CatalogScreen) for s in self.screen_stack):
            while not isinstance(self.screen, CatalogScreen):
                self.pop_screen()
        else:
            self.switch_screen(CatalogScreen(id="catalog-screen"))

    def _pop_dialogs(self) -> None:
        from textual.screen import ModalScreen
        while len(self.screen_stack) > 1 and isinstance(self.screen, ModalScreen):
            self.pop_screen()

    # ------------------------------------------------------------------ global actions
    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.current_theme.dark else DARK
        screen = self.lesson_screen()
        if screen is not None:
            screen.paint_all()

    def action_toggle_language(self) -> None:
        """L: the other language (en <-> ko), remembered in the progress store as `nstutor lang` does.
        This process keeps its language (its keys' words and lessons were read at the start): the
        notice, said in both languages, tells the learner it applies from the next start."""
        now = i18n.current()
        chosen = "ko" if (self._language_choice or now) == "en" else "en"     # L twice: back again
        saved = self.progress.set_language(chosen)
        if saved:
            self._language_choice = chosen

        def notice() -> str:
            if saved:
                return _("Language: {name} from the next start of nstutor (quit with q and start it again); "
                         "{option} or {variable} still overrides it.").format(
                             name=i18n.LANGUAGES[chosen], option="--lang", variable=i18n.ENV_LANG)
            return _("The language could not be remembered (the progress store cannot be written): "
                     "start nstutor with {option} {language}.").format(option="--lang", language=chosen)
        # said in the language the learner reads now (who may have pressed L by mistake: press L again),
        # then in the one just chosen
        said = [notice()]
        i18n.set_language(chosen)
        try:
            said.append(notice())
        finally:
            i18n.set_language(now)
        message = "\n".join(said)
        self.screen.notify(message, timeout=8)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.key_sections(), about=help_about()))

    def key_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """The keys that work now, from the active bindings (so help never disagrees with them).

        Widgets' own keys (scrolling, cursors) and Textual's defaults (tab, copy) are summed up in
        the note instead; the live panel's view keys are folded into one line."""
        here: list[tuple[str, str]] = []
        everywhere: list[tuple[str, str]] = []
        views: list[tuple[str, str]] = []
        seen = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if active.node is not self and active.node is not self.screen:
                continue
            if key in QUIET_KEYS or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            shown = binding.key_display or self.get_key_display(binding)
            if binding.action.startswith("view("):
                views.append((shown, binding.description.removeprefix(_("View: {title}").format(title=""))))
                continue
            what = f"{binding.description}: {binding.tooltip}" if binding.tooltip else binding.description
            (everywhere if active.node is self else here).append((shown, what))
        if views:
            here.append((f"{views[0][0]}-{views[-1][0]}",
                         _("Live panel: {views}").format(views=", ".join(v for _key, v in views))))
        sections = []
        if here:
            sections.append((_("This screen"), here))
        if everywhere:
            sections.append((_("Everywhere"), everywhere))
        return sections


#: Textual's defaults, explained in the note rather than listed.
QUIET_KEYS = {"tab", "shift+tab", "super+c", "ctrl+c", "ctrl+q"}


def help_about() -> str:
    """The note under the key help (the keys of widgets and Textual's defaults, in words)."""
    return _("Arrows, PgUp/PgDn scroll what has the focus; tab moves the focus; enter opens. "
             "A diagram wider than the lesson pane has a scrollbar under it: left/right slide it. "
             "Type the lesson's commands in your own shell (a second terminal, or ! here). Steps turn green "
             "by themselves when the kernel agrees; nothing you do in nstutor changes the machine except "
             "reset, which asks first. The step marked ▶ is the one in front of you: the first that "
             "does not pass yet, or the one you picked; h and s give its hint and solution. "
             "Mouse: click a lesson, a step, or a view name.")
