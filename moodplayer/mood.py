"""From a detected emotion to what to play.

Two strategies:

- ``match`` plays the playlist mapped to the detected emotion: music that fits
  the mood.
- ``uplift`` starts there too, then steps through the moods of rising valence
  on the circumplex (see :mod:`moodplayer.emotions`) toward the most pleasant
  one, a few tracks from each: from ``sad`` it goes ``sad → neutral → calm →
  happy``. Moods with no playlist mapped are stepped over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from moodplayer.emotions import CIRCUMPLEX, EMOTIONS
from moodplayer.errors import LibraryError
from moodplayer.music.track import Track

STRATEGIES = ("match", "uplift")
TRACKS_PER_UPLIFT_STEP = 2
#: A track belongs to its nearest mood, and also to any mood whose point is at most this much
#: further away (valence/arousal units, the plane spanning -1..1): a near-tie, music between moods.
TIE_MARGIN = 0.1


@dataclass
class PlayPlan:
    """The queue to play, and the playlists it came from, in order."""

    emotion: str
    strategy: str
    playlists: list[str] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)

    @property
    def playlist(self) -> str:
        """The playlist the plan starts from (recorded in the listening history)."""
        return self.playlists[0]


def nearest_moods(
    valence: float, arousal: float, points: Mapping[str, tuple[float, float]], margin: float = TIE_MARGIN
) -> list[tuple[str, float]]:
    """(mood, distance) for the mood nearest the point and any within ``margin`` of it, closest first."""
    ranked = sorted((math.hypot(valence - v, arousal - a), mood) for mood, (v, a) in points.items())
    return [(mood, distance) for distance, mood in ranked if distance <= ranked[0][0] + margin]


def uplift_path(emotion: str) -> list[str]:
    """The detected emotion, then every emotion of higher valence, least pleasant first."""
    start = CIRCUMPLEX[emotion][0]
    higher = [e for e in EMOTIONS if CIRCUMPLEX[e][0] > start]
    return [emotion, *sorted(higher, key=lambda e: CIRCUMPLEX[e][0])]


def plan(lib, emotion: str, strategy: str = "match") -> PlayPlan:
    """Build the queue for ``emotion`` from the library's mood→playlist map."""
    if strategy not in STRATEGIES:
        raise LibraryError(f"unknown strategy {strategy!r}; expected one of: {', '.join(STRATEGIES)}")
    mapped = lib.mood_map()
    if not mapped.get(emotion):
        raise LibraryError(
            f"no playlist is mapped to the mood '{emotion}'; map one with: moodplayer moods --set {emotion} PLAYLIST"
        )
    result = PlayPlan(emotion=emotion, strategy=strategy)
    steps = [emotion] if strategy == "match" else uplift_path(emotion)
    for step in steps:
        for name in mapped.get(step, []):
            tracks = lib.tracks(name)
            if strategy == "uplift" and step != steps[-1]:
                tracks = tracks[:TRACKS_PER_UPLIFT_STEP]
            if tracks:
                result.playlists.append(name)
                result.tracks.extend(tracks)
    if not result.tracks:
        raise LibraryError(
            f"the playlists mapped to '{emotion}' hold no tracks; add some with: moodplayer playlist add"
        )
    return result
