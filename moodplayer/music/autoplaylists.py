"""Mood playlists filled from the analysis: which scanned tracks each mood's playlist gets.

The policy of ``library autoplaylists``, beside :mod:`moodplayer.mood` (which
plays what the playlists hold); :class:`~moodplayer.music.library.Library`
only stores the result, keeping what the user added or removed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import LibraryError
from moodplayer.mood import nearest_moods
from moodplayer.music.library import Library
from moodplayer.music.track import Track

#: How many tracks `library autoplaylists` puts in each mood playlist by default.
AUTOPLAYLIST_SIZE = 25
#: How far (valence/arousal units, the plane spanning -1..1) a track may lie from a mood's
#: point and still join its playlist. Every point of the plane lies within 0.74 of some
#: default mood point, so each analysed track fits at least one mood; none fits its opposite.
AUTOPLAYLIST_REACH = 1.0


@dataclass(frozen=True)
class AutoFill:
    """A mood playlist after `library autoplaylists`: its size, and the tracks the run added and took out."""

    playlist: str
    tracks: int
    added: list[Track]
    removed: list[Track]


def autoplaylists(lib: Library, size: int = AUTOPLAYLIST_SIZE) -> dict[str, AutoFill]:
    """Fill each mood's playlist with the analysed tracks that sit nearest its point.

    A track goes to the mood nearest it, and to another mood only when that
    one is nearly as near (:data:`moodplayer.mood.TIE_MARGIN`): two moods'
    playlists share only music that lies between them. Each mood takes up
    to ``size`` of its tracks within :data:`AUTOPLAYLIST_REACH`, closest
    first. A mood plays its first mapped playlist, or a playlist named after it
    (created and mapped when there is none). Only entries a previous run
    put there are replaced; tracks the user added stay where they are, and
    tracks the user removed are never put back. Returns, for each mood, its
    playlist's size and the tracks this run added and took out.
    """
    filled = {}
    targets = lib.mood_points()
    with lib.transaction():
        points = lib.analysed_points()
        if not points:
            raise LibraryError("no analysed tracks in the library yet; first run: moodplayer library scan FOLDER")
        candidates = _candidates(points, targets)
        for emotion in EMOTIONS:
            name = _mood_playlist(lib, emotion)
            added, removed = lib.replace_automatic_entries(name, candidates[emotion], size)
            filled[emotion] = AutoFill(playlist=name, tracks=len(lib.entries(name)), added=added, removed=removed)
    return filled


def _mood_playlist(lib: Library, emotion: str) -> str:
    """The playlist ``emotion`` plays first; one named after it, created and mapped, when there is none."""
    mapped = lib.mood_map().get(emotion)
    if mapped:
        return mapped[0]
    if emotion not in (p["name"] for p in lib.playlists()):
        lib.create_playlist(emotion)
    lib.map_mood(emotion, emotion)
    return emotion


def _candidates(
    points: Sequence[tuple[int, float, float]], targets: Mapping[str, tuple[float, float]]
) -> dict[str, list[int]]:
    """Each mood's (id, valence, arousal) points: those nearest it (or nearly), within reach, closest first."""
    ranked: dict[str, list[tuple[float, int]]] = {emotion: [] for emotion in targets}
    for tid, valence, arousal in points:
        for emotion, distance in nearest_moods(valence, arousal, targets):
            if distance <= AUTOPLAYLIST_REACH:
                ranked[emotion].append((distance, tid))
    return {emotion: [tid for _, tid in sorted(found)] for emotion, found in ranked.items()}
