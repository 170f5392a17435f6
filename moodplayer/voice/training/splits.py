"""Splits by speaker: cross-validation's folds, and the validation speakers carved from training's.

Emotion corpora have few speakers and many clips each; a split by clip puts
every test voice in training too and inflates accuracy by 30-50 points. So
cross-validation holds out whole groups of speakers (RAVDESS actors 01-04,
05-08, ... in turn), and calibration (and early stopping, when asked for) use
*validation speakers* carved from the training speakers, never the test fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from moodplayer.errors import MoodplayerError
from moodplayer.text import count
from moodplayer.voice.training.examples import Example


def speaker_folds(names: Iterable[str], k: int) -> list[list[str]]:
    """``k`` groups of consecutive speakers (sorted): RAVDESS 01-20, k=5 → 01-04, 05-08, …"""
    names = sorted(names)
    if k < 2 or len(names) < k:
        need = "needs" if k == 1 else "need"
        raise MoodplayerError(f"{count(k, 'fold')} {need} at least {max(k, 2)} speakers; the data has {len(names)}")
    bounds = np.linspace(0, len(names), k + 1).round().astype(int)
    return [names[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


class FromCorpus(Protocol):
    """A clip of someone's from some corpus (a datasets.Clip, an Example)."""

    @property
    def speaker(self) -> str: ...

    @property
    def corpus(self) -> str: ...


def corpus_folds(clips: Iterable[FromCorpus], k: int) -> list[list[str]]:
    """``k`` folds of speakers: the i-th fold holds the i-th group (:func:`speaker_folds`) of every
    corpus with at least ``k`` speakers. A corpus of fewer speakers (TESS's two) is never held out:
    its speakers train every fold's model, and speaker generalisation is judged on the others."""
    by_corpus: dict[str, set[str]] = {}
    for clip in clips:
        by_corpus.setdefault(clip.corpus, set()).add(clip.speaker)
    folded = [speaker_folds(names, k) for names in by_corpus.values() if len(names) >= k]
    if not folded:
        most = max(len(names) for names in by_corpus.values())
        need = "needs" if k == 1 else "need"
        raise MoodplayerError(
            f"{count(k, 'fold')} {need} a corpus of at least {max(k, 2)} speakers; the largest has {most}"
        )
    return [sorted(name for groups in folded for name in groups[i]) for i in range(k)]


def validation_speakers(names: Iterable[str], fraction: float) -> list[str]:
    """The last speakers of the (sorted) training speakers, to stop early and calibrate on.

    RAVDESS alternates male/female actors, so the last two are one of each.
    """
    names = sorted(names)
    if len(names) < 2:
        raise MoodplayerError(
            "training needs at least 2 speakers (one to validate on); for a folder-per-label tree, "
            "name the speaker with --speaker-pattern"
        )
    count = min(len(names) - 1, max(1, round(fraction * len(names))))
    return names[-count:]


def corpus_validation_speakers(clips: Iterable[FromCorpus], fraction: float) -> list[str]:
    """Validation speakers (:func:`validation_speakers`) of each corpus with enough speakers that
    ``fraction`` of them is one or more, or else of the corpus with the most: a corpus of two
    speakers (TESS) would otherwise give half its voices to validation, and train on one."""
    by_corpus: dict[str, set[str]] = {}
    for clip in clips:
        by_corpus.setdefault(clip.corpus, set()).add(clip.speaker)
    large = [names for names in by_corpus.values() if len(names) * fraction >= 1]
    chosen = large or [max(by_corpus.values(), key=len, default=set())]
    return sorted(name for names in chosen for name in validation_speakers(names, fraction))


def split_sets(
    examples: Sequence[Example], train_speakers: Sequence[str], fraction: float, validate: bool = True
) -> tuple[list[Example], list[Example], list[str]]:
    """(training clips, validation clips, validation speakers) of ``train_speakers``, a ``fraction``
    of them validating; with ``validate=False`` every speaker trains and there are no validation clips."""
    training = [ex for ex in examples if ex.speaker in train_speakers]
    valid_names = corpus_validation_speakers(training, fraction) if validate else []
    train_set = [ex for ex in examples if ex.speaker in train_speakers and ex.speaker not in valid_names]
    valid_set = [ex for ex in examples if ex.speaker in valid_names]
    return train_set, valid_set, valid_names
