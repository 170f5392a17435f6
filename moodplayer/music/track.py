"""A playable track, as the library stores it and the player plays it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")


def is_url(location: str) -> bool:
    """Whether a location is an http(s) stream rather than a file (the scheme in any case)."""
    return location.lower().startswith(("http://", "https://"))


def is_windows_path(location: str) -> bool:
    """Whether a location is a Windows absolute path (``C:\\…`` or ``C:/…``), as foreign playlists hold."""
    return bool(_WINDOWS_PATH.match(location))


@dataclass(frozen=True)
class Track:
    """One entry of the music library.

    ``location`` is an absolute file path or an http(s) URL. Tags may be
    missing; :attr:`display_title` always gives something to show.
    """

    location: str
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    duration: float | None = None  # seconds
    id: int | None = None
    valence: float | None = None
    arousal: float | None = None

    @property
    def is_stream(self) -> bool:
        return is_url(self.location)

    @property
    def display_title(self) -> str:
        """Artist and title, else the file's name: safe to print (:func:`moodplayer.text.shown`)."""
        from moodplayer.text import shown

        if self.title:
            return shown(f"{self.artist} – {self.title}" if self.artist else self.title)
        return shown(self.location if self.is_stream else Path(self.location).name)
