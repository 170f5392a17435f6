"""A playable track, as the library stores it and the player plays it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
        return self.location.startswith(("http://", "https://"))

    @property
    def display_title(self) -> str:
        if self.title:
            return f"{self.artist} – {self.title}" if self.artist else self.title
        return self.location if self.is_stream else Path(self.location).name
