"""What a careless user or a hostile file can do: nothing may destroy data, hang, or take over the terminal.

Each test is one row of CONTRIBUTING's reliability table, on real files, a real
SQLite library and, where the behaviour is the command line's, the real CLI.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct

import numpy as np
import pytest
import soundfile as sf

from moodplayer import paths
from moodplayer.errors import AudioError, LibraryError, ModelError
from moodplayer.music.library import Library
from moodplayer.music.m3u import read_m3u, write_m3u
from moodplayer.music.scan import describe, expand_items, scan
from moodplayer.music.track import Track
from moodplayer.voice import model_versions as versions
from moodplayer.voice import sample_store
from moodplayer.voice.audio import load_audio
from moodplayer.voice.classifier import Classifier
from moodplayer.voice.model import load_model, save_model
from tests.conftest import REPO, run_cli
from tests.test_library import make_audio

RATE = 16_000


def one_line_error(result, code: int = 1) -> str:
    """The single stderr line of a command that failed as a user's mistake, not as a bug."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.stderr
    return lines[0]


# -- names a user gives ------------------------------------------------------------------------


def test_a_profile_named_dotdot_never_reaches_the_folder_above(isolated_home):
    samples = isolated_home / "samples"
    samples.mkdir(parents=True)
    kept = [isolated_home / "voice.flac", samples / "0001-happy.flac"]
    for path in kept:
        sf.write(path, np.zeros(RATE, np.float32), RATE)
    for args, env in ((["-p", ".."], {}), ([], {"MOODPLAYER_PROFILE": ".."})):
        line = one_line_error(run_cli("voice", "reset", *args, env=env))
        assert "invalid profile name" in line
    assert all(path.is_file() for path in kept)


def test_a_playlist_name_with_control_characters_is_refused():
    with Library.open() as lib:
        for name in ("\x1b[2Jgone", "two\nlines", "bad\udcffbyte"):
            with pytest.raises(LibraryError, match="cannot hold control characters"):
                lib.create_playlist(name)
        assert lib.playlists() == []


# -- file names that are not UTF-8 ----------------------------------------------------------------


@pytest.fixture
def undecodable(tmp_path):
    """A folder of three files, two of them named in bytes that are not UTF-8 (Latin-1, and garbage)."""
    folder = tmp_path / "music"
    names = [b"good.ogg", b"caf\xe9.ogg", b"\xff\xfe broken.ogg"]
    source = make_audio(tmp_path / "seed.ogg", seconds=1)
    folder.mkdir()
    for name in names:
        os.link(source, os.path.join(os.fsencode(folder), name))
    return folder, [os.path.join(str(folder), os.fsdecode(name)) for name in names]


def test_names_that_are_not_utf8_are_scanned_and_added_losslessly(undecodable):
    folder, locations = undecodable
    with Library.open() as lib:
        report = scan(lib, [folder], analysis=False)
        assert (report.stored, report.failures) == (3, [])
        assert set(lib.known_files()) == set(locations)
        lib.create_playlist("mix")
        lib.add_tracks("mix", describe(expand_items([str(folder)])))
        stored = [track.location for track in lib.tracks("mix")]
    assert sorted(stored) == sorted(locations)
    assert all(os.path.isfile(location) for location in stored)  # the same bytes: the files are found
    assert load_audio(locations[2]).size > 0  # and the voice path reads such a file too


def test_names_that_are_not_utf8_are_shown_as_their_bytes(undecodable):
    folder, _ = undecodable
    with Library.open() as lib:
        lib.create_playlist("mix")
        lib.add_tracks("mix", describe(expand_items([str(folder)])))
    result = run_cli("playlist", "show", "mix")
    assert result.returncode == 0, result.stderr
    assert "caf\\xe9" in result.stdout and "\\xff\\xfe broken" in result.stdout
    listed = json.loads(run_cli("playlist", "show", "mix", "--json").stdout)
    assert {os.fsencode(t["location"]).rsplit(b"/", 1)[1] for t in listed["tracks"]} == {
        b"good.ogg",
        b"caf\xe9.ogg",
        b"\xff\xfe broken.ogg",
    }


# -- text from files in line formats and on the terminal ------------------------------------------


def test_a_title_or_a_file_name_cannot_add_lines_to_an_exported_playlist(tmp_path):
    odd = tmp_path / "new\nline #1.ogg"
    make_audio(odd, seconds=1)
    tracks = [
        Track(location=str(odd), title="Nice song\n/etc/passwd"),
        Track(location=str(tmp_path / "#hash.ogg"), title="\x1b]0;owned\x07Title\u2028More"),
        Track(location=os.fsdecode(os.fsencode(str(tmp_path)) + b"/\xff.ogg"), title=None),
    ]
    target = tmp_path / "out.m3u8"
    write_m3u(target, tracks)
    text = target.read_text(encoding="utf-8")
    assert "/etc/passwd" not in text.splitlines() and "\x1b" not in text and "\u2028" not in text
    back = read_m3u(target)
    assert [e.track.location for e in back] == [t.location for t in tracks]
    assert back[0].track.title == "Nice song /etc/passwd" and back[0].found


def test_escapes_in_names_and_tags_never_reach_the_terminal(tmp_path):
    song = make_audio(tmp_path / "song.ogg", seconds=1, title="\x1b[2JCleared", artist="\x1b]0;pwned\x07Band")
    playlist = tmp_path / "radio.m3u"
    playlist.write_text("#EXTM3U\n#EXTINF:-1,\x1b]0;title\x07Radio\nhttps://radio.example/live\n")
    with Library.open() as lib:
        lib.create_playlist("tagged")
        lib.add_tracks("tagged", describe([str(song), *(entry.track for entry in read_m3u(playlist))]))
        lib.db.execute("INSERT INTO playlists (name) VALUES (?)", ["\x1b]0;window\x07old"])  # an older library's
    shown = {}
    for args in (["playlist", "show", "tagged"], ["playlist", "list"], ["playlist", "show", "\x1b]0;window\x07old"]):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout
        shown[args[1]] = shown.get(args[1], "") + result.stdout
    assert "\\x1b[2JCleared" in shown["show"] and "\\x1b]0;title\\x07Radio" in shown["show"]
    assert "\\x1b]0;window\\x07old" in shown["list"]


def test_playlist_import_leaves_out_what_is_not_audio_and_says_so(tmp_path):
    song = make_audio(tmp_path / "lists" / "song.ogg", seconds=1)
    playlist = tmp_path / "lists" / "mixed.m3u"
    playlist.write_text(f"/etc/passwd\n../../../../../../../../etc/hosts\n{song.name}\n{tmp_path}\n")
    result = run_cli("playlist", "import", str(playlist))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[:3] == [
        "warning: not an audio file, left out: /etc/passwd",
        "warning: not an audio file, left out: ../../../../../../../../etc/hosts",
        f"warning: not an audio file, left out: {tmp_path}",
    ]
    assert lines[3] == "imported 1 entry into 'mixed' (3 left out)"
    shown = json.loads(run_cli("playlist", "show", "mixed", "--json").stdout)
    assert [t["location"] for t in shown["tracks"]] == [str(song)]


def test_playlist_export_to_dash_writes_standard_output(tmp_path):
    with Library.open() as lib:
        lib.create_playlist("radio")
        lib.add_tracks("radio", describe(["https://radio.example/live"]))
    result = run_cli("playlist", "export", "radio", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "#EXTM3U",
        "#EXTINF:-1,https://radio.example/live",
        "https://radio.example/live",
    ]
    assert "to standard output" in result.stderr and not (REPO / "-").exists()


# -- bounded work ---------------------------------------------------------------------------------


def sparse_wav(path, data_bytes: int):
    """A valid 16 kHz mono 16-bit WAV header over ``data_bytes`` of zeros, sparse (nothing on disk)."""
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, RATE, 2 * RATE, 2, 16)
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data_bytes)
    return path


def test_a_500_mb_recording_is_refused_before_it_is_decoded(tmp_path):
    huge = sparse_wav(tmp_path / "zeros.wav", 500 * 2**20)
    with pytest.raises(AudioError, match=r"zeros.wav lasts 4:33:04; moodplayer hears recordings of up to 60 s"):
        load_audio(huge)
    sf.write(tmp_path / "minute.flac", np.zeros(61 * RATE, np.int16), RATE)
    with pytest.raises(AudioError, match="lasts 1:01"):
        load_audio(tmp_path / "minute.flac")


@pytest.mark.timeout(30)  # a reader that waits for the FIFO's writer fails here instead of hanging the suite
def test_only_regular_playlist_files_of_sane_size_are_read(tmp_path):
    (tmp_path / "zero.m3u").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.m3u")
    with open(tmp_path / "big.m3u", "wb") as f:
        f.truncate(9 * 2**20)
    expected = {"zero.m3u": "is not a playlist file", "pipe.m3u": "is not a playlist file", "big.m3u": "larger than"}
    for name, message in expected.items():
        with pytest.raises(LibraryError, match=message):
            read_m3u(tmp_path / name)


# -- damage contained ---------------------------------------------------------------------------


def test_a_damaged_history_row_is_left_out_with_a_warning_naming_it(caplog):
    with Library.open() as lib:
        for emotion in ("happy", "sad", "calm"):
            lib.record_detection(emotion, {emotion: 0.9}, 0.1, 0.2, "match", None, "microphone")
        lib.db.execute("UPDATE history SET probabilities = '{not json' WHERE id = 2")
        rows = lib.history()
    assert [row["emotion"] for row in rows] == ["calm", "happy"]
    assert "history entry 2 is damaged" in caplog.text


def damage_inner_pages(db_path):
    """Overwrite one page in the middle of a checkpointed library, where the tracks' rows lie."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with open(db_path, "r+b") as f:
        f.seek(page_size * (pages // 2))
        f.write(b"\x0d\xff" + os.urandom(page_size - 2))


def test_a_library_with_damaged_pages_is_refused_by_every_command_reads_included():
    with Library.open() as lib:
        lib.store_scanned([{"location": f"/music/{n:04d}.ogg", "title": "x" * 200} for n in range(400)])
        lib.record_detection("happy", {"happy": 0.9}, 0.1, 0.2, "match", None, "microphone")
    db = paths.database_path()
    damage_inner_pages(db)
    before = db.read_bytes()
    for args in (["history"], ["playlist", "create", "new"], ["playlist", "list"]):
        assert "is damaged" in one_line_error(run_cli(*args))
    assert db.read_bytes() == before


@pytest.fixture(scope="module")
def shipped():
    net, metadata = load_model(paths.default_model_path())
    return net.state_dict(), {k: v for k, v in metadata.items() if k not in ("format", "weights_sha256")}


def test_a_file_that_is_not_a_model_is_never_put_in_force(shipped):
    import hashlib

    good = versions.save(*shipped, kind="trained", parent="shipped")
    fake = versions.weights_path("v2")
    fake.write_bytes(b"not a model at all, but its checksum is right")
    sidecar = json.loads(versions.weights_path(good).with_suffix(".json").read_text())
    sidecar["weights_sha256"] = hashlib.sha256(fake.read_bytes()).hexdigest()
    fake.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelError, match="model version v2 cannot be used"):
        versions.use("v2")
    assert versions.active_id() == "shipped"
    assert versions.get("v2").problem is not None  # listed as unusable, not "ok"
    state, metadata = shipped
    poisoned = {k: v.clone() for k, v in state.items()}
    next(v for v in poisoned.values() if v.is_floating_point()).fill_(float("nan"))
    save_model(versions.weights_path("v3"), poisoned, metadata)
    with pytest.raises(ModelError, match="model version v3 cannot be used"):
        versions.use("v3")


def test_a_version_in_force_that_does_not_load_falls_back_to_the_one_before(shipped, caplog):
    import hashlib

    versions.save(*shipped, kind="trained", parent="shipped")
    fake = versions.weights_path("v2")  # put in force by hand: its checksum holds, but it is no model
    fake.write_bytes(b"garbage")
    sidecar = json.loads(versions.weights_path("v1").with_suffix(".json").read_text())
    sidecar["weights_sha256"] = hashlib.sha256(b"garbage").hexdigest()
    fake.with_suffix(".json").write_text(json.dumps(sidecar))
    pointer = versions.models_dir() / versions.POINTER
    pointer.write_text(json.dumps({"active": "v2", "history": ["shipped", "v1"]}))
    classifier = Classifier.load()
    assert classifier.metadata["version"]["id"] == "v1"
    assert "model version v2 is unusable" in caplog.text and "using v1 instead" in caplog.text


def test_a_damaged_sample_is_left_out_with_a_warning_naming_it(caplog):
    voice = np.concatenate([np.zeros(RATE // 2), 0.3 * np.sin(np.arange(RATE) * 0.07), np.zeros(RATE // 2)])
    first, second, third = (sample_store.add(voice.astype(np.float32), "happy", "recorded") for _ in range(3))
    second.path.with_suffix(".json").write_text("{damaged")
    third.path.write_bytes(b"\0" * 100)
    assert [s.id for s in sample_store.all_samples()] == [first.id]
    assert f"sample {second.path.stem} is damaged" in caplog.text
    assert f"sample {third.path.stem} is damaged" in caplog.text


# -- errors a user can cause are one line ----------------------------------------------------------


def test_a_home_that_is_a_file_is_one_line(tmp_path):
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    line = one_line_error(run_cli("playlist", "list", env={"MOODPLAYER_HOME": str(home)}))
    assert "is a file, not a folder" in line


def test_a_limit_too_large_for_sqlite_is_a_usage_error():
    result = run_cli("history", "-n", "99999999999999999999")
    assert result.returncode == 2 and "internal error" not in result.stderr


def test_a_plot_onto_a_full_device_says_so(tmp_path):
    with Library.open() as lib:
        lib.record_detection("happy", {"happy": 0.9}, 0.1, 0.2, "match", None, "microphone")
    full = tmp_path / "full"
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    os.mknod(full, 0o20666, os.makedev(1, 7))
    result = run_cli("history", "--plot", str(full))
    assert "No space left on device" in one_line_error(result)
    assert "timeline written" not in result.stdout


def test_a_disk_full_while_writing_the_library_is_one_line(tmp_path):
    """A real full file system: a 1 MB tmpfs in a private mount namespace, nearly filled, then an
    import larger than what is left."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no user namespaces here")
    streams = tmp_path / "streams.m3u"
    streams.write_text("".join(f"http://radio.example/{'x' * 200}{n}\n" for n in range(3000)))
    script = (
        'set -e; mount -t tmpfs -o size=1m tmpfs "$MOODPLAYER_HOME"; '
        f"{sys.executable} -m moodplayer playlist create first 2>/dev/null; "
        'dd if=/dev/zero of="$MOODPLAYER_HOME/filler" bs=4k count=180 2>/dev/null; '
        f"{sys.executable} -m moodplayer playlist import {streams}"
    )
    home = tmp_path / "small"
    home.mkdir()
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MOODPLAYER_HOME": str(home), "NO_COLOR": "1"},
        cwd=REPO,
    )
    assert "the disk is full" in one_line_error(result)
