"""Corpus readers: a folder of labelled speech → a list of :class:`Clip`.

Each emotional-speech corpus encodes emotion and speaker in its file names in
its own way. :func:`discover` reads a folder tree, recognises each file's
convention (RAVDESS, TESS, CREMA-D, SAVEE, EmoDB) or, failing that, takes the
name of the folder the file sits in as its label (folder-per-label). Labels are
mapped onto the eight of :mod:`moodplayer.emotions`; a label outside them
(EmoDB's boredom, a user's own "excited" folder) is kept as is, so evaluation
counts it as an error rather than silently dropping it, and training skips it.

The speaker matters as much as the label: accuracy is only meaningful on
speakers the model never heard, so every reader recovers who is speaking.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import MoodplayerError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}
UNKNOWN_SPEAKER = "unknown"


@dataclass(frozen=True)
class Clip:
    """One labelled recording: where it is, what emotion, who speaks, from which corpus."""

    path: Path
    label: str
    speaker: str
    corpus: str


# --- file-name conventions, one (pattern, reader) per corpus ---------------------------------

_RAVDESS = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_RAVDESS_EMOTIONS = dict(zip(("01", "02", "03", "04", "05", "06", "07", "08"), EMOTIONS))

# TESS: OAF_back_angry.wav, YAF_youth_ps.wav ("ps" is pleasant surprise); copies renamed to the
# eight's words (OAF_back_fearful.flac, YAF_youth_surprised.flac) read the same.
_TESS = re.compile(r"^(OAF|YAF)_[A-Za-z]+_([A-Za-z]+)$", re.IGNORECASE)
_TESS_EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "fearful": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",
    "sad": "sad",
    "surprised": "surprised",
}

# CREMA-D: 1001_DFA_ANG_XX.wav (actor, sentence, emotion, intensity).
_CREMA = re.compile(r"^(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_([A-Z]{2})$")
_CREMA_EMOTIONS = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}

# SAVEE: DC_a01.wav, or DC/a01.wav in the per-speaker layout.
_SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
_SAVEE = re.compile(r"^(?:(DC|JE|JK|KL)_)?(sa|su|a|d|f|h|n)(\d\d)$")
_SAVEE_EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}

# EmoDB: 03a01Fa.wav (speaker, text, German emotion letter, version). Boredom has no
# counterpart among the eight and keeps its own label.
_EMODB = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")
_EMODB_EMOTIONS = {
    "W": "angry",
    "L": "boredom",
    "E": "disgust",
    "A": "fearful",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}


def _ravdess(path: Path) -> Clip | None:
    m = _RAVDESS.match(path.stem)
    if not m or m.group(3) not in _RAVDESS_EMOTIONS:
        return None
    return Clip(path, _RAVDESS_EMOTIONS[m.group(3)], f"ravdess-{m.group(7)}", "ravdess")


def _tess(path: Path) -> Clip | None:
    m = _TESS.match(path.stem)
    if not m or m.group(2).lower() not in _TESS_EMOTIONS:
        return None
    return Clip(path, _TESS_EMOTIONS[m.group(2).lower()], f"tess-{m.group(1).upper()}", "tess")


def _crema(path: Path) -> Clip | None:
    m = _CREMA.match(path.stem)
    if not m:
        return None
    return Clip(path, _CREMA_EMOTIONS[m.group(3)], f"crema-{m.group(1)}", "crema-d")


def _savee(path: Path) -> Clip | None:
    m = _SAVEE.match(path.stem)
    if not m:
        return None
    speaker = m.group(1) or (path.parent.name if path.parent.name in _SAVEE_SPEAKERS else None)
    if speaker is None:
        return None
    return Clip(path, _SAVEE_EMOTIONS[m.group(2)], f"savee-{speaker}", "savee")


def _emodb(path: Path) -> Clip | None:
    m = _EMODB.match(path.stem)
    if not m:
        return None
    return Clip(path, _EMODB_EMOTIONS[m.group(3)], f"emodb-{m.group(1)}", "emodb")


_READERS = (_ravdess, _crema, _emodb, _tess, _savee)


def _folder_label(path: Path, root: Path, speaker_pattern: re.Pattern | None) -> Clip | None:
    """A file directly inside ``root/<label>/``: the folder names the emotion."""
    if path.parent.parent != root:
        return None
    speaker = UNKNOWN_SPEAKER
    if speaker_pattern is not None:
        m = speaker_pattern.search(path.name)
        if m:
            speaker = m.group(1) if m.groups() else m.group(0)
    return Clip(path, path.parent.name.strip().lower(), speaker, "folder")


def _audio_files(root: Path) -> list[Path]:
    """Audio files under ``root``, sorted; symlinked folders are followed (a common way to assemble a corpus)."""
    found = []
    for folder, _, names in os.walk(root, followlinks=True):
        found += [Path(folder) / n for n in names if Path(n).suffix.lower() in AUDIO_SUFFIXES]
    return sorted(found)


def discover(root: str | Path, speaker_pattern: str | None = None) -> list[Clip]:
    """Every labelled clip under ``root``, sorted by path.

    Each file is matched against the corpus naming conventions first; a file
    no convention claims is labelled by its folder when it sits directly in
    ``root/<label>/`` (``speaker_pattern``, a regex on the file name whose
    first group names the speaker, tells who speaks there). Anything else is
    ignored. Raises :class:`MoodplayerError` when nothing labelled is found.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MoodplayerError(f"{root} is not a folder of labelled audio")
    try:
        pattern = re.compile(speaker_pattern) if speaker_pattern else None
    except re.error as exc:
        raise MoodplayerError(f"--speaker-pattern {speaker_pattern!r} is not a valid regex: {exc}") from None
    clips = []
    for path in _audio_files(root):
        clip = next((c for c in (read(path) for read in _READERS) if c is not None), None)
        clip = clip or _folder_label(path, root, pattern)
        if clip is not None:
            clips.append(clip)
    if not clips:
        raise MoodplayerError(
            f"no labelled audio found in {root}: expected RAVDESS/TESS/CREMA-D/SAVEE/EmoDB file names "
            f"or one folder per emotion (e.g. {root}/happy/*.wav)"
        )
    return clips


@dataclass(frozen=True)
class Corpus:
    """The labelled clips of one folder, named after the corpus they come from."""

    name: str
    root: Path
    clips: list[Clip]


def read_corpora(roots: Iterable[str | Path], speaker_pattern: str | None = None) -> list[Corpus]:
    """Each folder's clips (:func:`discover`) as a corpus of its own, named by its readers (RAVDESS's
    clips ``ravdess``, TESS's ``tess``, a folder-per-label tree ``folder``), or, where two folders
    would share a name, by the reader and the folder's (``folder:my-voice``). Each clip's
    ``corpus`` is its folder's name: training tells corpora apart by it."""
    found = [(Path(root).expanduser(), discover(root, speaker_pattern)) for root in roots]
    named = [(root, "+".join(sorted({c.corpus for c in clips})), clips) for root, clips in found]
    counts = Counter(name for _, name, _ in named)
    corpora = []
    for root, name, clips in named:
        name = name if counts[name] == 1 else f"{name}:{root.name}"
        corpora.append(Corpus(name, root, [replace(c, corpus=name) for c in clips]))
    return corpora


class Spoken(Protocol):
    """Anything said by someone: a clip, or a training example made of one."""

    @property
    def speaker(self) -> str: ...


def speakers(items: Iterable[Spoken]) -> list[str]:
    """The distinct speakers, in a stable (sorted) order."""
    return sorted({item.speaker for item in items})
