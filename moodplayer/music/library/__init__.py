"""The music library (SQLite via sqlite-utils): tracks, playlists, the mood map, history.

``Library.open()`` is the entry point; see :mod:`moodplayer.music.library.library`.
"""

from moodplayer.music.library.library import Entry, Library

__all__ = ["Entry", "Library"]
