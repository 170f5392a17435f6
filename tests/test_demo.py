"""The demo music moodplayer synthesises for itself, and the mood strategies."""

from __future__ import annotations

import shutil

import mutagen
import numpy as np
import pytest

from moodplayer import demo, mood
from moodplayer.emotions import EMOTIONS, valence_arousal
from moodplayer.errors import LibraryError
from moodplayer.music.library import Library
from moodplayer.voice.audio import load_audio


def test_every_emotion_gets_two_tagged_playable_tracks(isolated_home):
    shutil.rmtree(isolated_home / "demo-music")  # the tests' homes hold it rendered already
    files = demo.render_missing()
    assert sorted(files) == sorted(EMOTIONS)
    for tracks in files.values():
        assert len(tracks) == 2
        for path in tracks:
            tags = mutagen.File(path)
            assert tags["artist"] == ["The moodplayer Synths"]
            assert 10 < tags.info.length < 40
            samples = load_audio(path)
            assert np.abs(samples).max() > 0.1


def test_rendering_is_skipped_when_tracks_exist():
    first = demo.render_missing()
    path = first["happy"][0]
    stamp = path.stat().st_mtime_ns
    demo.render_missing()
    assert path.stat().st_mtime_ns == stamp


def test_happy_demo_is_faster_and_brighter_than_sad():
    defs = {t["title"]: t for t in demo.load_definitions()["tracks"]}
    happy, sad = demo.synthesise(defs["Sunny Steps"]), demo.synthesise(defs["Grey Window"])
    spectrum = lambda x: np.abs(np.fft.rfft(x[: demo.RATE * 8]))  # noqa: E731
    freqs = np.fft.rfftfreq(demo.RATE * 8, 1 / demo.RATE)
    centroid = lambda x: float((spectrum(x) * freqs).sum() / spectrum(x).sum())  # noqa: E731
    assert centroid(happy) > 1.5 * centroid(sad)


def test_uplift_climbs_toward_pleasant_moods():
    path = mood.uplift_path("sad")
    assert path[0] == "sad" and path[-1] == "happy"
    valences = [valence_arousal({e: 1.0})[0] for e in path]
    assert valences == sorted(valences)
    assert mood.uplift_path("happy") == ["happy"]


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_uplift_path_covers_every_emotion(emotion):
    assert mood.uplift_path(emotion)[0] == emotion


@pytest.fixture
def demo_library():
    with Library.open() as lib:
        demo.ensure_demo_library(lib)
        yield lib


def test_match_plays_the_moods_playlist(demo_library):
    plan = mood.plan(demo_library, "calm")
    assert plan.playlists == ["demo-calm"] and plan.tracks == demo_library.tracks("demo-calm")


def test_uplift_plans_a_few_tracks_per_step_then_the_most_pleasant_mood_whole(demo_library):
    plan = mood.plan(demo_library, "sad", "uplift")
    assert plan.playlists == [f"demo-{e}" for e in mood.uplift_path("sad")]
    steps = len(plan.playlists) - 1
    assert plan.tracks[-2:] == demo_library.tracks("demo-happy")
    assert len(plan.tracks) == steps * mood.TRACKS_PER_UPLIFT_STEP + 2


def test_a_mood_with_nothing_mapped_or_an_unknown_strategy_says_what_to_do(demo_library):
    demo_library.unmap_mood("angry")
    with pytest.raises(LibraryError, match="moodplayer moods --set angry PLAYLIST"):
        mood.plan(demo_library, "angry")
    with pytest.raises(LibraryError, match="unknown strategy 'sideways'"):
        mood.plan(demo_library, "happy", "sideways")
