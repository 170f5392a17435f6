"""Writing files so that a crash never leaves half of one and nothing already there is
destroyed, and reading the text of files other software wrote.

Everything moodplayer writes goes through :func:`atomic_write`: its own files
(models, profiles, samples' metadata, the model pointer) and the ones a user
asks for (exported playlists and models, ``train --out``). Torch-free on
purpose, so small writes never pay for its import.

A model is two files, its arrays (``name.safetensors``) and a JSON sidecar
(``name.json``) carrying their sha256: :func:`save_checksummed` writes the pair,
:func:`read_checksummed` reads it back or says in one line what is wrong. Every
record moodplayer writes is stamped with :func:`utc_now`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from moodplayer.errors import ModelError, OutputError

log = logging.getLogger(__name__)

#: The name that means standard output where a user gives a file to write.
STDOUT = "-"


def utc_now() -> str:
    """The time now in UTC, ISO 8601 to the second (``2026-01-31T12:00:00+00:00``): the stamp of
    every record moodplayer writes (library rows, samples, model versions, voice profiles)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def atomic_write(path: str | Path, data: bytes, parents: bool = True) -> None:
    """Write ``data`` at ``path`` whole or not at all, respecting what is already there.

    Nothing there, or a regular file: a temp file in the same folder, fsync, a
    rename over the target, then the folder fsynced so that the rename itself
    survives a power cut; a replaced file keeps its mode. A symlink is followed
    and the file it names replaced, the link kept (a dotfiles manager's). A FIFO
    or a character device (a terminal, ``/dev/null``, ``/dev/stdout``'s pipe) and
    ``-`` (standard output) are written directly: renaming over them would destroy
    them, and they hold no old content to protect. A folder, a block device or a
    socket is refused. Every failure (a full disk, no permission) is one
    :class:`OutputError` line. ``parents``: create missing folders on the way
    (for moodplayer's own files; a file a user names must be in a folder that exists).
    """
    if str(path) == STDOUT:
        _write_through(sys.stdout.buffer, data, path)
        return
    try:
        found = os.stat(path)  # through symlinks
    except FileNotFoundError:
        found = None
    except OSError as exc:
        raise _failure(path, exc) from None
    if found is not None and not stat.S_ISREG(found.st_mode):
        if not (stat.S_ISFIFO(found.st_mode) or stat.S_ISCHR(found.st_mode)):
            raise OutputError(f"cannot write {path}: it is {_kind(found.st_mode)}, not a file")
        try:
            with open(path, "wb") as stream:
                _write_through(stream, data, path)
        except OSError as exc:
            raise _failure(path, exc) from None
        return
    mode = stat.S_IMODE(found.st_mode) if found is not None else file_mode()
    try:
        _replace(Path(os.path.realpath(path)), data, mode, parents)
    except OSError as exc:
        raise _failure(path, exc) from None


def _replace(target: Path, data: bytes, mode: int, parents: bool) -> None:
    """Temp file beside ``target``, fsync, rename over it, fsync the folder."""
    if parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:64]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def _write_through(stream, data: bytes, path: str | Path) -> None:
    try:
        stream.write(data)
        stream.flush()
    except OSError as exc:
        raise _failure(path, exc) from None


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new name in ``folder`` durable (where the file system can)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


def _failure(path: str | Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {exc.strerror or exc}")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "a socket" if stat.S_ISSOCK(mode) else "a special file"


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


def sidecar_path(path: Path) -> Path:
    """``models/emotion-lstm.safetensors`` → ``models/emotion-lstm.json``."""
    return Path(path).with_suffix(".json")


def save_checksummed(path: Path, blob: bytes, metadata: dict) -> dict:
    """Write a model's bytes and its sidecar (with their sha256); returns the metadata written.

    The sidecar is written last, so a crash between the two writes leaves a
    pair that fails to load instead of a silently mismatched one.
    """
    metadata = {**metadata, "weights_sha256": hashlib.sha256(blob).hexdigest()}
    atomic_write(Path(path), blob)
    atomic_write(sidecar_path(path), (json.dumps(metadata, indent=2) + "\n").encode())
    return metadata


def read_sidecar(path: Path, fmt: str, required: Iterable[str]) -> dict:
    """The sidecar of a model file, checked for its format and the fields every user of it needs."""
    side = sidecar_path(path)
    if not side.is_file():
        raise ModelError(f"model metadata {side} is missing (it must sit next to {Path(path).name})")
    try:
        metadata = json.loads(side.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.debug("model metadata %s: %s: %s", side, type(exc).__name__, exc)  # shown with --debug
        raise ModelError(f"model metadata {side} is damaged (not readable JSON); restore it or retrain") from None
    if not isinstance(metadata, dict) or metadata.get("format") != fmt:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise ModelError(f"{path} is not a model this version can use (format {found!r}, expected {fmt!r})")
    for key in (*required, "weights_sha256"):
        if key not in metadata:
            raise ModelError(f"model metadata {side} lacks {key!r}")
    return metadata


def read_checksummed(path: Path, fmt: str, required: Iterable[str]) -> tuple[bytes, dict]:
    """A model's bytes and metadata, once the bytes match the sidecar's sha256."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    metadata = read_sidecar(path, fmt, required)
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != metadata["weights_sha256"]:
        raise ModelError(f"model file {path} is damaged or was changed (checksum mismatch); retrain or restore it")
    return blob, metadata
