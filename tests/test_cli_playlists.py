"""The playlist, moods and library commands, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_cli
from tests.test_library import make_audio


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "my music"
    make_audio(root / "a" / "01 first.ogg", seconds=2, title="First", artist="Band")
    make_audio(root / "a" / "02 second.mp3", seconds=3, title="Second", artist="Band")
    make_audio(root / "b" / "03 thïrd.flac", seconds=1, title="Thïrd")
    (root / "cover.jpg").write_bytes(b"\xff\xd8")
    return root


def ok(*args):
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    return result


def test_create_add_folders_globs_urls_show_and_list(album):
    ok("playlist", "create", "Mix")
    ok("playlist", "add", "Mix", str(album / "a"), str(album / "b" / "*.flac"), "https://radio.example/live")
    shown = json.loads(ok("playlist", "show", "Mix", "--json").stdout)
    assert [t["title"] for t in shown["tracks"]] == ["First", "Second", "Thïrd", None]
    assert shown["duration"] == pytest.approx(6, abs=0.3)
    table = ok("playlist", "show", "Mix").stdout
    assert "Thïrd" in table and "4 tracks, 0:06" in table
    assert json.loads(ok("playlist", "list", "--json").stdout) == [
        {"name": "Mix", "tracks": 4, "duration": shown["duration"], "moods": []}
    ]


def test_the_readmes_quoted_home_folder_is_found(album, tmp_path):
    """`playlist add evening "~/Music/…"`: in quotes the shell leaves ~ alone; moodplayer expands it."""
    home = {"HOME": str(tmp_path)}
    assert run_cli("playlist", "create", "evening", env=home).returncode == 0
    result = run_cli("playlist", "add", "evening", "~/my music/a", "$HOME/my music/b/*.flac", env=home)
    assert result.returncode == 0, result.stderr
    shown = json.loads(ok("playlist", "show", "evening", "--json").stdout)
    assert [t["location"] for t in shown["tracks"]] == [
        str(album / "a" / "01 first.ogg"),
        str(album / "a" / "02 second.mp3"),
        str(album / "b" / "03 thïrd.flac"),
    ]


def test_names_and_tags_with_brackets_are_shown_as_written(tmp_path):
    make_audio(tmp_path / "[live] song.ogg", title="Song [Live at /dev/null]", artist="[bold]Band")
    ok("playlist", "create", "[2024] Best")
    added = ok("playlist", "add", "[2024] Best", str(tmp_path / "[live] song.ogg"))
    assert "added 1 track to '[2024] Best'" in added.stderr
    shown = ok("playlist", "show", "[2024] Best").stdout
    assert "Song [Live at /dev/null]" in shown and "[bold]Band" in shown and "[2024] Best" in shown


def test_add_with_a_typo_adds_nothing_and_says_why(album):
    ok("playlist", "create", "Mix")
    result = run_cli("playlist", "add", "Mix", str(album / "a"), str(album / "nope.mp3"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: no such file or folder: {album / 'nope.mp3'}"
    assert json.loads(ok("playlist", "show", "Mix", "--json").stdout)["tracks"] == []


def test_move_remove_rename_delete(album):
    ok("playlist", "create", "Mix")
    ok("playlist", "add", "Mix", str(album))
    ok("playlist", "move", "Mix", "3", "1")
    ok("playlist", "remove", "Mix", "2")
    ok("playlist", "rename", "Mix", "Road Trip")
    titles = [t["title"] for t in json.loads(ok("playlist", "show", "Road Trip", "--json").stdout)["tracks"]]
    assert titles == ["Thïrd", "Second"]
    ok("playlist", "delete", "road trip")
    result = run_cli("playlist", "show", "Road Trip")
    assert result.returncode == 1 and "unknown mood or playlist 'Road Trip'" in result.stderr


def test_moods_set_add_clear_and_show_points():
    ok("playlist", "create", "Sunny")
    ok("playlist", "create", "Party")
    ok("moods", "--set", "happy", "Sunny")
    moods = json.loads(ok("moods", "--add", "happy", "Party", "--json").stdout)
    assert moods["happy"] == {"playlists": ["Sunny", "Party"], "valence": 0.85, "arousal": 0.45}
    assert "+0.85" in ok("moods").stdout
    assert json.loads(ok("moods", "--clear", "happy", "--json").stdout)["happy"]["playlists"] == []
    bad = run_cli("moods", "--set", "bored", "Sunny")
    assert bad.returncode == 1 and "unknown emotion 'bored'" in bad.stderr


def test_moods_points_can_be_moved_and_reset():
    moved = json.loads(ok("moods", "--point", "calm", "0.2", "-0.9", "--json").stdout)
    assert (moved["calm"]["valence"], moved["calm"]["arousal"]) == (0.2, -0.9)
    bad = run_cli("moods", "--point", "calm", "2", "0")
    assert bad.returncode == 1 and "must lie in [-1, 1]" in bad.stderr
    reset = json.loads(ok("moods", "--reset-point", "calm", "--json").stdout)
    assert (reset["calm"]["valence"], reset["calm"]["arousal"]) == (0.45, -0.65)


def test_import_reports_missing_entries_and_export_round_trips(album, tmp_path):
    (album / "list.m3u8").write_bytes(
        "\ufeff#EXTM3U\r\n#EXTINF:2,Band - First\r\na\\01 first.ogg\r\nlost.mp3\r\n".encode()
    )
    result = ok("playlist", "import", str(album / "list.m3u8"))
    assert "not found, kept as missing: lost.mp3" in result.stderr
    assert "imported 2 entries into 'list' (1 missing)" in result.stderr
    shown = json.loads(ok("playlist", "show", "list", "--json").stdout)
    assert [t["missing"] for t in shown["tracks"]] == [False, True]
    ok("playlist", "export", "list", str(album / "out.m3u"))
    assert (album / "out.m3u").read_text().splitlines() == [
        "#EXTM3U",
        "#EXTINF:2,Band - First",
        "a/01 first.ogg",
        "#EXTINF:-1,lost",
        "lost.mp3",
    ]
    again = run_cli("playlist", "import", str(album / "list.m3u8"))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_export_into_a_folder_that_is_not_there_needs_parents(album, tmp_path):
    ok("playlist", "create", "one")
    assert "added 1 track to 'one'" in ok("playlist", "add", "one", str(album / "b")).stderr
    typo = tmp_path / "Playlsts" / "car" / "one.m3u"
    refused = run_cli("playlist", "export", "one", str(typo))
    assert refused.returncode == 1
    assert refused.stderr == f"error: there is no folder {typo.parent} to write into; create it, or add --parents\n"
    assert not (tmp_path / "Playlsts").exists()
    written = ok("playlist", "export", "one", str(typo), "--parents")
    assert written.stderr == f"wrote 1 entry of 'one' to {typo}\n"
    assert typo.read_text().splitlines()[-1] == str(album / "b" / "03 thïrd.flac")


def test_a_damaged_database_is_one_line_and_kept(isolated_home):
    isolated_home.mkdir(parents=True, exist_ok=True)
    db = isolated_home / "moodplayer.db"
    db.write_bytes(os.urandom(8192))
    result = run_cli("playlist", "list")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "damaged" in result.stderr
    assert db.stat().st_size == 8192


def test_scan_autoplaylists_and_missing_from_the_command_line(album):
    scanned = json.loads(ok("library", "scan", str(album), "--jobs", "1", "--json").stdout)
    assert (scanned["found"], scanned["stored"], scanned["skipped"]) == (3, 3, 0)
    ok("library", "autoplaylists", "--size", "3")
    moods = json.loads(ok("moods", "--json").stdout)
    assert all(moods[e]["playlists"] == [e] for e in moods)
    placed = {t["location"] for e in moods for t in json.loads(ok("playlist", "show", e, "--json").stdout)["tracks"]}
    assert len(placed) == 3  # every analysed track lies within reach of its nearest mood
    (album / "b" / "03 thïrd.flac").unlink()
    assert json.loads(ok("library", "missing", "--json").stdout) == [str(album / "b" / "03 thïrd.flac")]
    rescanned = json.loads(ok("library", "scan", str(album), "--json").stdout)
    assert (rescanned["unchanged"], rescanned["stored"], rescanned["missing"]) == (2, 0, 0)

    damaged = album / ("a long folder name, as music folders have " * 3) / "not really.ogg"
    damaged.parent.mkdir()
    damaged.write_bytes(b"OggS, then nothing")
    (album / "text.mp3").write_text("not audio, though its name says so\n")  # libsndfile's mpg123 complains aloud
    stderr = ok("library", "scan", str(album)).stderr
    assert sorted(line for line in stderr.splitlines() if line.strip()) == [
        f"warning: skipped {damaged}: not audio, or damaged",  # one line, however long
        f"warning: skipped {album / 'text.mp3'}: not audio, or damaged",
    ]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["playlist"],
        ["moods"],
        ["library"],
        ["playlist", "import"],
        ["playlist", "export"],
        ["playlist", "move"],
        ["library", "scan"],
        ["library", "missing"],
        ["library", "autoplaylists"],
        ["library", "list"],
        ["library", "train"],
        ["library", "evaluate"],
    ],
)
def test_every_command_has_help(command):
    result = ok(*command, "--help")
    assert "Usage" in result.stdout


def test_the_command_modules_leave_heavy_libraries_unimported():
    probe = "import sys, moodplayer.cli; print(sorted({'sqlite_utils', 'mutagen', 'librosa'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "[]"
