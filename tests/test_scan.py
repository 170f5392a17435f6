"""Scanning real folders of real files: tags, analysis, increments, damage, missing files, kills."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import soundfile as sf

from moodplayer import demo, paths
from moodplayer.errors import LibraryError
from moodplayer.music import mood_model
from moodplayer.music.autoplaylists import autoplaylists
from moodplayer.music.library import Library
from moodplayer.music.library.schema import MIGRATIONS
from moodplayer.music.mood_features import extract
from moodplayer.music.scan import (
    WORKER_NICENESS,
    ScanJob,
    analyse,
    describe,
    examine,
    load_excerpt,
    mood_point,
    parallel_map,
    read_tags,
    scan,
)
from tests.test_library import REPO, make_audio


def demo_track(tmp_path, title: str):
    """One of the demo pieces (known key, mode and tempo), rendered to a FLAC file."""
    [spec] = [t for t in demo.load_definitions()["tracks"] if t["title"] == title]
    path = tmp_path / f"{title}.flac"
    sf.write(path, demo.synthesise(spec), demo.RATE)
    return spec, path


def test_analysis_hears_mode_and_tempo_and_the_formula_places_happy_above_gloomy(tmp_path):
    model = mood_model.load(paths.shipped_asset("models/music-mood.safetensors"))
    results = {}
    for title in ("Bright Side", "Off Taste"):
        spec, path = demo_track(tmp_path, title)
        samples = load_excerpt(str(path), sf.info(path).duration)
        result = analyse(samples, model)
        assert result["mode"] == spec["mode"]
        assert result["tempo"] == pytest.approx(spec["bpm"], rel=0.04)
        assert -1 <= result["valence"] <= 1 and -1 <= result["arousal"] <= 1
        heard = extract(samples)
        results[spec["mood"]] = mood_point(heard.tempo, heard.energy, heard.brightness, heard.majorness)
    (happy_valence, happy_arousal), (disgust_valence, disgust_arousal) = results["happy"], results["disgust"]
    assert happy_valence > 0 > disgust_valence
    assert happy_arousal > disgust_arousal


@pytest.fixture
def music(tmp_path):
    """A folder as users have them: formats mixed, unicode and spaces, links, and some damage."""
    root = tmp_path / "Mü sic"
    make_audio(root / "Ärtist" / "01 söng.mp3", seconds=3, title="Söng", artist="Ärtist")
    make_audio(root / "Ärtist" / "02 two words.ogg", seconds=3, title="Two Words")
    make_audio(root / "flac" / "03.flac", seconds=3, title="Three")
    make_audio(root / "m4a" / "04.m4a", seconds=3, title="Four")
    (root / "bad").mkdir()
    (root / "bad" / "empty.mp3").write_bytes(b"")
    (root / "bad" / "noise.ogg").write_bytes(os.urandom(4096))
    whole = (root / "flac" / "03.flac").read_bytes()
    (root / "bad" / "cut.flac").write_bytes(whole[: len(whole) // 20])
    (root / "notes.txt").write_text("not music")
    outside = make_audio(tmp_path / "elsewhere" / "linked target.opus", seconds=3, title="Linked")
    os.symlink(outside, root / "link to opus.opus")
    os.symlink(root / "Ärtist", root / "loop")  # a second way into the same folder
    return root


def test_scan_reads_tags_skips_damage_and_is_incremental(music):
    with Library.open() as lib:
        report = scan(lib, [music], jobs=1)
        # 4 files, 1 linked file, 3 damaged; the linked folder leads back into Ärtist and is skipped
        assert (report.found, report.stored, len(report.failures)) == (8, 5, 3)
        assert sorted(os.path.basename(f) for f, _ in report.failures) == ["cut.flac", "empty.mp3", "noise.ogg"]
        rows = {r["location"]: r for r in lib.db.query("SELECT * FROM tracks")}
        song = rows[str(music / "Ärtist" / "01 söng.mp3")]
        assert (song["title"], song["artist"], song["missing"]) == ("Söng", "Ärtist", 0)
        assert song["mode"] in ("major", "minor") and -1 <= song["valence"] <= 1 and song["tempo"] > 0
        assert rows[str(music / "link to opus.opus")]["title"] == "Linked"

        again = scan(lib, [music], jobs=1)
        assert (again.unchanged, again.stored) == (5, 0)

        make_audio(music / "flac" / "03.flac", seconds=2, title="Three, re-encoded")
        changed = scan(lib, [music], jobs=1)
        assert changed.stored == 1
        assert (
            lib.db.execute("SELECT title FROM tracks WHERE location LIKE '%03.flac'").fetchone()[0]
            == "Three, re-encoded"
        )


def test_vanished_files_are_marked_missing_but_stay_in_playlists(music):
    with Library.open() as lib:
        scan(lib, [music], analysis=False)
        lib.create_playlist("keep")
        lib.add_tracks("keep", describe([str(music / "flac" / "03.flac"), str(music / "m4a" / "04.m4a")]))
        os.rename(music / "flac" / "03.flac", music / "flac" / "03 renamed.flac")
        (music / "m4a" / "04.m4a").unlink()
        report = scan(lib, [music], analysis=False)
        assert report.vanished == 2 and report.stored == 1  # the renamed file is a new track
        assert [e.missing for e in lib.entries("keep")] == [True, True]
        make_audio(music / "m4a" / "04.m4a", seconds=1, title="Back")
        assert [t.location for t in lib.check_missing()] == [str(music / "flac" / "03.flac")]
        assert [e.missing for e in lib.entries("keep")] == [True, False]


def test_autoplaylists_keep_what_the_user_added_and_removed(tmp_path):
    with Library.open() as lib:
        with pytest.raises(LibraryError, match="no analysed tracks"):
            autoplaylists(lib)
        assert lib.playlists() == []
    points = [("joy", 0.8, 0.5), ("glee", 0.7, 0.4), ("cheer", 0.6, 0.3), ("gloom", -0.7, -0.5), ("rage", -0.6, 0.8)]
    for name, _, _ in points:
        make_audio(tmp_path / f"{name}.ogg", seconds=0.5)
    with Library.open() as lib:  # as a scan would store them, with the analysis fixed
        lib.store_scanned(
            [
                {"location": str(tmp_path / f"{name}.ogg"), "title": name, "valence": v, "arousal": a}
                for name, v, a in points
            ]
        )
        assert autoplaylists(lib, size=2)["happy"].playlist == "happy"
        assert [t.title for t in lib.tracks("happy")] == ["joy", "glee"]
        lib.remove_entries("happy", [1])
        lib.add_tracks("happy", describe([str(tmp_path / "gloom.ogg")]))
        autoplaylists(lib, size=2)
        assert [t.title for t in lib.tracks("happy")] == ["gloom", "glee", "cheer"]
        assert lib.mood_map()["sad"] == ["sad"]
        assert [t.title for t in lib.tracks("sad")] == ["gloom"]  # the others are nearer other moods
        lib.set_mood_point("angry", 0.6, 0.3)  # this user's angry music is the cheerful kind
        autoplaylists(lib, size=1)
        assert [t.title for t in lib.tracks("angry")] == ["cheer"]


def test_a_v1_library_is_upgraded_in_place_keeping_everything():
    path = paths.database_path()
    import sqlite_utils

    old = sqlite_utils.Database(path)
    MIGRATIONS[0](old)
    old.execute("PRAGMA user_version = 1")
    old["playlists"].insert({"id": 1, "name": "Old Favourites"})
    old["tracks"].insert({"id": 1, "location": "/music/a.mp3", "title": "A", "missing": 0})
    old["playlist_entries"].insert({"playlist_id": 1, "track_id": 1, "position": 1, "manual": 1})
    old["mood_map"].insert({"emotion": "happy", "playlist_id": 1, "position": 1})
    old.conn.commit()
    old.close()
    with Library.open() as lib:
        assert lib.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) > 1
        assert lib.mood_map() == {"happy": ["Old Favourites"]}
        assert [t.title for t in lib.tracks("Old Favourites")] == ["A"]
        assert "valence" in lib.db["tracks"].columns_dict


MANY = 100  # enough that the workers are still busy when the first batch lands, even on a loaded machine


def session(leader: int) -> set[int]:
    """The live processes of the session ``leader`` started (its workers, whoever their parent now is)."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == leader and fields[0] != "Z" and int(entry) != leader:
            found.add(int(entry))
    return found


def gone_within(pids: set[int], seconds: float) -> set[int]:
    """Those of ``pids`` still alive after waiting up to ``seconds`` for them to exit."""
    deadline = time.monotonic() + seconds
    while (
        alive := {p for p in pids if os.path.exists(f"/proc/{p}") and _state(p) != "Z"}
    ) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.fixture
def interrupted_scan(tmp_path):
    """Start a real scan of MANY files; return ``stop(signal, group)`` that hits it once a batch is
    stored: the whole process group (as a terminal's Ctrl-C does), or only the scan itself (``kill``)."""
    source = make_audio(tmp_path / "seed.ogg", seconds=4, title="Seed")
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(MANY):
        shutil.copy(source, folder / f"{n:02d}.ogg")
    scanner = subprocess.Popen(
        [sys.executable, "-m", "moodplayer", "library", "scan", str(folder), "--jobs", "2"],
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def stop(signum: int, group: bool = True) -> tuple[int, str, int]:
        deadline = time.monotonic() + 120
        while count_tracks() == 0 and time.monotonic() < deadline and scanner.poll() is None:
            time.sleep(0.05)
        workers = session(scanner.pid)
        assert workers, "the scan runs no worker processes"
        (os.killpg if group else os.kill)(scanner.pid, signum)
        scanner.wait(timeout=30)
        assert not gone_within(workers, 10), "the scan's workers outlived it"
        stderr = scanner.stderr.read()
        stored = count_tracks()
        assert 0 < stored < MANY, f"wanted to stop the scan midway; {stored} of {MANY} were stored"
        return scanner.returncode, stderr, stored

    yield folder, stop
    for pid in {scanner.pid, *session(scanner.pid)}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    scanner.wait()


def test_a_scan_killed_midway_leaves_a_consistent_library_no_orphans_and_the_next_one_finishes(interrupted_scan):
    folder, stop = interrupted_scan
    _, _, stored = stop(signal.SIGKILL, group=False)  # its workers notice on their own
    assert integrity() == "ok"
    result = subprocess.run(
        [sys.executable, "-m", "moodplayer", "library", "scan", str(folder), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["unchanged"], report["stored"]) == (stored, MANY - stored)
    assert count_tracks() == MANY


@pytest.mark.parametrize(("signum", "group"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["ctrl-c", "term"])
def test_ctrl_c_or_sigterm_stops_a_scan_promptly_says_what_was_kept_and_ends_its_workers(
    interrupted_scan, signum, group
):
    _, stop = interrupted_scan
    code, stderr, stored = stop(signum, group)
    assert code == 128 + signum and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        f"error: scan stopped: {stored} of {MANY} new or changed files stored and kept; scan again to add the rest"
    )
    assert integrity() == "ok"


def integrity() -> str:
    conn = sqlite3.connect(paths.database_path())
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def count_tracks() -> int:
    try:
        conn = sqlite3.connect(f"file:{paths.database_path()}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet (read-only: never create it here)
        return 0


@pytest.mark.parametrize("ext", ["mp3", "m4a"])  # one read by libsndfile, one by ffmpeg
def test_an_excerpt_survives_a_header_overstating_the_length(tmp_path, ext):
    path = make_audio(tmp_path / f"five.{ext}", seconds=5)
    assert load_excerpt(str(path), 5.0).size / 22050 == pytest.approx(5, abs=0.1)
    assert load_excerpt(str(path), 10_000.0).size / 22050 == pytest.approx(5, abs=0.1)


def riff_with_info(chunks: dict[bytes, bytes], audio: bytes) -> bytes:
    """A WAV file as Windows-era taggers write it: the audio, then a LIST/INFO chunk of texts."""
    info = b"INFO" + b"".join(
        key + len(v).to_bytes(4, "little") + v + b"\0" * (len(v) & 1) for key, v in chunks.items()
    )
    body = b"WAVE" + audio + b"LIST" + len(info).to_bytes(4, "little") + info
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def test_wav_and_aiff_text_chunks_give_tags_in_utf8_or_windows_1252(tmp_path):
    aiff = tmp_path / "plain.aiff"  # ffmpeg's AIFF without ID3: the title in a NAME chunk
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "-metadata", "title=Söng", aiff], check=True
    )
    assert read_tags(aiff)["title"] == "Söng"

    wav = make_audio(tmp_path / "a.wav").read_bytes()
    audio = wav[12:]  # fmt and data chunks, untagged
    legacy = tmp_path / "legacy.wav"
    legacy.write_bytes(riff_with_info({b"INAM": "Café au lait\0".encode("cp1252"), b"IART": b"Nobody\0"}, audio))
    tags = read_tags(legacy)
    assert (tags["title"], tags["artist"], tags["album"]) == ("Café au lait", "Nobody", None)
    assert tags["duration"] == pytest.approx(1.0, abs=0.1)

    cut = tmp_path / "cut.wav"
    cut.write_bytes(legacy.read_bytes()[:-9])  # the artist chunk cut short: what was read stays
    assert read_tags(cut)["title"] == "Café au lait"


def test_the_scan_pool_runs_below_the_callers_priority():
    """Playback and `listen` stay responsive: a busy core favours them over the analysis workers."""
    ours = os.nice(0)
    assert set(parallel_map(os.nice, [0, 0, 0, 0], jobs=2)) == {min(ours + WORKER_NICENESS, 19)}


def test_a_failure_no_reader_foresees_is_one_plain_line_for_that_file(tmp_path):
    """An error from deep inside the analysis (here: a music-mood model file that is not one) skips
    the file with words, not the exception's name and text."""
    track = make_audio(tmp_path / "song.wav", seconds=12)
    not_a_model = tmp_path / "mood.safetensors"
    not_a_model.write_bytes(b"not a model")
    stat = track.stat()
    location, row, why = examine(ScanJob(str(track), stat.st_size, stat.st_mtime, str(not_a_model)))
    assert (location, row, why) == (str(track), None, "could not be read or analysed")
