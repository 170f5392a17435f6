"""The now-playing view: interactive in a terminal, plain lines when piped.

The interactive view is a Textual app run inline (under the prompt, so what
``listen`` printed above stays visible). Textual rather than rich ``Live`` plus
a hand-written cbreak key reader because it already parses arrow keys and
other escape sequences, restores the terminal on every way out (quit, Ctrl-C,
an exception), handles resizes, and comes with a headless ``Pilot`` to test
the key handling in-process against a real player.

The player is driven from the app's timer: :meth:`Player.poll` runs on the UI
thread a few times a second, which is where the next track starts — never in
a libvlc callback.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import MoodplayerError
from moodplayer.listening import Switch
from moodplayer.music.player import Player, Playing, PlayingSilently, QueueEnded, Skipped
from moodplayer.music.track import Track
from moodplayer.text import shown
from moodplayer.ui.console import out, warn
from moodplayer.ui.views import clock

POLL_SECONDS = 0.2
VOLUME_STEP = 5
SEEK_SECONDS = 5.0
UP_NEXT_SHOWN = 3


def run_now_playing(
    player: Player,
    *,
    title: str,
    on_listen_again: Callable[[], Switch | None] | None = None,
    on_wrong_mood: Callable[[str], Switch | None] | None = None,
) -> None:
    """Play ``player``'s queue to its end (or until the user quits), showing what plays.

    ``on_listen_again()`` runs between two runs of the view, with the music
    paused and the terminal the caller's (it records, with its own meter);
    ``on_wrong_mood(emotion)`` gets the mood the user says was right. Either
    may return a new player and title to switch to.
    """
    try:
        if sys.stdout.isatty() and sys.stdin.isatty():  # keys need a terminal to come from, too
            _run_interactive(player, title, on_listen_again, on_wrong_mood)
        else:
            _run_plain(player, title)
    finally:
        player.close()


def _run_plain(player: Player, title: str) -> None:
    """Print one line per track and warnings on stderr; return when the queue ends."""
    import time

    out.print(shown(title), markup=False)
    player.play()
    while player.state != "ended":
        for event in player.poll():
            if isinstance(event, Playing):
                out.print(f"▶ {event.track.display_title} ({clock(event.length)})", markup=False)
            elif isinstance(event, (Skipped, PlayingSilently)):
                warn(str(event))
        time.sleep(POLL_SECONDS / 2)


def _run_interactive(player, title, on_listen_again, on_wrong_mood) -> None:
    """Run the view until the queue ends or the user quits; errors and Ctrl-C come out here.

    "Listen again" ends the view and starts a new one afterwards: an inline
    Textual app cannot hand the terminal over while it runs, and the
    recording meter needs it. Errors are raised after the terminal is restored.
    """
    try:
        while True:
            app = build_app(player, title, on_listen_again, on_wrong_mood)
            try:
                app.run(inline=True)
            finally:
                player, title = app.player, app.heading  # "wrong mood" may have switched to another queue
            if app.failure is not None:
                raise app.failure
            if app.interrupted:
                raise KeyboardInterrupt
            if app.terminated:
                raise SystemExit(128 + signal.SIGTERM)
            if not app.listen_again_asked:
                return
            player, title = _listen_again(player, title, on_listen_again)
    finally:
        player.close()


def _listen_again(player: Player, title: str, on_listen_again) -> Switch:
    """Pause, let the caller record and classify; switch to what it returns, else carry on."""
    if player.state == "playing":
        player.pause_toggle()  # the microphone must not hear the music
    try:
        result = on_listen_again()
    except MoodplayerError as exc:  # no speech heard, no microphone…: say so and keep playing
        warn(str(exc))
        result = None
    if result is None:
        return player, title
    player.close()
    return result


def build_app(player: Player, title: str, on_listen_again=None, on_wrong_mood=None):
    """The Textual app for ``player`` (separate from running it, so tests can drive it with a Pilot)."""
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.widgets import Static

    class NowPlaying(App):
        """Now playing: the track, its progress, what comes next, and the keys."""

        ENABLE_COMMAND_PALETTE = False
        CSS = """
        Screen { height: auto; }
        Screen:inline { height: auto; }
        #view { height: auto; padding: 0 1; }
        #keys { height: auto; padding: 0 1; background: $panel; }
        """
        BINDINGS = [
            ("space", "pause"),
            ("n", "next"),
            ("b", "previous"),
            ("plus,equals_sign", f"volume({VOLUME_STEP})"),
            ("minus", f"volume({-VOLUME_STEP})"),
            ("left", f"seek({-SEEK_SECONDS})"),
            ("right", f"seek({SEEK_SECONDS})"),
            ("s", "shuffle"),
            ("r", "repeat"),
            ("w", "wrong_mood"),
            ("l", "listen_again"),
            ("q", "quit"),
            Binding("ctrl+c", "interrupt", show=False, priority=True),
        ]

        def __init__(self) -> None:
            super().__init__()
            self.player, self.heading = player, title
            self.failure: MoodplayerError | None = None
            self.interrupted = False
            self.terminated = False
            self.listen_again_asked = False
            self.picking_mood = False
            self.message = ""

        def compose(self) -> ComposeResult:
            yield Static(id="view")
            yield Static(key_hints(on_listen_again is not None, on_wrong_mood is not None), id="keys")

        def on_mount(self) -> None:
            import asyncio

            try:  # `kill` too must leave the terminal as it was: end the app the normal way
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.action_terminate)
            except (NotImplementedError, RuntimeError):  # no loop signal handlers (Windows, not main thread)
                pass
            self.player.play()
            self.tick()
            self.set_interval(POLL_SECONDS, self.tick)

        def tick(self) -> None:
            """Let the player move on, then redraw; a player error ends the view.

            The interval timer can still fire while the app shuts down, after its
            screen (and the view) is gone: such a tick does nothing.
            """
            views = self.query("#view")
            if not views:
                return
            try:
                events = self.player.poll()
            except MoodplayerError as exc:
                self.failure = exc
                self.exit()
                return
            for event in events:
                if isinstance(event, QueueEnded):
                    self.exit()
                elif not isinstance(event, Playing):
                    self.message = str(event)
            views.first(Static).update(self.render_view())

        def render_view(self):
            return now_playing_view(self.player, self.heading, self.status_line())

        def status_line(self):
            if self.picking_mood:
                choices = [(str(i), e) for i, e in enumerate(EMOTIONS, 1)]
                return KeyHints((*choices, ("esc", "cancel")), title="right mood?", style="yellow")
            return self.message

        def action_pause(self) -> None:
            self.player.pause_toggle()
            self.tick()

        def action_next(self) -> None:
            self.player.next()
            self.tick()

        def action_previous(self) -> None:
            self.player.previous()
            self.tick()

        def action_volume(self, step: int) -> None:
            self.player.set_volume(self.player.volume + step)
            self.tick()

        def action_seek(self, seconds: float) -> None:
            self.player.seek(seconds)
            self.tick()

        def action_shuffle(self) -> None:
            self.message = f"shuffle {'on' if self.player.toggle_shuffle() else 'off'}"
            self.tick()

        def action_repeat(self) -> None:
            self.message = f"repeat {self.player.toggle_repeat()}"
            self.tick()

        def action_interrupt(self) -> None:
            self.interrupted = True
            self.exit()

        def action_terminate(self) -> None:
            self.terminated = True
            self.exit()

        def action_wrong_mood(self) -> None:
            if on_wrong_mood is not None:
                self.picking_mood = True
                self.tick()

        def on_key(self, event) -> None:
            """While picking the right mood, digits choose it and escape cancels."""
            if not self.picking_mood:
                return
            event.stop()
            if event.key == "escape":
                self.picking_mood = False
            elif event.character and event.character.isdigit() and 1 <= int(event.character) <= len(EMOTIONS):
                self.picking_mood = False
                emotion = EMOTIONS[int(event.character) - 1]
                self.message = f"noted: it was {emotion}"
                try:
                    self.switch_to(on_wrong_mood(emotion))
                except MoodplayerError as exc:  # e.g. no playlist for that mood: keep playing
                    self.message = str(exc)
            self.tick()

        def action_listen_again(self) -> None:
            if on_listen_again is not None:
                self.listen_again_asked = True
                self.exit()

        def switch_to(self, result: Switch | None) -> None:
            """Replace the playing queue with the one a callback returned."""
            if result is None:
                return
            old, (self.player, self.heading) = self.player, result
            old.close()
            self.player.play()

    return NowPlaying()


def key_hints(listen_again: bool, wrong_mood: bool) -> KeyHints:
    """The keys of the view and what they do; quitting first, so a new user always sees the way out."""
    hints = [
        ("q", "quit"),
        ("space", "pause"),
        ("n", "next"),
        ("b", "prev"),
        ("+/-", "volume"),
        ("←/→", "seek"),
        ("s", "shuffle"),
        ("r", "repeat"),
    ]
    if listen_again:
        hints.append(("l", "listen again"))
    if wrong_mood:
        hints.append(("w", "wrong mood"))
    return KeyHints(tuple(hints))


@dataclass(frozen=True)
class KeyHints:
    """Key hints packed into as many lines as the width needs, a hint never cut in two.

    A rich renderable, so the terminal's width (80 columns or 200) decides the
    lines where it is drawn: Textual asks it for its height at that width too.
    """

    hints: tuple[tuple[str, str], ...]
    title: str = ""
    style: str = ""
    gap: int = 2

    def __rich_console__(self, console, options):
        from rich.text import Text

        line, gap = Text(self.title, style=self.style), " " if self.title else ""
        for key, label in self.hints:
            hint = Text.assemble((key, "bold"), f" {label}", style=self.style)
            if line and line.cell_len + len(gap) + hint.cell_len > options.max_width:
                yield line
                line, gap = Text(style=self.style), ""
            line.append(gap).append_text(hint)
            gap = " " * self.gap
        yield line


def now_playing_view(player: Player, heading: str, status: str | KeyHints = ""):
    """The view's body as a rich renderable: heading, track, progress, settings, up next."""
    from rich.console import Group, RenderableType
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    track = player.current
    symbol = {"playing": "▶", "paused": "⏸"}.get(player.state, "■")
    lines: list[RenderableType] = [Text(shown(heading), style="bold")]
    lines.append(Text(f"{symbol} {track.display_title}" if track else f"{symbol} {player.state}", style="bold cyan"))
    if track is not None and track.album:
        lines.append(Text(f"  {track.album}", style="dim"))
    length, position = player.length, player.position
    bar = Table.grid(padding=(0, 1), expand=True)
    bar.add_column(width=8, justify="right")
    bar.add_column(ratio=1)
    bar.add_column(width=8)
    bar.add_row(clock(position), ProgressBar(total=length or 1.0, completed=position if length else 0), clock(length))
    lines.append(bar)
    settings = (
        f"{player.state}  vol {player.volume}%  shuffle {'on' if player.shuffle else 'off'}  repeat {player.repeat}"
    )
    lines.append(Text(settings))
    lines.append(Text(f"up next: {_up_next(player.up_next)}", style="dim"))
    if isinstance(status, KeyHints):
        lines.append(status)
    elif status:
        lines.append(Text(status, style="yellow"))
    return Group(*lines)


def _up_next(tracks: list[Track]) -> str:
    if not tracks:
        return "—"
    names = " · ".join(t.display_title for t in tracks[:UP_NEXT_SHOWN])
    return names + (f" (+{len(tracks) - UP_NEXT_SHOWN} more)" if len(tracks) > UP_NEXT_SHOWN else "")
