"""Text from outside (tags, file names, playlist lines, names) made safe to show or to write
into a line-based file; counts in words.

Linux file names are bytes: Python carries those that are not UTF-8 as lone
surrogates (``surrogateescape``), which go back to the file system unchanged
but cannot be encoded as text. Tags, playlists and names can hold control
characters: an escape sequence printed raw takes over the terminal (clears it,
retitles the window), and a newline written into an M3U line starts another
entry.
"""

from __future__ import annotations

import re

#: C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidirectional
#: overrides (which make a terminal show text in another order than it is written).
_CONTROL = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
#: What ``surrogateescape`` makes of the bytes 0x80-0xff that are not part of UTF-8.
_UNDECODABLE = "\udc80-\udcff"
_UNSAFE = re.compile(f"[{_CONTROL}{_UNDECODABLE}]")


def shown(text: str) -> str:
    """``text`` as it can be printed: a byte that is not UTF-8 as ``\\xNN`` (the name still
    reads as the bytes it holds), a control character escaped (``\\x1b``, ``\\n``)."""
    return _UNSAFE.sub(_escaped, text)


def _escaped(match: re.Match) -> str:
    char = match.group()
    if "\udc80" <= char <= "\udcff":
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


def one_line(text: str) -> str:
    """``text`` as one line of a UTF-8 text file: control characters as spaces, bytes that
    are not UTF-8 as U+FFFD."""
    return _UNSAFE.sub(lambda m: "\ufffd" if m.group() >= "\udc80" else " ", text)


def is_plain(text: str) -> bool:
    """Whether ``text`` holds no control character and no byte that is not UTF-8."""
    return _UNSAFE.search(text) is None


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 track``, ``2 tracks``, ``0 entries`` (give ``plural`` where adding an s is wrong)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
