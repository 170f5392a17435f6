"""Writing the files moodplayer owns so that a crash never leaves half of one, and reading
the text of files other software wrote.

Models, their metadata, voice profiles, samples' metadata, the model pointer
and exported playlists all go through :func:`atomic_write`: a temp file in the
same folder, fsync, then a rename over the target. Readers see the old file or
the new one. Torch-free on purpose, so small writes never pay for its import.

A model is two files, its arrays (``name.safetensors``) and a JSON sidecar
(``name.json``) carrying their sha256: :func:`save_checksummed` writes the pair,
:func:`read_checksummed` reads it back or says in one line what is wrong. Every
record moodplayer writes is stamped with :func:`utc_now`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from moodplayer.errors import ModelError


def utc_now() -> str:
    """The time now in UTC, ISO 8601 to the second (``2026-01-31T12:00:00+00:00``): the stamp of
    every record moodplayer writes (library rows, samples, model versions, voice profiles)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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
        raise ModelError(f"model metadata {side} is damaged ({type(exc).__name__})") from None
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
