"""The player against the real libvlc, with its silent ``dummy`` audio output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from vmic import vmic  # noqa: F401  (the fixture)

from moodplayer.errors import PlaybackError
from moodplayer.music.player import (
    Player,
    PlayerEvent,
    Playing,
    PlayingSilently,
    QueueEnded,
    choose_aout,
    libvlc_instance,
    load_vlc,
)
from moodplayer.music.track import Track

REPO = Path(__file__).resolve().parents[1]


def write_tone(path: Path, seconds: float, freq: float = 440.0, title: str | None = None) -> Track:
    """A tagged sine tone: real audio that libvlc decodes, made without any external tool."""
    rate = 22_050
    t = np.arange(int(seconds * rate)) / rate
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, format="OGG", subtype="VORBIS") as f:
        if title:
            f.title, f.artist = title, "Test Artist"
        f.write((0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32))
    return Track(str(path), title=title, artist="Test Artist" if title else None, duration=seconds)


@pytest.fixture
def tones(tmp_path) -> list[Track]:
    """Three short tracks (libvlc's dummy output plays each in about a second)."""
    return [write_tone(tmp_path / f"{name}.ogg", 1.5, 330 + 110 * i, name) for i, name in enumerate("ABC")]


@pytest.fixture
def long_tone(tmp_path) -> Track:
    return write_tone(tmp_path / "long.ogg", 20.0, 220, "Long")


def run_until(player: Player, done, timeout: float = 10.0) -> tuple[list[PlayerEvent], list[str]]:
    """Poll like the app's main loop until ``done(player)``; return the events and the states seen."""
    events, states = [], [player.state]
    deadline = time.monotonic() + timeout
    while not done(player):
        assert time.monotonic() < deadline, f"timed out; events so far: {events}"
        events += player.poll()
        if player.state != states[-1]:
            states.append(player.state)
        time.sleep(0.02)
    return events, states


def lines(events: list[PlayerEvent]) -> list[str]:
    """The events as the user reads them."""
    return [str(e) for e in events]


def ended(player: Player) -> bool:
    return player.state == "ended"


def test_plays_the_queue_in_order_then_ends(tones):
    player = Player(tones, aout="dummy")
    assert player.state == "stopped" and player.current is None
    player.play()
    assert player.current == tones[0]
    events, states = run_until(player, ended)
    assert lines(events) == [
        "playing Test Artist – A",
        "playing Test Artist – B",
        "playing Test Artist – C",
        "end of queue",
    ]
    assert states == ["playing", "ended"]
    assert player.current is None


def test_missing_empty_and_garbage_files_are_skipped_with_a_warning(tmp_path, tones):
    missing = Track(str(tmp_path / "gone.ogg"))
    (tmp_path / "empty.mp3").write_bytes(b"")
    (tmp_path / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(4000))
    queue = [missing, Track(str(tmp_path / "empty.mp3")), tones[0], Track(str(tmp_path / "noise.mp3")), tones[1]]
    player = Player(queue, aout="dummy")
    player.play()
    events, _ = run_until(player, ended)
    assert lines(events) == [
        f"skipped {tmp_path / 'gone.ogg'}: missing",
        f"skipped {tmp_path / 'empty.mp3'}: empty file",
        "playing Test Artist – A",
        f"skipped {tmp_path / 'noise.mp3'}: not playable audio",
        "playing Test Artist – B",
        "end of queue",
    ]


def test_a_playlist_of_only_missing_files_is_an_error(tmp_path):
    (tmp_path / "empty.flac").write_bytes(b"")
    queue = [Track(str(tmp_path / "a.mp3")), Track(str(tmp_path / "empty.flac"))]
    with pytest.raises(PlaybackError, match=r"^no playable tracks in calm \(a.mp3: missing; empty.flac: empty file\)$"):
        Player(queue, aout="dummy", name="calm")


def test_a_playlist_of_only_undecodable_files_is_an_error_once_tried(tmp_path):
    for name in ("x.mp3", "y.ogg"):
        (tmp_path / name).write_bytes(b"this is not audio at all " * 200)
    player = Player([Track(str(tmp_path / "x.mp3")), Track(str(tmp_path / "y.ogg"))], aout="dummy", name="sad")
    player.play()
    with pytest.raises(
        PlaybackError, match=r"^no playable tracks in sad \(x.mp3: not playable audio; y.ogg: not playable audio\)$"
    ):
        run_until(player, ended)


def test_next_and_previous(tones):
    player = Player(tones, aout="dummy")
    player.play()
    player.next()
    assert player.current == tones[1]
    assert player.up_next == [tones[2]]
    player.previous()
    assert player.current == tones[0]
    player.previous()  # at the first track: restart it
    assert player.current == tones[0]
    player.next(), player.next(), player.next()
    assert player.state == "ended"
    assert player.poll()[-1] == QueueEnded()


def test_pause_holds_the_position(long_tone):
    player = Player([long_tone], aout="dummy")
    player.play()
    run_until(player, lambda p: p.position > 0)
    player.pause_toggle()
    assert player.state == "paused"
    held = player.position
    time.sleep(1.2)
    assert player.position == held
    player.pause_toggle()
    assert player.state == "playing"
    run_until(player, lambda p: p.position > held)
    player.stop()
    assert player.state == "stopped"


def test_seek_moves_within_the_track_and_past_its_end_to_the_next(long_tone, tones):
    player = Player([long_tone, tones[0]], aout="dummy")
    player.play()
    run_until(player, lambda p: p.length is not None and abs(p.length - 20.0) < 0.1)
    player.seek(10)
    run_until(player, lambda p: p.position >= 9.5)
    player.seek(-30)
    run_until(player, lambda p: p.position < 5)
    player.seek(60)
    assert player.current == tones[0]


def test_volume_is_kept_within_0_to_100(tones):
    player = Player(tones, aout="dummy", volume=50)
    player.play()
    player.set_volume(player.volume + 5)
    assert player.volume == 55
    player.set_volume(250)
    assert player.volume == 100
    player.set_volume(-3)
    assert player.volume == 0


def test_repeat_one_replays_and_repeat_all_wraps(tones):
    player = Player(tones[:2], aout="dummy")
    assert player.toggle_repeat() == "all"
    player.play()
    assert player.up_next == [tones[1]]
    player.next()
    assert player.up_next == [tones[0]]
    player.next()
    assert player.current == tones[0] and player.state == "playing"
    assert player.toggle_repeat() == "one"
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(seen) < 2:
        seen += [str(e) for e in player.poll() if isinstance(e, Playing)]
        time.sleep(0.02)
    assert seen == ["playing Test Artist – A", "playing Test Artist – A"]
    assert player.toggle_repeat() == "off"


def test_shuffle_keeps_the_current_track_and_every_other_one(tmp_path):
    queue = [write_tone(tmp_path / f"t{i}.ogg", 1.0, 200 + 50 * i, f"T{i}") for i in range(8)]
    player = Player(queue, aout="dummy")
    player.play()
    player.next()
    assert player.toggle_shuffle() is True
    assert player.current == queue[1]
    assert sorted(t.title for t in player.up_next) == sorted(t.title for t in queue if t != queue[1])
    assert player.toggle_shuffle() is False
    assert player.current == queue[1] and player.up_next == queue[2:]


def test_aout_choice(monkeypatch):
    monkeypatch.setenv("MOODPLAYER_AOUT", "dummy")
    assert choose_aout(None) == "dummy"
    assert choose_aout("alsa") == "alsa"


@pytest.mark.parametrize("lib_path", ["/nonexistent/libvlc.so.5", "libm.so.6"])
def test_no_libvlc_is_a_one_line_playback_error(tmp_path, lib_path):
    """python-vlc exits the process on a bad PYTHON_VLC_LIB_PATH and fails late on a wrong library."""
    track = write_tone(tmp_path / "a.ogg", 1.0)
    code = (
        "from moodplayer.music.player import Player; from moodplayer.music.track import Track\n"
        "from moodplayer.errors import PlaybackError\n"
        f"try:\n    Player([Track({track.location!r})], aout='dummy')\n"
        "except PlaybackError as e:\n    print('PlaybackError:', e)\n"
    )
    env = {**os.environ, "PYTHON_VLC_LIB_PATH": lib_path, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert result.stdout.startswith("PlaybackError: libvlc not found; install libvlc5 and vlc-plugin-base")
    assert result.returncode == 0


def test_an_empty_queue_is_an_error():
    with pytest.raises(PlaybackError, match=r"^no playable tracks in chill \(it is empty\)$"):
        Player([], aout="dummy", name="chill")


def test_a_track_that_ends_between_polls_is_still_announced_with_its_own_length(tones):
    player = Player(tones, aout="dummy")
    player.play()
    time.sleep(2.0)  # A (1.5 s; about 1 s through the dummy output) ends before the first poll
    events, _ = run_until(player, lambda p: p.current != tones[0])
    assert events[0] == Playing(tones[0], events[0].length) and events[0].length == pytest.approx(1.5, abs=0.1)
    assert player.current == tones[1]
    player.close()


def test_an_untagged_track_gets_its_title_from_the_file_tags(tones):
    bare = Track(tones[0].location)  # as from an M3U list: a path and nothing else
    player = Player([bare], aout="dummy")
    player.play()
    events, _ = run_until(player, ended)
    assert isinstance(events[0], Playing) and str(events[0]) == "playing Test Artist – A"
    assert events[0].track.title == "A" and events[0].track.artist == "Test Artist"


def test_vlc_really_plays_sound_through_pulseaudio_at_the_volume_set(vmic, tmp_path):
    """libvlc's PulseAudio output into the virtual microphone's sink: the microphone hears the tone."""
    from moodplayer.voice.capture import record_voice

    player = Player([write_tone(tmp_path / "tone.ogg", 8.0, 440.0, "Tone")], aout="pulse")
    player.play()
    run_until(player, lambda p: p.position > 0)
    loud = record_voice(1.0, stop_on_silence=False)
    player.set_volume(20)
    time.sleep(0.5)  # let the new volume reach the sink
    quiet = record_voice(1.0, stop_on_silence=False)
    player.close()
    peak_hz = np.argmax(np.abs(np.fft.rfft(loud))) * 16_000 / loud.size
    assert abs(peak_hz - 440.0) < 5.0

    def rms(x):
        return float(np.sqrt(np.mean(x**2)))

    assert rms(loud) > 0.05
    assert rms(quiet) < rms(loud) / 4


def test_without_any_audio_output_it_plays_silently_and_says_so(tones, tmp_path, monkeypatch):
    from moodplayer.music.player import audio_output_available

    for name in ("PULSE_SERVER", "MOODPLAYER_AOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no sound server sockets here
    monkeypatch.setenv("HOME", str(tmp_path))
    if audio_output_available():
        pytest.skip("this machine has a sound card")
    player = Player(tones[:1])
    assert player.aout == "dummy"
    assert player.poll() == [PlayingSilently()]
    monkeypatch.setenv("PULSE_SERVER", "unix:/run/somewhere/native")
    assert audio_output_available() and choose_aout(None) is None
    player.close()


def test_players_share_the_process_libvlc_instance_which_outlives_them(tones):
    """One libvlc instance per audio output: closing a player releases only the player."""
    first = Player(tones[:1], aout="dummy")
    first.close()
    second = Player(tones[1:2], aout="dummy")
    assert libvlc_instance(load_vlc(), "dummy") is second._instance is first._instance
    second.play()
    events, _ = run_until(second, ended)
    assert lines(events) == ["playing Test Artist – B", "end of queue"]
    second.close()
