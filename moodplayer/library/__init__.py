"""The music library (SQLite via sqlite-utils): tracks, playlists, the mood map, history.

``Library.open()`` is the entry point; see :mod:`moodplayer.library.library`.
"""

from moodplayer.library.library import Entry, Library

__all__ = ["Entry", "Library"]
