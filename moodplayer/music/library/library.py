"""The music library: playlists of tracks, the mood→playlist map and listening history.

:class:`Library` is the only code that knows the schema. It never prints,
never decides what to play and never reads tags (a scan describes what it
stores: :func:`moodplayer.music.scan.describe`); the CLI shows what it returns,
:mod:`moodplayer.mood` and :mod:`moodplayer.music.autoplaylists` choose from it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from moodplayer.emotions import EMOTIONS, parse_emotion
from moodplayer.errors import LibraryError
from moodplayer.files import utc_now
from moodplayer.music.library import database, schema
from moodplayer.music.library.database import guarded, write
from moodplayer.music.track import Track
from moodplayer.text import is_plain

log = logging.getLogger(__name__)

TRACK_COLUMNS = "t.id, t.location, t.title, t.artist, t.album, t.duration, t.valence, t.arousal, t.missing"
#: Columns `library scan` fills; see :func:`moodplayer.music.scan.examine`.
SCAN_COLUMNS = (
    "location",
    "title",
    "artist",
    "album",
    "duration",
    "size",
    "mtime",
    "tempo",
    "energy",
    "brightness",
    "mode",
    "valence",
    "arousal",
    "analysed_at",
    "analysis_version",
)
#: The longest playlist name.
MAX_NAME = 200


class KnownFile(NamedTuple):
    """What the library last learned about a local file, to tell whether it changed."""

    size: int | None
    mtime: float | None
    analysis_version: str | None  # the features and model of its mood estimate; None when never analysed
    missing: bool


@dataclass(frozen=True)
class Entry:
    """One line of a playlist: its 1-based position, the track, and how it got there."""

    position: int
    track: Track
    missing: bool
    manual: bool


def stored(location: str) -> str | bytes:
    """A location as the database keeps it: text, or the file name's own bytes where they are
    not UTF-8 (Linux names are bytes; Python carries such a name with surrogate escapes, which
    SQLite cannot store as text). :func:`loaded` turns it back."""
    try:
        location.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(location)
    return location


def loaded(value: str | bytes) -> str:
    """A location as :func:`stored` kept it, back as the ``str`` Python names the file by."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _encodable(value):
    """Text SQLite can store (a tag read with surrogate escapes gets U+FFFD); other values as they are."""
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if isinstance(value, str) else value


class Library:
    """An open library database. Use :meth:`open` as a context manager."""

    def __init__(self, db, path: Path, timeout: float):
        self.db = db
        self.path = path
        self.timeout = timeout

    @classmethod
    def open(cls, path: str | Path | None = None, timeout: float = database.BUSY_TIMEOUT_S) -> Library:
        """Open (creating or upgrading) the library at ``path``, by default the user's."""
        from moodplayer import paths

        path = Path(path) if path is not None else paths.database_path()
        db = database.connect(path, timeout)
        lib = cls(db, path, timeout)
        try:
            with database.translated(path, timeout):
                schema.migrate(db)
        except BaseException:
            db.close()
            raise
        return lib

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Library]:
        """Group several calls into one transaction: all of their changes are kept, or none."""
        with database.translated(self.path, self.timeout), write(self.db):
            yield self

    # -- playlists -----------------------------------------------------------------

    @guarded
    def create_playlist(self, name: str) -> None:
        name = playlist_name(name)
        with write(self.db):
            if self._find_playlist(name) is not None:
                raise LibraryError(f"a playlist named '{name}' already exists")
            self.db["playlists"].insert({"name": name, "created_at": utc_now()})

    @guarded
    def delete_playlist(self, name: str) -> None:
        """Delete a playlist, its entries and its mood mappings; tracks stay in the library."""
        with write(self.db):
            pid = self._playlist_id(name)
            for table in ("playlist_entries", "mood_map", "playlist_exclusions"):
                self.db.execute(f"DELETE FROM {table} WHERE playlist_id = ?", [pid])
            self.db.execute("DELETE FROM playlists WHERE id = ?", [pid])

    @guarded
    def rename_playlist(self, old: str, new: str) -> None:
        new = playlist_name(new)
        with write(self.db):
            pid = self._playlist_id(old)
            other = self._find_playlist(new)
            if other is not None and other != pid:
                raise LibraryError(f"a playlist named '{new}' already exists")
            self.db.execute("UPDATE playlists SET name = ? WHERE id = ?", [new, pid])

    @guarded
    def playlists(self) -> list[dict]:
        """Every playlist with its track count, total known duration and mapped moods."""
        rows = self.db.execute(
            "SELECT p.id, p.name, COUNT(e.id), COALESCE(SUM(t.duration), 0) FROM playlists p "
            "LEFT JOIN playlist_entries e ON e.playlist_id = p.id "
            "LEFT JOIN tracks t ON t.id = e.track_id GROUP BY p.id ORDER BY p.name COLLATE NOCASE"
        ).fetchall()
        moods: dict[int, list[str]] = {}
        for emotion, pid in self.db.execute("SELECT emotion, playlist_id FROM mood_map"):
            moods.setdefault(pid, []).append(emotion)
        return [
            {
                "name": name,
                "tracks": count,
                "duration": round(duration, 3),
                "moods": sorted(moods.get(pid, []), key=EMOTIONS.index),
            }
            for pid, name, count, duration in rows
        ]

    @guarded
    def add_tracks(self, name: str, rows: Sequence[Mapping]) -> list[Track]:
        """Append described files or URLs (:func:`moodplayer.music.scan.describe`) to a playlist, in order;
        returns the tracks added. A file that does not exist is still added, flagged missing, so nothing
        a user asked for disappears silently."""
        with write(self.db):
            pid = self._playlist_id(name)
            position = self._last_position(pid)
            added = []
            for row in rows:
                track_id = self._upsert_track(row)
                self.db.execute(
                    "DELETE FROM playlist_exclusions WHERE playlist_id = ? AND track_id = ?", [pid, track_id]
                )
                position += 1
                self.db["playlist_entries"].insert(
                    {"playlist_id": pid, "track_id": track_id, "position": position, "manual": 1}
                )
                added.append(self._track(track_id))
        return added

    @guarded
    def entries(self, name: str) -> list[Entry]:
        """A playlist's entries in order, missing files included."""
        pid = self._playlist_id(name)
        rows = self.db.execute(
            f"SELECT e.position, e.manual, {TRACK_COLUMNS} FROM playlist_entries e "
            "JOIN tracks t ON t.id = e.track_id WHERE e.playlist_id = ? ORDER BY e.position",
            [pid],
        ).fetchall()
        return [
            Entry(position=row[0], manual=bool(row[1]), track=_track(row[2:]), missing=bool(row[-1])) for row in rows
        ]

    def tracks(self, name: str) -> list[Track]:
        """A playlist's tracks in playlist order."""
        return [entry.track for entry in self.entries(name)]

    @guarded
    def remove_entries(self, name: str, positions: Iterable[int]) -> int:
        """Remove the entries at these 1-based positions; returns how many went.

        A removal is remembered, so `library autoplaylists` never puts the
        track back into this playlist (until the user adds it again).
        """
        with write(self.db):
            pid = self._playlist_id(name)
            wanted = sorted(set(positions))
            size = self._last_position(pid)
            bad = [p for p in wanted if not 1 <= p <= size]
            if bad:
                raise LibraryError(f"'{name}' has no position {bad[0]} ({_positions(size)})")
            for position in wanted:
                self.db.execute(
                    "INSERT OR IGNORE INTO playlist_exclusions (playlist_id, track_id) SELECT playlist_id, "
                    "track_id FROM playlist_entries WHERE playlist_id = ? AND position = ?",
                    [pid, position],
                )
                self.db.execute("DELETE FROM playlist_entries WHERE playlist_id = ? AND position = ?", [pid, position])
            self._renumber(pid)
        return len(wanted)

    @guarded
    def move_entry(self, name: str, source: int, target: int) -> None:
        """Move the entry at 1-based ``source`` so that it ends up at ``target``."""
        with write(self.db):
            pid = self._playlist_id(name)
            size = self._last_position(pid)
            for position in (source, target):
                if not 1 <= position <= size:
                    raise LibraryError(f"'{name}' has no position {position} ({_positions(size)})")
            ids = [
                r[0]
                for r in self.db.execute(
                    "SELECT id FROM playlist_entries WHERE playlist_id = ? ORDER BY position", [pid]
                )
            ]
            ids.insert(target - 1, ids.pop(source - 1))
            self._write_order(ids)

    # -- scanning ------------------------------------------------------------------

    @guarded
    def library_tracks(self, query: str | None = None) -> list[tuple[Track, bool]]:
        """Every track with its missing flag, by artist, album and title.

        ``query`` keeps the tracks whose artist, title, album or location
        contains it, ignoring case (Unicode-aware, unlike SQLite's LIKE).
        """
        rows = self.db.execute(
            f"SELECT {TRACK_COLUMNS} FROM tracks t ORDER BY t.artist IS NULL, t.artist COLLATE NOCASE, "
            "t.album COLLATE NOCASE, t.title COLLATE NOCASE, t.location"
        ).fetchall()
        needle = (query or "").casefold()
        return [
            (_track(row), bool(row[-1]))
            for row in rows
            if needle in " ".join(str(field) for field in row[1:5] if field).casefold()
        ]

    @guarded
    def known_files(self) -> dict[str, KnownFile]:
        """Every local track's location → what is known of its file, for incremental scans."""
        return {
            loaded(location): KnownFile(size, mtime, version, bool(missing))
            for location, size, mtime, version, missing in self.db.execute(
                "SELECT location, size, mtime, analysis_version, missing FROM tracks "
                "WHERE location NOT LIKE 'http://%' AND location NOT LIKE 'https://%'"
            )
        }

    @guarded
    def store_scanned(self, rows: Sequence[Mapping]) -> None:
        """Insert or refresh scanned files (one transaction): tags, size, mtime, analysis.

        A field the scan did not learn (``None``) keeps its stored value, so a
        tags-only scan never erases an earlier analysis.
        """
        columns = ", ".join(SCAN_COLUMNS)
        marks = ", ".join("?" * len(SCAN_COLUMNS))
        updates = ", ".join(f"{c} = COALESCE(excluded.{c}, {c})" for c in SCAN_COLUMNS[1:])
        with write(self.db):
            self.db.conn.executemany(
                f"INSERT INTO tracks ({columns}, missing, added_at) VALUES ({marks}, 0, ?) "
                f"ON CONFLICT (location) DO UPDATE SET {updates}, missing = 0",
                [
                    [stored(row["location"]), *(_encodable(row.get(c)) for c in SCAN_COLUMNS[1:]), utc_now()]
                    for row in rows
                ],
            )

    @guarded
    def set_missing(self, locations: Iterable[str], missing: bool = True) -> None:
        """Flag tracks whose files vanished (or came back); playlists keep them either way."""
        with write(self.db):
            self.db.conn.executemany(
                "UPDATE tracks SET missing = ? WHERE location = ?", [(int(missing), stored(loc)) for loc in locations]
            )

    @guarded
    def check_missing(self) -> list[Track]:
        """Re-check every local file; update the flags and return the tracks now missing."""
        known = self.known_files()
        gone = {loc for loc in known if not os.path.exists(loc)}
        back = [loc for loc, info in known.items() if info.missing and loc not in gone]
        self.set_missing(gone, True)
        self.set_missing(back, False)
        return [self._track_at(loc) for loc in sorted(gone)]

    # -- automatic entries (see moodplayer.music.autoplaylists) ---------------------

    @guarded
    def analysed_points(self) -> list[tuple[int, float, float]]:
        """(track id, valence, arousal) of every analysed track whose file is present."""
        return self.db.execute(
            "SELECT id, valence, arousal FROM tracks WHERE valence IS NOT NULL AND missing = 0"
        ).fetchall()

    @guarded
    def replace_automatic_entries(
        self, name: str, ranked_ids: Sequence[int], size: int
    ) -> tuple[list[Track], list[Track]]:
        """Put the first ``size`` of ``ranked_ids`` (less the user's) in place of the last run's entries.

        Entries the user added stay where they are, and tracks the user removed
        are never put back. Returns the tracks added and those taken out.
        """
        with write(self.db):
            pid = self._playlist_id(name)
            kept = {
                r[0]
                for r in self.db.execute(
                    "SELECT track_id FROM playlist_entries WHERE playlist_id = ? AND manual = 1 "
                    "UNION SELECT track_id FROM playlist_exclusions WHERE playlist_id = ?",
                    [pid, pid],
                )
            }
            chosen = [tid for tid in ranked_ids if tid not in kept][:size]
            before = [
                r[0]
                for r in self.db.execute(
                    "SELECT track_id FROM playlist_entries WHERE playlist_id = ? AND manual = 0 ORDER BY position",
                    [pid],
                )
            ]
            self.db.execute("DELETE FROM playlist_entries WHERE playlist_id = ? AND manual = 0", [pid])
            self._renumber(pid)
            start = self._last_position(pid)
            self.db.conn.executemany(
                "INSERT INTO playlist_entries (playlist_id, track_id, position, manual) VALUES (?, ?, ?, 0)",
                [(pid, tid, start + n) for n, tid in enumerate(chosen, start=1)],
            )
            added = [self._track(t) for t in chosen if t not in before]
            return added, [self._track(t) for t in before if t not in chosen]

    # -- moods ---------------------------------------------------------------------

    @guarded
    def mood_points(self) -> dict[str, tuple[float, float]]:
        """Each mood's valence/arousal point for matching music: the user's, else the circumplex's."""
        from moodplayer.emotions import CIRCUMPLEX

        custom = {e: (v, a) for e, v, a in self.db.execute("SELECT emotion, valence, arousal FROM mood_points")}
        return {e: custom.get(e, CIRCUMPLEX[e]) for e in EMOTIONS}

    @guarded
    def set_mood_point(self, emotion: str, valence: float | None, arousal: float | None = None) -> None:
        """Move a mood's point (both in [-1, 1]); ``None`` puts it back at the circumplex default."""
        emotion = _emotion(emotion)
        with write(self.db):
            self.db.execute("DELETE FROM mood_points WHERE emotion = ?", [emotion])
            if valence is None:
                return
            if not (-1 <= valence <= 1 and arousal is not None and -1 <= arousal <= 1):
                raise LibraryError(f"valence and arousal must lie in [-1, 1] (got {valence}, {arousal})")
            self.db["mood_points"].insert({"emotion": emotion, "valence": valence, "arousal": arousal})

    @guarded
    def map_mood(self, emotion: str, playlist_name: str) -> None:
        """Add a playlist to what a mood plays (after those already mapped)."""
        emotion = _emotion(emotion)
        with write(self.db):
            pid = self._playlist_id(playlist_name)
            last = self.db.execute(
                "SELECT COALESCE(MAX(position), 0) FROM mood_map WHERE emotion = ?", [emotion]
            ).fetchone()[0]
            self.db.execute(
                "INSERT OR IGNORE INTO mood_map (emotion, playlist_id, position) VALUES (?, ?, ?)",
                [emotion, pid, last + 1],
            )

    @guarded
    def set_mood_playlists(self, emotion: str, playlist_names: Sequence[str]) -> None:
        """Make a mood play exactly these playlists, in this order (all or nothing)."""
        with write(self.db):
            self.unmap_mood(emotion)
            for name in playlist_names:
                self.map_mood(emotion, name)

    @guarded
    def unmap_mood(self, emotion: str, playlist_name: str | None = None) -> None:
        """Stop a mood playing one playlist, or any when ``playlist_name`` is None."""
        emotion = _emotion(emotion)
        with write(self.db):
            if playlist_name is None:
                self.db.execute("DELETE FROM mood_map WHERE emotion = ?", [emotion])
            else:
                pid = self._playlist_id(playlist_name)
                self.db.execute("DELETE FROM mood_map WHERE emotion = ? AND playlist_id = ?", [emotion, pid])

    @guarded
    def mood_map(self) -> dict[str, list[str]]:
        """Each mapped emotion → its playlists, in the order they play."""
        mapping: dict[str, list[str]] = {}
        for emotion, name in self.db.execute(
            "SELECT m.emotion, p.name FROM mood_map m JOIN playlists p ON p.id = m.playlist_id "
            "ORDER BY m.emotion, m.position"
        ):
            mapping.setdefault(emotion, []).append(name)
        return {e: mapping[e] for e in EMOTIONS if e in mapping}

    @guarded
    def resolve(self, name_or_mood: str) -> str:
        """The playlist a user means: a mood's first mapped playlist, else a playlist by name."""
        key = name_or_mood.strip().lower()
        mapped = self.mood_map().get(key)
        if mapped:
            return mapped[0]
        row = self.db.execute("SELECT name FROM playlists WHERE name = ?", [name_or_mood.strip()]).fetchone()
        if row:
            return row[0]
        if key in EMOTIONS:
            raise LibraryError(
                f"no playlist is mapped to the mood '{key}'; map one with: moodplayer moods --set {key} PLAYLIST"
            )
        raise LibraryError(f"unknown mood or playlist '{name_or_mood}'")

    # -- history -------------------------------------------------------------------

    @guarded
    def record_detection(
        self,
        emotion: str,
        probabilities: Mapping[str, float],
        valence: float | None,
        arousal: float | None,
        strategy: str | None,
        playlist: str | None,
        source: str | None,
    ) -> int:
        """Log one detection and what it led to play; returns the history row id."""
        row = {
            "at": utc_now(),
            "emotion": emotion,
            "probabilities": json.dumps({k: round(float(v), 6) for k, v in probabilities.items()}),
            "valence": valence,
            "arousal": arousal,
            "strategy": strategy,
            "playlist": playlist,
            "source": stored(source) if source else source,
        }
        with write(self.db):
            return self.db["history"].insert(row).last_pk

    @guarded
    def set_feedback(self, history_id: int, correct_emotion: str) -> None:
        """Record what the emotion really was, for a detection the user corrects."""
        emotion = _emotion(correct_emotion)
        with write(self.db):
            cursor = self.db.execute("UPDATE history SET feedback = ? WHERE id = ?", [emotion, history_id])
            if cursor.rowcount == 0:
                raise LibraryError(f"no history entry {history_id}")

    @guarded
    def history(self, limit: int = 50) -> list[dict]:
        """The latest detections, newest first."""
        rows = self.db.query("SELECT * FROM history ORDER BY id DESC LIMIT ?", [limit])
        return [entry for row in rows if (entry := _history_entry(row)) is not None]

    # -- internals -----------------------------------------------------------------

    def _playlist_id(self, name: str) -> int:
        pid = self._find_playlist(name)
        if pid is None:
            raise LibraryError(f"no playlist named '{name}'; create it with: moodplayer playlist create '{name}'")
        return pid

    def _find_playlist(self, name: str) -> int | None:
        row = self.db.execute("SELECT id FROM playlists WHERE name = ?", [name.strip()]).fetchone()
        return row[0] if row else None

    def _last_position(self, pid: int) -> int:
        return self.db.execute(
            "SELECT COALESCE(MAX(position), 0) FROM playlist_entries WHERE playlist_id = ?", [pid]
        ).fetchone()[0]

    def _renumber(self, pid: int) -> None:
        ids = [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM playlist_entries WHERE playlist_id = ? ORDER BY position, id", [pid]
            )
        ]
        self._write_order(ids)

    def _write_order(self, entry_ids: list[int]) -> None:
        self.db.conn.executemany(
            "UPDATE playlist_entries SET position = ? WHERE id = ?",
            [(position, entry_id) for position, entry_id in enumerate(entry_ids, start=1)],
        )

    def _upsert_track(self, row: Mapping) -> int:
        """The id of the track at ``row['location']``, created or refreshed from ``row``."""
        row = {k: _encodable(v) for k, v in row.items()} | {"location": stored(row["location"])}
        existing = self.db.execute("SELECT id FROM tracks WHERE location = ?", [row["location"]]).fetchone()
        if existing is None:
            return self.db["tracks"].insert({**row, "added_at": utc_now()}).last_pk
        known = {k: v for k, v in row.items() if v is not None}
        self.db["tracks"].update(existing[0], known)
        return existing[0]

    def _track_at(self, location: str) -> Track:
        row = self.db.execute(
            f"SELECT {TRACK_COLUMNS} FROM tracks t WHERE t.location = ?", [stored(location)]
        ).fetchone()
        return _track(row)

    def _track(self, track_id: int) -> Track:
        row = self.db.execute(f"SELECT {TRACK_COLUMNS} FROM tracks t WHERE t.id = ?", [track_id]).fetchone()
        return _track(row)


def _history_entry(row: dict) -> dict | None:
    """A history row as shown, or ``None`` (with a warning naming it) when it is damaged: one
    bad row must not take the whole history with it."""
    try:
        probabilities = json.loads(row["probabilities"] or "{}")
        if not isinstance(probabilities, dict) or not all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in probabilities.values()
        ):
            raise ValueError("its probabilities are not numbers")
        for column in ("valence", "arousal"):
            if row[column] is not None and not isinstance(row[column], (int, float)):
                raise ValueError(f"its {column} is not a number")
        if not (isinstance(row["at"], str) and isinstance(row["emotion"], str)):
            raise ValueError("its time or emotion is not text")
        datetime.fromisoformat(row["at"])
    except (ValueError, TypeError) as exc:
        log.warning(f"history entry {row['id']} is damaged ({exc}); left out")
        return None
    source = row["source"]
    return {**row, "probabilities": probabilities, "source": loaded(source) if source is not None else None}


def _track(row: Sequence) -> Track:
    track_id, location, title, artist, album, duration, valence, arousal = row[:8]
    return Track(
        location=loaded(location),
        title=title,
        artist=artist,
        album=album,
        duration=duration,
        id=track_id,
        valence=valence,
        arousal=arousal,
    )


def playlist_name(name: str) -> str:
    """A playlist name as given, checked: not empty, one line of printable text, not too long."""
    name = name.strip()
    if not name:
        raise LibraryError("a playlist needs a name")
    if not is_plain(name):
        raise LibraryError(f"a playlist name cannot hold control characters or bytes that are not UTF-8: {name!r}")
    if len(name) > MAX_NAME:
        raise LibraryError(f"a playlist name is at most {MAX_NAME} characters long")
    return name


def _positions(size: int) -> str:
    """A playlist's positions in words, for the error that names one it lacks."""
    return f"its positions run from 1 to {size}" if size > 1 else ("its one entry is at 1" if size else "it is empty")


def _emotion(name: str) -> str:
    try:
        return parse_emotion(name)
    except ValueError as exc:
        raise LibraryError(str(exc)) from None
