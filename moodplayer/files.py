"""Writing the files moodplayer owns so that a crash never leaves half of one, and reading
the text of files other software wrote.

Models, their metadata, voice profiles, samples' metadata, the model pointer
and exported playlists all go through :func:`atomic_write`: a temp file in the
same folder, fsync, then a rename over the target. Readers see the old file or
the new one. Torch-free on purpose, so small writes never pay for its import.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` via a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_mode() -> int:
    """The mode a plain new file gets under the current umask (mkstemp makes them 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o644 & ~mask


def legacy_text(raw: bytes) -> str:
    """UTF-8 (a byte-order mark dropped); failing that, Windows-1252, as older Windows software
    (Winamp's playlists, RIFF INFO tags) wrote text."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
