"""The personal sample store: the user's own labelled voice clips, for fine-tuning.

Clips recorded with ``moodplayer record``, recordings the user already has
(``samples add``: voice memos, a phone's clips) and clips the user corrected in
``listen`` ("wrong mood") land here alike, in ``<home>/samples/``: each one is
a 16 kHz mono FLAC trimmed to its speech and a JSON sidecar (emotion, date,
duration, source). The FLAC is written first and the sidecar last, both
atomically, so a crash mid-save leaves at worst an orphan FLAC, which is
never listed, never a clip with a wrong or missing label. A sample whose
sidecar or audio is damaged is left out of the list and of training, with a
warning that names it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodplayer.errors import MoodplayerError
from moodplayer.files import utc_now

log = logging.getLogger(__name__)

SOURCES = ("recorded", "imported", "feedback")
#: The most speech one clip may hold: a sentence or two, as ``record`` takes at most.
MAX_SECONDS = 30.0
#: Every personal clip is one speaker: the user.
SPEAKER = "user"


class SampleError(MoodplayerError):
    """A sample ID that does not exist, or a clip that cannot be stored."""


@dataclass(frozen=True)
class Sample:
    """One stored clip and what is known about it."""

    id: int
    emotion: str
    source: str
    created: str
    duration: float
    path: Path
    extra: dict

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "emotion": self.emotion,
            "source": self.source,
            "created": self.created,
            "duration": self.duration,
            "path": str(self.path),
            **self.extra,
        }


def samples_dir() -> Path:
    from moodplayer.paths import home

    path = home() / "samples"
    path.mkdir(parents=True, exist_ok=True)
    return path


def add_file(path: Path, emotion: str) -> Sample:
    """Store a recording the user already has, checked as a recorded clip is.

    Any format :func:`~moodplayer.voice.audio.load_audio` reads; speech must be
    heard in it, and no more than :data:`MAX_SECONDS` of it (a long memo is
    refused, not cut at a place that may fall mid-word).
    """
    from moodplayer.voice.audio import load_audio

    return add(load_audio(path), emotion, "imported", heard_in=str(path), file=Path(path).name)


def add(samples: np.ndarray, emotion: str, source: str, *, heard_in: str = "the recording", **extra) -> Sample:
    """Store a clip, trimmed to its speech; :class:`~moodplayer.errors.NoSpeechError` if there is none.

    The ID is claimed by hard-linking the finished FLAC under its final name,
    which fails if another process took the same ID first; then we try the next.
    """
    import soundfile as sf

    from moodplayer.emotions import parse_emotion
    from moodplayer.files import atomic_write, file_mode
    from moodplayer.voice.audio import SAMPLE_RATE, speech_only

    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    try:
        emotion = parse_emotion(emotion)
    except ValueError as exc:
        raise SampleError(str(exc)) from None
    speech = speech_only(np.asarray(samples, dtype=np.float32), heard_in)
    if speech.size > MAX_SECONDS * SAMPLE_RATE:
        raise SampleError(
            f"{heard_in} holds {speech.size / SAMPLE_RATE:.0f} s of speech; a sample is a sentence or two "
            f"(at most {MAX_SECONDS:.0f} s): cut it into shorter clips"
        )
    folder = samples_dir()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".clip.", suffix=".flac.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            sf.write(fh, speech, SAMPLE_RATE, format="FLAC")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        sample_id = _claim(Path(tmp), emotion)
    finally:
        Path(tmp).unlink(missing_ok=True)
    meta = {
        "id": sample_id,
        "emotion": emotion,
        "source": source,
        "created": utc_now(),
        "duration": round(speech.size / SAMPLE_RATE, 2),
        **extra,
    }
    flac = _flac_path(sample_id, emotion)
    atomic_write(flac.with_suffix(".json"), (json.dumps(meta, indent=2) + "\n").encode())
    return _from_meta(meta, flac)


def _claim(tmp: Path, emotion: str) -> int:
    """Link ``tmp`` under the first free ID; returns that ID."""
    sample_id = _last_id() + 1
    while True:
        try:
            os.link(tmp, _flac_path(sample_id, emotion))
            return sample_id
        except FileExistsError:
            sample_id += 1


def _last_id() -> int:
    ids = [int(p.name.split("-", 1)[0]) for p in samples_dir().glob("[0-9]*-*.flac")]
    return max(ids, default=0)


def _flac_path(sample_id: int, emotion: str) -> Path:
    return samples_dir() / f"{sample_id:04d}-{emotion}.flac"


def _from_meta(meta: dict, flac: Path) -> Sample:
    """The sample a sidecar describes; ``ValueError``/``KeyError``/``TypeError`` for one that does not."""
    from datetime import datetime

    known = {"id", "emotion", "source", "created", "duration"}
    datetime.fromisoformat(meta["created"])  # shown as a date: it must be one
    return Sample(
        id=int(meta["id"]),
        emotion=meta["emotion"],
        source=meta["source"],
        created=meta["created"],
        duration=float(meta["duration"]),
        path=flac,
        extra={k: v for k, v in meta.items() if k not in known},
    )


def all_samples() -> list[Sample]:
    """Every complete clip (sidecar readable, FLAC present and readable as audio), by ID.

    A damaged one cannot be trusted (its label may be wrong, its audio gone), so it is
    not offered; a warning names it, and the files stay for the user to look at.
    """
    import soundfile as sf

    found = []
    for side in sorted(samples_dir().glob("[0-9]*-*.json")):
        flac = side.with_suffix(".flac")
        try:
            sample = _from_meta(json.loads(side.read_text()), flac)
            sf.info(os.fsencode(flac))  # the header: a FLAC cut to nothing or overwritten fails here
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            log.debug("sample %s: %s: %s", side.stem, type(exc).__name__, exc)  # shown with --debug
            reason = "its audio is missing" if not flac.exists() else "its files cannot be read"
            log.warning(f"sample {side.stem} is damaged ({reason}); left out (its files are in {side.parent})")
            continue
        found.append(sample)
    return sorted(found, key=lambda s: s.id)


def get(sample_id: int) -> Sample:
    """The clip with this ID, or :class:`SampleError`."""
    for sample in all_samples():
        if sample.id == sample_id:
            return sample
    raise SampleError(f"no personal sample {sample_id} (see: moodplayer samples list)")


def delete(sample_id: int) -> Sample:
    """Remove a clip: sidecar first, so an interrupted delete leaves only an unlisted FLAC."""
    sample = get(sample_id)
    sample.path.with_suffix(".json").unlink()
    sample.path.unlink(missing_ok=True)
    return sample


def clips() -> list:
    """The store as training :class:`~moodplayer.voice.datasets.Clip`\\s, all spoken by :data:`SPEAKER`."""
    from moodplayer.voice.datasets import Clip

    return [Clip(s.path, s.emotion, SPEAKER, "personal") for s in all_samples()]
