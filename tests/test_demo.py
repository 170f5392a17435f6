"""The demo music moodplayer synthesises for itself, and the mood strategies."""

from __future__ import annotations

import mutagen
import numpy as np
import pytest

from moodplayer import demo, mood
from moodplayer.emotions import EMOTIONS, valence_arousal
from moodplayer.voice.audio import load_audio


def test_every_emotion_gets_two_tagged_playable_tracks():
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
