"""Finding music files and reading what they say about themselves (tags, duration).

Tags come from mutagen, whatever the container: its "easy" interfaces give
``title``/``artist``/``album`` for MP3, MP4 and Vorbis-comment formats, while
ASF (WMA), APEv2 (WavPack, Monkey's Audio) and bare ID3 (AIFF, WAV) keep
their own frame names, so each field is looked up under every known name.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

from moodplayer.errors import LibraryError

#: What `playlist add FOLDER` and `library scan` treat as music.
AUDIO_EXTENSIONS = frozenset(
    ".mp3 .flac .ogg .oga .opus .m4a .mp4 .aac .wma .aiff .aif .wav .wv .ape".split()
)

_TAG_KEYS = {
    "title": ("title", "TIT2", "Title", "\xa9nam"),
    "artist": ("artist", "TPE1", "Author", "Artist", "\xa9ART"),
    "album": ("album", "TALB", "WM/AlbumTitle", "Album", "\xa9alb"),
}


def is_audio(path: str | Path) -> bool:
    return os.path.splitext(str(path))[1].lower() in AUDIO_EXTENSIONS


def find_audio(folder: str | Path) -> Iterator[str]:
    """Every audio file under ``folder``, recursively, sorted per folder.

    Symlinked folders are followed (music libraries are often assembled from
    links), but each real folder is visited once, so a link loop ends.
    """
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        try:
            st = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        for name in sorted(files):
            if is_audio(name):
                yield os.path.join(root, name)


def expand_items(items: Iterable[str]) -> list[str]:
    """What a user typed (files, folders, globs, http(s) URLs) as locations, in order.

    Nothing is added when any item names nothing, so a typo never leaves a
    half-filled playlist behind.
    """
    locations: list[str] = []
    for item in items:
        if item.lower().startswith(("http://", "https://")):
            locations.append(item)
        elif os.path.isdir(item):
            locations.extend(_folder(item))
        elif os.path.isfile(item):
            locations.append(item)
        elif re.search(r"[*?[]", item):
            locations.extend(_glob(item))
        else:
            raise LibraryError(f"no such file or folder: {item}")
    return locations


def _folder(folder: str) -> list[str]:
    found = list(find_audio(folder))
    if not found:
        raise LibraryError(f"no audio files in {folder} (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})")
    return found


def _glob(pattern: str) -> list[str]:
    matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
    found = [m for m in matches if os.path.isfile(m) and is_audio(m)]
    found += [f for m in matches if os.path.isdir(m) for f in find_audio(m)]
    if not found:
        raise LibraryError(f"no audio files match {pattern}")
    return found


def read_tags(path: str | Path) -> dict:
    """Title, artist, album and duration of a file; ``None`` for what it doesn't say.

    A file mutagen cannot parse (corrupt, truncated, not audio) simply has no
    tags: deciding whether it is playable is the player's and the analyser's job.
    """
    import mutagen

    result: dict = {"title": None, "artist": None, "album": None, "duration": None}
    try:
        audio = mutagen.File(str(path), easy=True)
    except Exception:  # mutagen raises MutagenError, but also struct/Index errors on damaged files
        return result
    if audio is None:
        return result
    length = getattr(audio.info, "length", None)
    if length and length > 0:
        result["duration"] = round(float(length), 3)
    if audio.tags is not None:
        for field, keys in _TAG_KEYS.items():
            result[field] = _first_text(audio.tags, keys)
    return result


def _first_text(tags, keys: Iterable[str]) -> str | None:
    for key in keys:
        try:
            value = tags[key]
        except (KeyError, ValueError, TypeError):
            continue
        if hasattr(value, "text"):  # an ID3 frame
            value = value.text
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        text = str(value).strip() if value is not None else ""
        if text:
            return text
    return None
