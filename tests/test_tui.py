"""The now-playing view: keys through Textual's Pilot, the real command in tmux, and piped output."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import run_cli
from test_player import write_tone

from moodplayer.music.player import Player
from moodplayer.music.scan import describe
from moodplayer.music.track import Track
from moodplayer.ui.tui import build_app, clock

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def songs(tmp_path):
    """Three tagged 20 s tracks: long enough to press keys while one plays."""
    return [write_tone(tmp_path / f"{n}.ogg", 20.0, 300 + 100 * i, f"Song {n}") for i, n in enumerate("ABC")]


def drive(app, *keys: str, until=None, timeout: float = 15.0):
    """Press ``keys`` in a headless run of ``app``, wait for ``until()`` if given, and return the app."""

    async def run():
        async with app.run_test(size=(100, 20)) as pilot:
            await pilot.pause(0.3)
            for key in keys:
                await pilot.press(key)
                await pilot.pause(0.1)
            deadline = time.monotonic() + timeout
            while until is not None and not until() and time.monotonic() < deadline:
                await pilot.pause(0.1)

    asyncio.run(run())
    return app


def view_text(app) -> str:
    """What the view shows now, as plain text."""
    from rich.console import Console

    console = Console(width=100, file=io.StringIO(), color_system=None)
    console.print(app.render_view())
    return console.file.getvalue()


def test_keys_pause_skip_volume_seek_shuffle_repeat(songs):
    player = Player(songs, aout="dummy")
    seen = {}

    async def run():
        app = build_app(player, "happy · test")
        async with app.run_test(size=(100, 20)) as pilot:
            await pilot.pause(0.3)
            await pilot.press("space")
            seen["paused"] = player.state
            await pilot.press("space", "n")
            seen["next"] = player.current.title
            await pilot.press("b")
            seen["previous"] = player.current.title
            await pilot.press("plus", "plus", "minus")
            seen["volume"] = player.volume
            await pilot.press("right")
            for _ in range(50):  # libvlc reports the new position once it has decoded there
                if player.position >= 4.0:
                    break
                await pilot.pause(0.1)
            seen["seek"] = player.position
            await pilot.press("s", "r")
            seen["modes"] = (player.shuffle, player.repeat)
            await pilot.pause(0.3)
            seen["view"] = view_text(app)
            await pilot.press("q")
        seen["closed"] = app.return_code

    asyncio.run(run())
    assert seen["paused"] == "paused"
    assert seen["next"] == "Song B" and seen["previous"] == "Song A"
    assert seen["volume"] == 85
    assert seen["seek"] >= 4.0
    assert seen["modes"] == (True, "all")
    assert "Test Artist – Song A" in seen["view"] and "vol 85%" in seen["view"] and "repeat all" in seen["view"]
    assert seen["closed"] == 0
    player.close()


def test_wrong_mood_picks_an_emotion_and_switches_to_what_the_callback_returns(songs):
    player = Player(songs[:1], aout="dummy")
    replacement = Player(songs[1:], aout="dummy")
    picked = []

    def wrong_mood(emotion):
        picked.append(emotion)
        return replacement, "sad · demo-sad"

    app = drive(build_app(player, "happy · demo-happy", on_wrong_mood=wrong_mood), "w", "4")
    assert picked == ["sad"]
    assert app.player is replacement and app.heading == "sad · demo-sad"
    assert replacement.current == songs[1] and player.state == "stopped"
    replacement.close()


def screen_text(app) -> str:
    """Every character the headless terminal shows now, line by line."""
    return "\n".join(strip.text.rstrip() for strip in app.screen._compositor.render_strips())


@pytest.mark.parametrize("width", [80, 46])
def test_every_key_hint_shows_whole_in_a_narrow_terminal(songs, width):
    player = Player(songs, aout="dummy")
    app = build_app(player, "happy · demo-happy", on_listen_again=lambda: None, on_wrong_mood=lambda e: None)
    seen = {}

    async def run():
        async with app.run_test(size=(width, 24)) as pilot:
            await pilot.pause(0.3)
            await pilot.press("w")  # the mood picker's line is the longest the view shows
            await pilot.pause(0.2)
            seen["screen"] = screen_text(app)
            await pilot.press("escape", "q")

    asyncio.run(run())
    player.close()
    lines = seen["screen"].rstrip().splitlines()
    assert len(lines) <= 24 and all(len(line) <= width for line in lines)
    hints = "  ".join(line.strip() for line in lines[lines.index(next(x for x in lines if "q quit" in x)) :])
    for hint in ("q quit", "space pause", "n next", "b prev", "+/- volume", "←/→ seek", "s shuffle", "r repeat"):
        assert hint in hints, seen["screen"]
    assert hints.endswith("l listen again  w wrong mood")
    assert "8 surprised" in seen["screen"]


def test_a_tick_after_the_view_has_closed_does_nothing(songs):
    """Textual's interval timer can fire once more while the app shuts down (seen under load)."""
    player = Player(songs[:1], aout="dummy")
    app = drive(build_app(player, "t"))
    app.tick()
    assert player.state == "playing"
    player.close()


def test_listen_again_ends_the_view_for_the_caller(songs):
    player = Player(songs, aout="dummy")
    app = drive(build_app(player, "t", on_listen_again=lambda: None), "l")
    assert app.listen_again_asked and app.return_code == 0
    player.close()


def test_the_view_ends_with_the_queue(tmp_path):
    player = Player([write_tone(tmp_path / "short.ogg", 1.0, 440, "Short")], aout="dummy")
    app = drive(build_app(player, "t"), until=lambda: player.state == "ended")
    assert app.return_code == 0 and player.state == "ended"
    player.close()


def test_clock():
    assert clock(None) == "-:--"
    assert clock(192.7) == "3:12"
    assert clock(3725) == "1:02:05"


def make_playlist(name: str, tracks) -> None:
    from moodplayer.music.library import Library

    with Library.open() as lib:
        lib.create_playlist(name)
        lib.add_tracks(name, describe([t.location for t in tracks]))


def test_piped_play_prints_one_line_per_track_and_ends(tmp_path):
    tracks = [write_tone(tmp_path / f"{n}.ogg", 1.0, 400 + 50 * i, f"Tune {n}") for i, n in enumerate("XY")]
    (tmp_path / "empty.ogg").touch()
    make_playlist("tunes", [tracks[0], Track(str(tmp_path / "empty.ogg")), tracks[1]])
    result = run_cli("play", "tunes", "--aout", "dummy", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "playlist tunes",
        "▶ Test Artist – Tune X (0:01)",
        "▶ Test Artist – Tune Y (0:01)",
    ]
    assert "warning: skipped" in result.stderr and "empty.ogg: empty file" in result.stderr


def test_play_of_a_playlist_with_nothing_playable_is_one_error_line(tmp_path):
    (tmp_path / "silent.mp3").write_bytes(b"")
    from moodplayer.music.library import Library

    with Library.open() as lib:
        lib.create_playlist("broken")
        lib.add_tracks("broken", describe([str(tmp_path / "silent.mp3")]))
    result = run_cli("play", "broken", "--aout", "dummy")
    assert result.returncode == 1
    assert result.stderr == "error: no playable tracks in broken (silent.mp3: empty file)\n"


class Tmux:
    """A private tmux server (its own socket) running one command in a 120×30 pane."""

    def __init__(self, command: str, env: dict) -> None:
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed")
        self.socket = f"moodplayer-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        script = (
            f"export {exports}; before=$(stty -g); {command}; rc=$?; "
            '[ "$(stty -g)" = "$before" ] && echo TERMINAL-RESTORED; echo EXIT=$rc; sleep 30'
        )
        self.tmux("new-session", "-d", "-x", "120", "-y", "30", "bash", "--norc", "-c", script)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, screen := self.screen()):
            assert time.monotonic() < deadline, f"{pattern!r} never showed; the screen was:\n{screen}"
            time.sleep(0.1)
        return screen

    def command_pid(self) -> int:
        """The pid of the command running in the pane (a child of the pane's shell)."""
        shell = self.tmux("display-message", "-p", "#{pane_pid}").strip()
        return int(
            subprocess.run(["pgrep", "-P", shell, "-f", "moodplayer"], capture_output=True, text=True).stdout.split()[0]
        )

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


@pytest.fixture
def tmux_play(songs, isolated_home):
    make_playlist("songs", songs)
    env = {"MOODPLAYER_HOME": str(isolated_home), "PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    session = Tmux(f"{sys.executable} -m moodplayer play songs --aout dummy", env)
    yield session
    session.close()


def test_live_view_in_tmux_pause_next_volume_quit(tmux_play):
    tmux_play.wait_for(r"▶ Test Artist – Song A")
    tmux_play.keys("Space")
    tmux_play.wait_for(r"⏸ Test Artist – Song A[\s\S]*paused  vol 80%")
    tmux_play.keys("n")
    tmux_play.wait_for(r"▶ Test Artist – Song B[\s\S]*up next: Test Artist – Song C")
    tmux_play.keys("+")
    tmux_play.wait_for(r"vol 85%")
    tmux_play.keys("q")
    screen = tmux_play.wait_for(r"EXIT=\d+")
    assert "TERMINAL-RESTORED" in screen and "EXIT=0" in screen


def test_ctrl_c_in_the_live_view_restores_the_terminal_and_exits_130(tmux_play):
    tmux_play.wait_for(r"▶ Test Artist – Song A")
    tmux_play.keys("C-c")
    screen = tmux_play.wait_for(r"EXIT=\d+")
    assert "TERMINAL-RESTORED" in screen and "EXIT=130" in screen
    assert "error: interrupted" in screen and "Traceback" not in screen


def test_listen_again_pauses_then_switches_or_carries_on(songs, capsys):
    from moodplayer.errors import NoSpeechError
    from moodplayer.ui.tui import _listen_again

    player = Player(songs[:1], aout="dummy")
    player.play()
    states = []

    def heard_nothing():
        states.append(player.state)
        raise NoSpeechError("no speech heard in the recording; speak for a second or two and try again")

    assert _listen_again(player, "happy", heard_nothing) == (player, "happy")
    assert states == ["paused"]
    assert "no speech heard" in capsys.readouterr().err

    replacement = Player(songs[1:], aout="dummy")
    assert _listen_again(player, "happy", lambda: (replacement, "sad")) == (replacement, "sad")
    assert player.state == "stopped"  # closed: the new queue plays instead
    replacement.close()


SWITCHING_VIEW = """
import sys
from moodplayer.music.player import Player
from moodplayer.music.track import Track
from moodplayer.ui.tui import run_now_playing

happy, sad = (Track(p, title=t, artist="Test Artist") for p, t in zip(sys.argv[1:], ("Song A", "Song B")))
run_now_playing(
    Player([happy], aout="dummy"), title="happy · mine",
    on_wrong_mood=lambda emotion: (Player([sad], aout="dummy"), f"{emotion} · theirs"),
    on_listen_again=lambda: print("listening (nothing heard)"),
)
"""


def test_wrong_mood_then_listen_again_in_tmux_keeps_the_switched_queue(songs, tmp_path):
    script = tmp_path / "view.py"
    script.write_text(SWITCHING_VIEW)
    env = {"PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    session = Tmux(f"{sys.executable} {script} {songs[0].location} {songs[1].location}", env)
    try:
        session.wait_for(r"happy · mine[\s\S]*▶ Test Artist – Song A")
        session.keys("w")
        session.wait_for(r"right mood\? 1 neutral")
        session.keys("4")
        session.wait_for(r"sad · theirs[\s\S]*▶ Test Artist – Song B")
        session.keys("l")
        screen = session.wait_for(r"listening \(nothing heard\)[\s\S]*sad · theirs[\s\S]*▶ Test Artist – Song B")
        session.keys("q")
        screen = session.wait_for(r"EXIT=\d+")
        assert "TERMINAL-RESTORED" in screen and "EXIT=0" in screen
    finally:
        session.close()


def test_ctrl_c_during_piped_playback_exits_130_without_a_traceback(songs, isolated_home):
    import signal

    make_playlist("songs", songs)
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodplayer", "play", "songs", "--aout", "dummy"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout.readline() == "playlist songs\n"
    assert proc.stdout.readline().startswith("▶ Test Artist – Song A")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert stderr == "error: interrupted\n"


def test_in_a_terminal_with_stdin_redirected_it_prints_plain_lines(tmp_path, isolated_home):
    tracks = [write_tone(tmp_path / f"{n}.ogg", 1.0, 400 + 50 * i, f"Tune {n}") for i, n in enumerate("XY")]
    make_playlist("tunes", tracks)
    env = {"MOODPLAYER_HOME": str(isolated_home), "PYTHONPATH": str(REPO), "TERM": "xterm-256color", "NO_COLOR": "1"}
    session = Tmux(f"{sys.executable} -m moodplayer play tunes --aout dummy < /dev/null", env)
    try:
        screen = session.wait_for(r"EXIT=\d+")
        assert "▶ Test Artist – Tune X (0:01)\n▶ Test Artist – Tune Y (0:01)" in screen
        assert "TERMINAL-RESTORED" in screen and "EXIT=0" in screen
    finally:
        session.close()


def test_sigterm_in_the_live_view_restores_the_terminal(tmux_play):
    import signal

    tmux_play.wait_for(r"▶ Test Artist – Song A")
    os.kill(tmux_play.command_pid(), signal.SIGTERM)
    screen = tmux_play.wait_for(r"EXIT=\d+")
    assert "TERMINAL-RESTORED" in screen and "EXIT=143" in screen
