"""The library's schema, built and upgraded in place by ``PRAGMA user_version``.

Each entry of :data:`MIGRATIONS` takes a database from version *n* to *n + 1*
and runs in the same immediate transaction as the version bump, so an upgrade
interrupted at any point leaves the previous version intact. Migrations only
ever add: a user's old library is upgraded, never rebuilt.
"""

from __future__ import annotations

from moodplayer.errors import LibraryError
from moodplayer.music.library.database import write


def _v1_core(db) -> None:
    """Tracks, playlists with ordered entries, the mood map and listening history."""
    db["tracks"].create(
        {
            "id": int,
            "location": str,
            "title": str,
            "artist": str,
            "album": str,
            "duration": float,
            "missing": int,
            "added_at": str,
        },
        pk="id",
        not_null={"location", "missing"},
        defaults={"missing": 0},
    )
    db["tracks"].create_index(["location"], unique=True)
    db.execute(
        "CREATE TABLE playlists (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE, created_at TEXT)"
    )
    db["playlist_entries"].create(
        {"id": int, "playlist_id": int, "track_id": int, "position": int, "manual": int},
        pk="id",
        not_null={"playlist_id", "track_id", "position", "manual"},
        defaults={"manual": 1},
        foreign_keys=[("playlist_id", "playlists", "id"), ("track_id", "tracks", "id")],
    )
    db["playlist_entries"].create_index(["playlist_id", "position"])
    db["playlist_entries"].create_index(["track_id"])
    db["mood_map"].create(
        {"emotion": str, "playlist_id": int, "position": int},
        pk=("emotion", "playlist_id"),
        not_null={"position"},
        foreign_keys=[("playlist_id", "playlists", "id")],
    )
    db["history"].create(
        {
            "id": int,
            "at": str,
            "emotion": str,
            "probabilities": str,
            "valence": float,
            "arousal": float,
            "strategy": str,
            "playlist": str,
            "source": str,
            "feedback": str,
        },
        pk="id",
        not_null={"at", "emotion"},
    )


def _v2_scanning(db) -> None:
    """What `library scan` learns about a file, and the tracks a user took out of a playlist.

    ``size`` and ``mtime`` make re-scans incremental; the analysis columns
    place a track on the valence/arousal plane for autoplaylists, which must
    not put back what a user removed (``playlist_exclusions``).
    """
    for column, kind in (
        ("size", int),
        ("mtime", float),
        ("tempo", float),
        ("energy", float),
        ("brightness", float),
        ("mode", str),
        ("valence", float),
        ("arousal", float),
        ("analysed_at", str),
    ):
        db["tracks"].add_column(column, kind)
    db["playlist_exclusions"].create(
        {"playlist_id": int, "track_id": int},
        pk=("playlist_id", "track_id"),
        foreign_keys=[("playlist_id", "playlists", "id"), ("track_id", "tracks", "id")],
    )


def _v3_mood_points(db) -> None:
    """A user's own valence/arousal point for a mood, where the default does not suit their music."""
    db["mood_points"].create(
        {"emotion": str, "valence": float, "arousal": float}, pk="emotion", not_null={"valence", "arousal"}
    )


def _v4_analysis_version(db) -> None:
    """Which feature extraction and music-mood model placed a track, so a new model re-analyses it."""
    db["tracks"].add_column("analysis_version", str)


MIGRATIONS = (_v1_core, _v2_scanning, _v3_mood_points, _v4_analysis_version)
VERSION = len(MIGRATIONS)


def migrate(db) -> int:
    """Bring ``db`` to :data:`VERSION`; returns the version it was at before."""
    found = user_version(db)
    path = db.execute("PRAGMA database_list").fetchone()[2]
    if found == 0 and db.table_names():
        raise LibraryError(
            f"{path} holds another program's SQLite tables, not a moodplayer library; it was left untouched"
        )
    if found > VERSION:
        raise LibraryError(
            f"the library {path} was written by a newer moodplayer (schema {found}, this one knows {VERSION}); "
            "upgrade moodplayer"
        )
    for target in range(found + 1, VERSION + 1):
        with write(db):
            if user_version(db) >= target:  # another process upgraded it while we waited
                continue
            MIGRATIONS[target - 1](db)
            db.execute(f"PRAGMA user_version = {target}")
    return found


def user_version(db) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]
