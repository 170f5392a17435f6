"""M3U files as other players write them, read back and written out again."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from moodplayer.errors import LibraryError, OutputError
from moodplayer.music.library import Library
from moodplayer.music.m3u import read_m3u, write_m3u
from moodplayer.music.scan import describe
from moodplayer.music.track import Track


@pytest.fixture
def music(tmp_path) -> Path:
    """A small music folder whose names have spaces and non-ASCII letters."""
    root = tmp_path / "Música"
    for rel in ("Artist A/01 Café del Mar.mp3", "Artist A/02 Ünïcode.flac", "b side.ogg"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 64)  # playlist reading only needs the files to exist
    return root


def write(path: Path, text: str, encoding: str = "utf-8", bom: bool = False, crlf: bool = False) -> Path:
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode(encoding))
    return path


def test_windows_media_player_style_bom_crlf_backslashes_and_extinf(music):
    playlist = write(
        music / "winamp.m3u8",
        "#EXTM3U\n#EXTINF:245,Artist A - Café del Mar\nArtist A\\01 Café del Mar.mp3\n"
        "#EXTINF:-1,Just A Title\n.\\b side.ogg\n",
        bom=True,
        crlf=True,
    )
    first, second = read_m3u(playlist)
    assert first.found and first.track.location == str(music / "Artist A" / "01 Café del Mar.mp3")
    assert (first.track.artist, first.track.title, first.track.duration) == ("Artist A", "Café del Mar", 245)
    assert second.found and second.track.location == str(music / "b side.ogg")
    assert (second.track.title, second.track.artist, second.track.duration) == ("Just A Title", None, None)


def test_a_windows_absolute_path_is_found_by_its_trailing_folders(music):
    playlist = write(
        music / "old pc.m3u", "C:\\Users\\me\\Música\\Artist A\\02 Ünïcode.flac\nC:\\Elsewhere\\nope.mp3\n"
    )
    found, lost = read_m3u(playlist)
    assert found.found and found.track.location == str(music / "Artist A" / "02 Ünïcode.flac")
    assert not lost.found and lost.track.location == "C:\\Elsewhere\\nope.mp3"


def test_file_uris_with_percent_encoding_and_absolute_and_relative_paths(music, tmp_path):
    target = music / "Artist A" / "01 Café del Mar.mp3"
    uri = "file://" + str(target).replace(" ", "%20").replace("é", "%C3%A9")
    lists = tmp_path / "lists"
    lists.mkdir()
    playlist = write(
        lists / "vlc.m3u8", f"#EXTM3U\n{uri}\n{music / 'b side.ogg'}\n../Música/Artist A/02 Ünïcode.flac\n"
    )
    locations = [e.track.location for e in read_m3u(playlist)]
    assert locations == [str(target), str(music / "b side.ogg"), str(music / "Artist A" / "02 Ünïcode.flac")]


def test_latin1_m3u_from_an_old_player_is_decoded(music):
    playlist = write(music / "latin.m3u", "#EXTINF:10,Caf\xe9\nArtist A\\01 Caf\xe9 del Mar.mp3\n", encoding="cp1252")
    [entry] = read_m3u(playlist)
    assert entry.found and entry.track.title == "Café"


def test_utf16_m3u_with_its_byte_order_mark_is_decoded(music):
    playlist = music / "unicode.m3u"
    playlist.write_bytes("#EXTINF:10,Ünïcode\r\nArtist A\\02 Ünïcode.flac\r\n".encode("utf-16"))  # BOM first
    [entry] = read_m3u(playlist)
    assert entry.found and entry.track.title == "Ünïcode"


def test_names_spelled_in_another_letter_case_find_the_file(music):
    """Windows and macOS ignore case, so their playlists may spell a name differently from the file."""
    playlist = write(
        music / "case.m3u",
        "ARTIST a\\01 café DEL mar.MP3\nartist a/02 ÜNÏCODE.flac\nC:\\Music\\B SIDE.ogg\nartist a/nope.mp3\n",
    )
    first, second, third, lost = read_m3u(playlist)
    assert first.found and first.track.location == str(music / "Artist A" / "01 Café del Mar.mp3")
    assert second.found and second.track.location == str(music / "Artist A" / "02 Ünïcode.flac")
    assert third.found and third.track.location == str(music / "b side.ogg")
    assert not lost.found and lost.track.location == str(music / "artist a" / "nope.mp3")


def test_a_name_written_decomposed_by_macos_finds_the_composed_file(music):
    decomposed = unicodedata.normalize("NFD", "Artist A/02 Ünïcode.flac")
    playlist = write(music / "mac.m3u8", decomposed + "\n")
    [entry] = read_m3u(playlist)
    assert entry.found and entry.track.location == str(music / "Artist A" / "02 Ünïcode.flac")


def test_streams_and_extinf_attributes_are_kept(tmp_path):
    playlist = write(
        tmp_path / "radio.m3u",
        '#EXTM3U\n#EXTINF:-1 tvg-id="x, y" group-title="News",Radio One\nhttps://radio.example/one\n',
    )
    [entry] = read_m3u(playlist)
    assert entry.found and entry.track.location == "https://radio.example/one" and entry.track.title == "Radio One"


def test_export_writes_relative_paths_under_its_folder_and_round_trips(music, tmp_path):
    outside = tmp_path / "elsewhere" / "x.mp3"
    outside.parent.mkdir()
    outside.write_bytes(b"\0" * 64)
    tracks = [
        Track(location=str(music / "Artist A" / "02 Ünïcode.flac"), title="Ünïcode", artist="Artist A", duration=61.6),
        Track(location=str(outside)),
        Track(location="https://radio.example/one", title="Radio One"),
    ]
    target = music / "export.m3u8"
    write_m3u(target, tracks)
    text = target.read_text(encoding="utf-8")
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXTINF:62,Artist A - Ünïcode",
        "Artist A/02 Ünïcode.flac",
        "#EXTINF:-1,x",
        str(outside),
        "#EXTINF:-1,Radio One",
        "https://radio.example/one",
    ]
    assert [e.track.location for e in read_m3u(target)] == [t.location for t in tracks]
    assert [p.name for p in music.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_export_onto_a_folder_is_a_one_line_error_and_leaves_no_temp_file(tmp_path):
    (tmp_path / "taken.m3u").mkdir()
    with pytest.raises(OutputError, match="cannot write .*taken.m3u: it is a folder"):
        write_m3u(tmp_path / "taken.m3u", [Track(location="https://radio.example/one")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.m3u"]


def test_import_keeps_missing_entries_in_order(music):
    playlist = write(music / "mixed.m3u8", "b side.ogg\ngone.mp3\nArtist A/02 Ünïcode.flac\n")
    with Library.open() as lib:
        lib.create_playlist("mixed")
        lib.add_tracks("mixed", describe([e.track for e in read_m3u(playlist)]))
        entries = lib.entries("mixed")
    assert [(Path(e.track.location).name, e.missing) for e in entries] == [
        ("b side.ogg", False),
        ("gone.mp3", True),
        ("02 Ünïcode.flac", False),
    ]


def test_unreadable_or_non_playlist_files_are_one_line_errors(tmp_path):
    with pytest.raises(LibraryError, match="cannot read"):
        read_m3u(tmp_path / "nope.m3u")
    with pytest.raises(LibraryError, match="not an M3U playlist"):
        read_m3u(write(tmp_path / "song.mp3", "ID3"))
    with pytest.raises(LibraryError, match="binary data"):
        read_m3u(write(tmp_path / "odd.m3u", "\0\0\x01garbage"))
