"""Demo content: music moodplayer makes for itself, so it plays something on first run.

``playlists/demo.json`` describes sixteen short pieces, two per emotion, by key,
mode, tempo, chord progression, brightness and drum energy. :func:`ensure_demo_library`
renders any that are missing into ``<home>/demo-music`` (Ogg Vorbis, tagged) and,
on a library with no playlists yet, creates one playlist per emotion and maps the
emotion to it. Rendering is deterministic and takes about a second.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from moodplayer import paths
from moodplayer.music.scan import describe

DEFINITIONS = paths.shipped_asset("playlists/demo.json")
SAMPLE_VOICE = paths.BUNDLED_DATA_DIR / "sample-voice.flac"
RATE = 22_050
BARS = 8  # four chords, played twice
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


def load_definitions() -> dict:
    return json.loads(DEFINITIONS.read_text(encoding="utf-8"))


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def playlist_name(emotion: str) -> str:
    return f"demo-{emotion}"


def demo_music_dir() -> Path:
    path = paths.home() / "demo-music"
    path.mkdir(parents=True, exist_ok=True)
    return path


def render_missing() -> dict[str, list[Path]]:
    """Synthesise the demo tracks not yet on disk; return the files per emotion."""
    spec = load_definitions()
    by_mood: dict[str, list[Path]] = {}
    for number, track in enumerate(spec["tracks"], start=1):
        target = demo_music_dir() / f"{number:02d}-{slug(track['title'])}.ogg"
        if not target.exists() or target.stat().st_size == 0:
            write_tagged_ogg(target, synthesise(track), track, spec, number)
        by_mood.setdefault(track["mood"], []).append(target)
    return by_mood


def ensure_demo_library(lib) -> bool:
    """On a library with no playlists yet, load the demo playlists; True if it did."""
    files = render_missing()
    if lib.playlists():
        return False
    for emotion, tracks in files.items():
        name = playlist_name(emotion)
        lib.create_playlist(name)
        lib.add_tracks(name, describe([str(p) for p in tracks]))
        lib.map_mood(emotion, name)
    return True


def write_tagged_ogg(target: Path, samples: np.ndarray, track: dict, spec: dict, number: int) -> None:
    """Write atomically (temp file, rename), tagged so the player shows real titles."""
    import soundfile as sf
    from mutagen.oggvorbis import OggVorbis

    tmp = target.with_name(f".{target.name}.tmp")
    sf.write(str(tmp), samples, RATE, format="OGG", subtype="VORBIS")
    tags = OggVorbis(str(tmp))
    tags.update(
        title=track["title"],
        artist=spec["artist"],
        album=spec["album"],
        tracknumber=str(number),
        genre=f"demo ({track['mood']})",
        license="CC0-1.0",
    )
    tags.save()
    os.replace(tmp, target)


def synthesise(track: dict) -> np.ndarray:
    """A few bars of pad, bass and drums in the track's key, mode and tempo."""
    beat = 60.0 / track["bpm"]
    bar_len = int(4 * beat * RATE)
    scale = MAJOR if track["mode"] == "major" else MINOR
    bars = [chord_bar(degree, scale, track, bar_len) for degree in track["progression"] * (BARS // 4)]
    music = np.concatenate(bars)
    if track["drums"] > 0:
        music += track["drums"] * drum_track(music.size, beat)
    fade = np.minimum(1.0, np.minimum(np.arange(music.size), music.size - np.arange(music.size)) / (0.5 * RATE))
    music *= fade
    return (0.7 * music / (np.abs(music).max() + 1e-9)).astype(np.float32)


def chord_bar(degree: int, scale: tuple[int, ...], track: dict, length: int) -> np.ndarray:
    root = 48 + track["key"] + scale[(degree - 1) % 7]  # MIDI note, around C3
    triad = [root + scale_step(scale, degree, step) for step in (0, 2, 4)]
    t = np.arange(length) / RATE
    pad = sum(voice(midi + 12, t, track["brightness"]) for midi in triad) / 3
    beats = 4
    pluck = np.exp(-6.0 * ((t * beats / (length / RATE)) % 1.0))
    bass = voice(root - 12, t, 0.2) * pluck
    return 0.6 * pad + 0.5 * bass


def scale_step(scale: tuple[int, ...], degree: int, step: int) -> int:
    """Semitones from a chord's root to the note ``step`` scale steps above it."""
    start = degree - 1
    above = scale[(start + step) % 7] - scale[start % 7]
    return above + (12 if above < 0 else 0)


def voice(midi: int, t: np.ndarray, brightness: float) -> np.ndarray:
    """A tone whose upper harmonics grow with brightness (a dull pad to a buzzy lead)."""
    freq = 440.0 * 2 ** ((midi - 69) / 12)
    tone = np.sin(2 * np.pi * freq * t)
    for k in range(2, 2 + int(brightness * 7)):
        tone += np.sqrt(brightness) / k * np.sin(2 * np.pi * k * freq * t)
    return tone


def drum_track(length: int, beat: float) -> np.ndarray:
    """Kick on every beat, hi-hat on the off-beats."""
    rng = np.random.default_rng(0)
    drums = np.zeros(length)
    kick_t = np.arange(int(0.15 * RATE)) / RATE
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 20)
    hat = rng.normal(0, 1, int(0.04 * RATE)) * np.exp(-np.arange(int(0.04 * RATE)) / (0.01 * RATE)) * 0.25
    step = int(beat * RATE)
    for start in range(0, length, step):
        add_at(drums, kick, start)
        add_at(drums, hat, start + step // 2)
    return drums


def add_at(buffer: np.ndarray, sound: np.ndarray, start: int) -> None:
    end = min(buffer.size, start + sound.size)
    if start < end:
        buffer[start:end] += sound[: end - start]
