"""M3U/M3U8 playlists in and out, as other players write and read them.

Reading accepts what is found in the wild: a UTF-8 byte-order mark, CRLF
line ends, Latin-1 ``.m3u`` files from older Windows players, UTF-16 with its
byte-order mark, names in either Unicode normal form (macOS writes them
decomposed) or in another letter case than the file's, ``#EXTINF``
lines with or without attributes, ``file://`` URIs with percent-encoding,
paths relative to the playlist's folder, and Windows paths (``C:\\Music\\a.mp3``,
``..\\Music\\a.mp3``). A Windows absolute path is looked for under the
playlist's folder by its trailing components, which finds a library copied
from another machine. Entries that cannot be found are returned anyway;
the caller keeps them as missing.

Writing produces ``#EXTM3U`` with ``#EXTINF`` lines, UTF-8, paths relative
to the playlist's folder for files under it, written atomically.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from urllib.parse import unquote, urlparse

from moodplayer.errors import LibraryError
from moodplayer.music.track import Track, is_url, is_windows_path

_EXTINF = re.compile(r'#EXTINF:\s*(-?\d+(?:\.\d+)?)?((?:\s+[\w-]+="[^"]*")*)\s*,(.*)$', re.IGNORECASE)


@dataclass(frozen=True)
class M3UEntry:
    """One playlist line: the track as described, and whether its file was found."""

    track: Track
    found: bool
    written: str  # the location as the file spelled it, for reporting


def read_m3u(path: str | Path) -> list[M3UEntry]:
    """The entries of an M3U/M3U8 file, in order, with locations resolved."""
    path = Path(path)
    if path.suffix.lower() not in (".m3u", ".m3u8"):
        raise LibraryError(f"{path} is not an M3U playlist (expected .m3u or .m3u8)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LibraryError(f"cannot read {path}: {exc.strerror or exc}") from None
    text = _decode(raw)
    if "\0" in text:
        raise LibraryError(f"{path} is not a text playlist (it holds binary data)")
    base = path.absolute().parent
    entries, info = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _EXTINF.match(line)
            info = match if match else info
            continue
        entries.append(_entry(line, base, info))
        info = None
    return entries


def write_m3u(path: str | Path, tracks: Iterable[Track]) -> None:
    """Write ``tracks`` as an extended M3U at ``path``, atomically."""
    path = Path(path).absolute()
    base = path.parent
    lines = ["#EXTM3U"]
    for track in tracks:
        seconds = round(track.duration) if track.duration else -1
        label = f"{track.artist} - {track.title}" if track.artist and track.title else track.title
        lines.append(f"#EXTINF:{seconds},{label or _stem(track.location)}")
        lines.append(_relative(track.location, base))
    _atomic_write(path, "\n".join(lines) + "\n")


def _decode(raw: bytes) -> str:
    """UTF-16 when it starts with its byte-order mark (some Windows tools); else UTF-8 (with or
    without BOM); failing that, Windows-1252 as Winamp wrote it."""
    from moodplayer.files import legacy_text

    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return legacy_text(raw)


def _entry(written: str, base: Path, info: re.Match | None) -> M3UEntry:
    location, found = resolve_location(written, base)
    title = artist = duration = None
    if info:
        seconds = float(info.group(1)) if info.group(1) else -1
        duration = seconds if seconds > 0 else None
        label = info.group(3).strip()
        artist, sep, rest = label.partition(" - ")
        title, artist = (rest, artist) if sep else (label, None)
    track = Track(location=location, title=title or None, artist=artist or None, duration=duration)
    return M3UEntry(track=track, found=found, written=written)


def resolve_location(written: str, base: Path) -> tuple[str, bool]:
    """Where a playlist line points, and whether it exists.

    Returns an absolute path (or a URL, kept as is). A name that differs from
    the file's only in letter case is found too: playlists written on Windows
    or macOS, whose file systems ignore case, often spell names differently
    from the files they point at. A Windows absolute path that is nowhere to be
    found is returned as written: there is no honest POSIX spelling of ``C:\\``.
    """
    if is_url(written):
        return written, True
    text = _from_file_uri(written) if written.lower().startswith("file:") else written
    if "\\" not in text and not is_windows_path(text):
        return _located(os.path.normpath(os.path.join(base, text)))  # join keeps `text` when absolute
    windows = PureWindowsPath(text)
    if not windows.anchor:
        return _located(os.path.normpath(os.path.join(base, *windows.parts)))
    for start in range(1, len(windows.parts)):
        found = _existing(os.path.normpath(os.path.join(base, *windows.parts[start:])))
        if found:
            return found, True
    return written, False


def _located(path: str) -> tuple[str, bool]:
    """(``path`` as it exists on disk, True), or (``path``, False) when it does not."""
    found = _existing(path)
    return (found, True) if found else (path, False)


def _existing(path: str) -> str | None:
    """``path`` as it exists on disk: as written, in another Unicode normal form, or ignoring case."""
    for spelling in _spellings(path):
        if os.path.exists(spelling):
            return spelling
    return _ignoring_case(path)


def _ignoring_case(path: str) -> str | None:
    """The one existing path that matches ``path`` name by name, ignoring case and Unicode form."""
    found = os.sep if os.path.isabs(path) else os.curdir
    for name in Path(path).parts[1 if os.path.isabs(path) else 0 :]:
        step = os.path.join(found, name)
        if not os.path.exists(step):
            try:
                matches = [n for n in os.listdir(found) if _fold(n) == _fold(name)]
            except OSError:
                return None
            if len(matches) != 1:
                return None
            step = os.path.join(found, matches[0])
        found = step
    return found


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _spellings(path: str) -> list[str]:
    """The path as written, then in Unicode NFC and NFD: macOS writes names decomposed."""
    return list(dict.fromkeys([path, unicodedata.normalize("NFC", path), unicodedata.normalize("NFD", path)]))


def _from_file_uri(uri: str) -> str:
    """``file:///home/u/a%20b.mp3`` → ``/home/u/a b.mp3``; ``file:///C:/x.mp3`` → ``C:/x.mp3``."""
    path = unquote(urlparse(uri).path)
    if path.startswith("/") and is_windows_path(path[1:]):
        path = path[1:]
    return path


def _relative(location: str, base: Path) -> str:
    """A path under ``base`` relative to it (with ``/``); anything else unchanged."""
    if is_url(location) or not os.path.isabs(location):
        return location
    try:
        if os.path.commonpath([location, str(base)]) == str(base):
            return Path(os.path.relpath(location, base)).as_posix()
    except ValueError:
        pass
    return location


def _stem(location: str) -> str:
    return location if is_url(location) else Path(location).stem


def _atomic_write(path: Path, text: str) -> None:
    """Write the playlist atomically: a reader (or a crash) sees the old one or the new one, never half."""
    from moodplayer.files import atomic_write

    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise LibraryError(f"cannot write {path}: {exc.strerror or exc}") from None
