"""Splits by speaker: cross-validation's folds, and the validation speakers carved from training's.

Emotion corpora have few speakers and many clips each; a split by clip puts
every test voice in training too and inflates accuracy by 30-50 points. So
cross-validation holds out whole groups of speakers (RAVDESS actors 01-04,
05-08, ... in turn), and calibration (and early stopping, when asked for) use
*validation speakers* carved from the training speakers, never the test fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from moodplayer.errors import MoodplayerError
from moodplayer.voice.training.examples import Example


def speaker_folds(names: Iterable[str], k: int) -> list[list[str]]:
    """``k`` groups of consecutive speakers (sorted): RAVDESS 01-20, k=5 → 01-04, 05-08, …"""
    names = sorted(names)
    if k < 2 or len(names) < k:
        raise MoodplayerError(f"{k} folds need at least {max(k, 2)} speakers; the data has {len(names)}")
    bounds = np.linspace(0, len(names), k + 1).round().astype(int)
    return [names[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


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


def split_sets(
    examples: Sequence[Example], train_speakers: Sequence[str], fraction: float, validate: bool = True
) -> tuple[list[Example], list[Example], list[str]]:
    """(training clips, validation clips, validation speakers) of ``train_speakers``, a ``fraction``
    of them validating; with ``validate=False`` every speaker trains and there are no validation clips."""
    valid_names = sorted(validation_speakers(train_speakers, fraction)) if validate else []
    train_set = [ex for ex in examples if ex.speaker in train_speakers and ex.speaker not in valid_names]
    valid_set = [ex for ex in examples if ex.speaker in valid_names]
    return train_set, valid_set, valid_names
