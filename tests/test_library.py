"""The library on real SQLite files: playlists, tags, moods, history, locks, damage, concurrency."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from moodplayer import paths
from moodplayer.errors import LibraryError
from moodplayer.music.library import Library
from moodplayer.music.scan import describe

REPO = Path(__file__).resolve().parents[1]


def make_audio(path: Path, seconds: float = 1.0, **tags: str) -> Path:
    """A real audio file of any format ffmpeg writes, tagged with ``tags``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    extra = ["-write_id3v2", "1"] if path.suffix in (".aiff", ".aif") else []
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            *extra,
            *meta,
            str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture
def lib():
    with Library.open() as library:
        yield library


def test_open_creates_a_wal_database_with_foreign_keys_in_the_home(lib):
    assert lib.path == paths.database_path() and lib.path.exists()
    assert lib.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert lib.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert lib.db.execute("PRAGMA user_version").fetchone()[0] >= 1


@pytest.mark.parametrize("ext", ["mp3", "ogg", "flac", "opus", "m4a", "wma", "aiff", "wv", "wav"])
def test_add_tracks_reads_tags_of_each_format(lib, tmp_path, ext):
    path = make_audio(tmp_path / f"sång {ext}.{ext}", title=f"Tïtle {ext}", artist="Ärtist", album="Albüm")
    lib.create_playlist("mix")
    [track] = lib.add_tracks("mix", describe([str(path)]))
    assert (track.title, track.artist) == (f"Tïtle {ext}", "Ärtist")
    if ext != "aiff":  # ffmpeg writes no album frame into AIFF's ID3
        assert track.album == "Albüm"
    assert track.duration == pytest.approx(1.0, abs=0.1)
    assert lib.tracks("mix") == [track]


def test_playlists_keep_order_moves_removals_and_report_counts(lib, tmp_path):
    files = [make_audio(tmp_path / f"{n}.ogg", title=f"t{n}") for n in range(4)]
    lib.create_playlist("Road")
    lib.add_tracks("Road", describe([str(f) for f in files] + ["https://radio.example/live"]))
    lib.move_entry("Road", 5, 1)
    lib.remove_entries("Road", [3])
    titles = [t.title or t.location for t in lib.tracks("Road")]
    assert titles == ["https://radio.example/live", "t0", "t2", "t3"]
    assert [e.position for e in lib.entries("Road")] == [1, 2, 3, 4]
    [summary] = lib.playlists()
    assert summary["name"] == "Road" and summary["tracks"] == 4
    assert summary["duration"] == pytest.approx(3.0, abs=0.2)
    with pytest.raises(LibraryError, match=r"^'Road' has no position 7 \(its positions run from 1 to 4\)$"):
        lib.move_entry("Road", 7, 1)
    lib.create_playlist("Single")
    lib.add_tracks("Single", describe(["https://radio.example/live"]))
    with pytest.raises(LibraryError, match=r"no position 2 \(its one entry is at 1\)$"):
        lib.remove_entries("Single", [2])
    lib.create_playlist("Empty")
    with pytest.raises(LibraryError, match=r"no position 1 \(it is empty\)$"):
        lib.move_entry("Empty", 1, 1)


def test_a_file_that_does_not_exist_is_kept_and_flagged_missing(lib, tmp_path):
    lib.create_playlist("p")
    lib.add_tracks("p", describe([str(tmp_path / "gone.mp3")]))
    [entry] = lib.entries("p")
    assert entry.missing and entry.track.location == str(tmp_path / "gone.mp3")


def test_names_are_unique_ignoring_case_and_rename_keeps_mood_mappings(lib):
    lib.create_playlist("Chill")
    with pytest.raises(LibraryError, match="already exists"):
        lib.create_playlist("chill")
    lib.map_mood("calm", "CHILL")
    lib.rename_playlist("chill", "Relax")
    assert lib.mood_map() == {"calm": ["Relax"]}
    lib.delete_playlist("relax")
    assert lib.mood_map() == {} and lib.playlists() == []
    with pytest.raises(LibraryError, match="no playlist named 'Relax'"):
        lib.tracks("Relax")


def test_resolve_maps_moods_then_playlist_names_and_refuses_unknowns(lib):
    lib.create_playlist("Sunny")
    lib.create_playlist("Gloom")
    lib.set_mood_playlists("happy", ["Sunny", "Gloom"])
    assert lib.mood_map() == {"happy": ["Sunny", "Gloom"]}
    assert lib.resolve("Happy") == "Sunny"
    assert lib.resolve("gloom") == "Gloom"
    with pytest.raises(LibraryError, match="no playlist is mapped to the mood 'sad'"):
        lib.resolve("sad")
    with pytest.raises(LibraryError, match="unknown mood or playlist 'jazz'"):
        lib.resolve("jazz")
    with pytest.raises(LibraryError, match="unknown emotion"):
        lib.map_mood("bored", "Sunny")


def test_set_mood_playlists_is_all_or_nothing(lib):
    lib.create_playlist("Sunny")
    lib.map_mood("happy", "Sunny")
    with pytest.raises(LibraryError):
        lib.set_mood_playlists("happy", ["Nope"])
    assert lib.mood_map() == {"happy": ["Sunny"]}


def test_history_records_detections_and_feedback_newest_first(lib):
    first = lib.record_detection("sad", {"sad": 0.7, "calm": 0.3}, -0.4, -0.5, "uplift", "Gloom", "mic")
    second = lib.record_detection("happy", {"happy": 1.0}, 0.85, 0.45, "match", "Sunny", "a.wav")
    lib.set_feedback(first, "Calm")
    rows = lib.history()
    assert [r["id"] for r in rows] == [second, first]
    assert rows[1]["feedback"] == "calm" and rows[1]["probabilities"] == {"sad": 0.7, "calm": 0.3}
    with pytest.raises(LibraryError, match="no history entry 999"):
        lib.set_feedback(999, "sad")


def test_a_damaged_file_is_a_one_line_error_and_is_left_untouched(tmp_path):
    path = tmp_path / "moodplayer.db"
    garbage = b"this is not a database at all\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(LibraryError, match="damaged or not a moodplayer database") as info:
        Library.open(path)
    assert "\n" not in str(info.value)
    assert path.read_bytes() == garbage


def test_tables_missing_behind_the_version_read_as_damage(tmp_path):
    path = tmp_path / "moodplayer.db"
    Library.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE history")
    conn.close()
    with Library.open(path) as lib:
        with pytest.raises(LibraryError, match="is damaged .no such table: history"):
            lib.history()


def test_a_library_locked_by_another_process_is_a_one_line_error(tmp_path):
    path = tmp_path / "moodplayer.db"
    Library.open(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sqlite3, sys, time
            conn = sqlite3.connect({str(path)!r}, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with Library.open(path, timeout=0.3) as lib:
            with pytest.raises(LibraryError, match="locked by another process") as info:
                lib.create_playlist("x")
        assert "\n" not in str(info.value)
    finally:
        holder.communicate("done\n", timeout=10)
    with Library.open(path) as lib:
        lib.create_playlist("x")


def test_another_programs_database_is_refused_untouched(tmp_path):
    path = tmp_path / "moodplayer.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE bookmarks (url TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="another program's SQLite tables"):
        Library.open(path)
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["bookmarks"]
    conn.close()


def test_a_newer_schema_is_refused_not_downgraded(tmp_path):
    path = tmp_path / "moodplayer.db"
    Library.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(LibraryError, match="newer moodplayer"):
        Library.open(path)


ADDER = """
import sys
from moodplayer.music.library import Library
from moodplayer.music.scan import describe
with Library.open(sys.argv[1]) as lib:
    for n in range(int(sys.argv[3])):
        lib.add_tracks("shared", describe([f"https://{sys.argv[2]}.example/{n}"]))
"""


def test_two_processes_adding_to_one_playlist_lose_nothing(tmp_path):
    path = tmp_path / "moodplayer.db"
    with Library.open(path) as lib:
        lib.create_playlist("shared")
    env = {"PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ADDER, str(path), who, "200"], env=env, stderr=subprocess.PIPE, text=True
        )
        for who in ("alice", "bob")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    with Library.open(path) as lib:
        entries = lib.entries("shared")
    assert len(entries) == 400
    assert [e.position for e in entries] == list(range(1, 401))
    for who in ("alice", "bob"):  # each process's own entries stay in the order it added them
        mine = [e.track.location for e in entries if who in e.track.location]
        assert mine == [f"https://{who}.example/{n}" for n in range(200)]
