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
the caller keeps them as missing. Entries found that are not audio (``/etc/passwd``,
a folder, a device) are marked so, for the caller to leave out. Only a regular
file of at most :data:`MAX_BYTES` is read as a playlist: a link to ``/dev/zero``
or a FIFO is refused, not read until memory or patience runs out.

Writing produces ``#EXTM3U`` with ``#EXTINF`` lines, UTF-8, paths relative
to the playlist's folder for files under it, written by :func:`files.atomic_write`.
Nothing in a title or a file name can start another line: a title's control
characters become spaces, and a file name that is not one plain line of UTF-8
(a newline, bytes that are not UTF-8, a leading ``#`` or space) is written as a
percent-encoded ``file://`` URI, which reads back as the same bytes.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from urllib.parse import quote, unquote_to_bytes, urlparse

from moodplayer.errors import LibraryError
from moodplayer.music.track import Track, is_url, is_windows_path
from moodplayer.text import is_plain, one_line

_EXTINF = re.compile(r'#EXTINF:\s*(-?\d+(?:\.\d+)?)?((?:\s+[\w-]+="[^"]*")*)\s*,(.*)$', re.IGNORECASE)
#: The largest playlist file read (some 40 000 entries).
MAX_BYTES = 8 << 20


@dataclass(frozen=True)
class M3UEntry:
    """One playlist line: the track as described, and whether its file was found."""

    track: Track
    found: bool
    written: str  # the location as the file spelled it, for reporting
    audio: bool = True  # False: found, but not an audio file (a text file, a folder, a device)


def read_m3u(path: str | Path) -> list[M3UEntry]:
    """The entries of an M3U/M3U8 file, in order, with locations resolved."""
    path = Path(path)
    if path.suffix.lower() not in (".m3u", ".m3u8"):
        raise LibraryError(f"{path} is not an M3U playlist (expected .m3u or .m3u8)")
    text = _decode(_read_bounded(path))
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


def _read_bounded(path: Path) -> bytes:
    """The bytes of a regular playlist file of at most :data:`MAX_BYTES`, else a one-line error.

    Opened without blocking and checked on the open descriptor, so a FIFO is
    refused instead of waiting for a writer, and nothing is swapped in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise LibraryError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LibraryError(f"{path} is not a playlist file (it is a folder, a device or a FIFO)")
        try:
            raw = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise LibraryError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise LibraryError(f"{path} is larger than {MAX_BYTES >> 20} MB: too large for a playlist")
    return raw


def write_m3u(path: str | Path, tracks: Iterable[Track]) -> None:
    """Write ``tracks`` as an extended M3U at ``path`` (``-``: standard output)."""
    from moodplayer.files import STDOUT, atomic_write

    base = Path.cwd() if str(path) == STDOUT else Path(path).absolute().parent
    lines = ["#EXTM3U"]
    for track in tracks:
        seconds = round(track.duration) if track.duration else -1
        label = f"{track.artist} - {track.title}" if track.artist and track.title else track.title
        lines.append(f"#EXTINF:{seconds},{one_line(label or _stem(track.location))}")
        lines.append(_line(track.location, base))
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"), parents=False)


def _line(location: str, base: Path) -> str:
    """The line that names ``location``: relative under ``base``, else as stored; a URI when the
    name is not one plain line (it would split the entry, start a comment or lose its bytes)."""
    if location.startswith(("http://", "https://")):
        return re.sub("[^!-~]", lambda m: quote(m.group()), location)
    written = _relative(location, base)
    if is_plain(written) and written == written.strip() and not written.startswith("#"):
        return written
    return Path(os.path.abspath(location)).as_uri()


def _decode(raw: bytes) -> str:
    """UTF-16 when it starts with its byte-order mark (some Windows tools); else UTF-8 (with or
    without BOM); failing that, Windows-1252 as Winamp wrote it."""
    from moodplayer.files import legacy_text

    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    return legacy_text(raw)


def _entry(written: str, base: Path, info: re.Match | None) -> M3UEntry:
    location, found = resolve_location(written, base)
    audio = not found or location.lower().startswith(("http://", "https://")) or _is_audio_file(location)
    title = artist = duration = None
    if info:
        seconds = float(info.group(1)) if info.group(1) else -1
        duration = seconds if seconds > 0 else None
        label = info.group(3).strip()
        artist, sep, rest = label.partition(" - ")
        title, artist = (rest, artist) if sep else (label, None)
    track = Track(location=location, title=title or None, artist=artist or None, duration=duration)
    return M3UEntry(track=track, found=found, written=written, audio=audio)


def _is_audio_file(location: str) -> bool:
    """A regular file with a music file's extension: what a playlist may bring into the library."""
    from moodplayer.music.scan import is_audio

    return os.path.isfile(location) and is_audio(location)


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
    path = os.fsdecode(unquote_to_bytes(urlparse(uri).path))
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
