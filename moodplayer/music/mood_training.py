"""Training and scoring the music-mood model on labelled music.

A labelled folder holds audio clips and a ``labels.csv`` naming, for each,
its ``file`` (relative to the folder), its ``quadrant`` (Q1…Q4) and, for
training, its ``artist`` (clips without one are held out together, as one
artist); ``valence`` and ``arousal`` columns holding ratings
(values other than the quadrant's signs ±1) add correlations to the scores.

Training cross-validates on folds that keep each artist's clips together
(a model scored on an artist it trained on learns the artist, not the mood),
scoring beside it the hand-written formula of
:func:`moodplayer.music.scan.mood_point` and a reference recipe (logistic
regression on a 235-feature librosa summary) on the same folds, then fits the
model on every clip. sklearn is used here only; the model it writes is numpy
arrays (:mod:`moodplayer.music.mood_model`).

Features are cached under the moodplayer cache folder, keyed by file, size,
modification time and :data:`~moodplayer.music.mood_features.FEATURES_VERSION`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from moodplayer.errors import MoodplayerError
from moodplayer.files import utc_now
from moodplayer.music.mood_model import QUADRANTS
from moodplayer.text import count

if TYPE_CHECKING:
    import numpy as np

    from moodplayer.music.mood_model import MoodModel

log = logging.getLogger(__name__)

LABELS = "labels.csv"
FOLDS = 5
#: Inverse regularisation of the model; strong, as 955 features meet a few hundred clips.
C = 0.01
#: The reference recipe: librosa's usual summary (log-mel, MFCC, contrast, chroma, onset and spectral
#: means and spreads), standardised, logistic regression with C = 0.1.
REFERENCE_FEATURES = (
    "mel64_mean",
    "mel64_std",
    "mfcc_mean",
    "mfcc_std",
    "mfcc_delta_std",
    "contrast_mean",
    "contrast_std",
    "chroma_mean",
    "chroma_std",
    "onset_mean",
    "onset_std",
    "tempo",
    "rms_mean",
    "rms_std",
    "zcr_mean",
    "centroid_mean",
    "centroid_std",
    "flatness_mean",
)
REFERENCE_C = 0.1
#: Features of a clip as cached: the vector, then tempo, energy, brightness, majorness.
DESCRIPTORS = 4
#: New features are written to the cache at least this often (clips), so an interrupted run keeps them.
CACHE_EVERY = 64


class DataError(MoodplayerError):
    """A labelled folder that cannot be used: no labels, unknown quadrants, missing clips."""


@dataclass(frozen=True)
class Clip:
    """One labelled clip: its file (relative), quadrant index (0 = Q1), artist, and ratings if any."""

    file: str
    quadrant: int
    artist: str | None
    valence: float | None = None
    arousal: float | None = None


@dataclass(frozen=True)
class Dataset:
    """A labelled folder's usable clips and their features (rows in clip order)."""

    folder: Path
    clips: list[Clip]
    features: np.ndarray  # (clips, features)
    descriptors: np.ndarray  # (clips, 4): tempo, energy, brightness, majorness
    skipped: list[tuple[str, str]]  # (file, why) for clips that could not be decoded


Progress = Callable[[int, int], None]


def read_labels(folder: Path) -> list[Clip]:
    """The clips ``folder/labels.csv`` lists, checked: known quadrants, files present."""
    path = Path(folder) / LABELS
    if not path.is_file():
        raise DataError(f"{folder} has no {LABELS} (columns: file, quadrant, artist; optional valence, arousal)")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"file", "quadrant"} <= set(rows[0]):
        raise DataError(f"{path} needs the columns file and quadrant (Q1-Q4), one row per clip")
    clips = [_clip(row, path, line) for line, row in enumerate(rows, start=2)]
    absent = [clip.file for clip in clips if not (Path(folder) / clip.file).is_file()]
    if absent:
        are = "is" if len(absent) == 1 else "are"
        raise DataError(f"{count(len(absent), 'clip')} listed in {path} {are} not in {folder}, the first: {absent[0]}")
    return clips


def _clip(row: dict, path: Path, line: int) -> Clip:
    quadrant = (row.get("quadrant") or "").strip().upper().removeprefix("Q")
    if quadrant not in ("1", "2", "3", "4"):
        raise DataError(f"{path} line {line}: quadrant {row.get('quadrant')!r} is not one of Q1, Q2, Q3, Q4")
    return Clip(
        file=row["file"].strip(),
        quadrant=int(quadrant) - 1,
        artist=(row.get("artist") or "").strip() or None,
        valence=_number(row.get("valence")),
        arousal=_number(row.get("arousal")),
    )


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def load_dataset(folder: Path, jobs: int | None = None, progress: Progress | None = None) -> Dataset:
    """A labelled folder's clips with their features, extracted in ``jobs`` processes or from the cache."""
    import numpy as np

    folder = Path(folder).resolve()
    clips = read_labels(folder)
    rows = _features([folder / clip.file for clip in clips], jobs, progress)
    usable = [i for i, row in enumerate(rows) if not isinstance(row, str)]
    skipped = [(clips[i].file, str(row)) for i, row in enumerate(rows) if isinstance(row, str)]
    for file, why in skipped:
        log.warning("skipped %s: %s", file, why)
    if not usable:
        raise DataError(f"no clip in {folder} could be decoded")
    table = np.stack([rows[i] for i in usable])
    return Dataset(
        folder=folder,
        clips=[clips[i] for i in usable],
        features=table[:, :-DESCRIPTORS],
        descriptors=table[:, -DESCRIPTORS:],
        skipped=skipped,
    )


def clip_features(path: str) -> np.ndarray | str:
    """One clip's feature vector and descriptors, or why it cannot be decoded. Runs in a worker process."""
    import numpy as np

    from moodplayer.music.mood_features import extract
    from moodplayer.music.scan import UnreadableAudio, load_excerpt, read_tags

    try:
        analysis = extract(load_excerpt(path, read_tags(path)["duration"]))
    except UnreadableAudio as exc:
        return str(exc) or "not decodable audio"
    return np.concatenate([analysis.vector, analysis[1:]])


def _features(paths: list[Path], jobs: int | None, progress: Progress | None) -> list:
    """Each file's cached or freshly extracted features (or why it failed), in order."""
    from moodplayer.music.scan import parallel_map

    cache = _FeatureCache()
    keys = [_cache_key(path) for path in paths]
    rows = [cache.get(key) for key in keys]
    todo = [i for i, row in enumerate(rows) if row is None]
    done = len(paths) - len(todo)
    if progress:
        progress(done, len(paths))
    for extracted, (i, row) in enumerate(
        zip(todo, parallel_map(clip_features, [str(paths[i]) for i in todo], jobs)), 1
    ):
        rows[i] = row
        if not isinstance(row, str):
            cache.put(keys[i], row)
        if extracted % CACHE_EVERY == 0:
            cache.save()
        if progress:
            progress(done + extracted, len(paths))
    cache.save()
    return rows


def _cache_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"


class _FeatureCache:
    """Clip features by file, size and mtime, in one ``.npz`` per feature version (no pickle)."""

    def __init__(self) -> None:
        import numpy as np

        from moodplayer.music.mood_features import FEATURES_VERSION
        from moodplayer.paths import cache_dir

        self.path = cache_dir() / f"{FEATURES_VERSION}.npz"
        self.rows: dict[str, np.ndarray] = {}
        self.changed = False
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                self.rows = dict(zip(stored["keys"].tolist(), stored["rows"]))
        except (OSError, ValueError, KeyError) as exc:
            if self.path.exists():
                log.warning("feature cache %s unreadable (%s); extracting again", self.path, exc)

    def get(self, key: str):
        return self.rows.get(key)

    def put(self, key: str, row) -> None:
        self.rows[key] = row
        self.changed = True

    def save(self) -> None:
        import numpy as np

        from moodplayer.files import atomic_write

        if not self.changed:
            return
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(list(self.rows)), rows=np.stack(list(self.rows.values())))
        atomic_write(self.path, buffer.getvalue())
        self.changed = False


# -- fitting and scoring -----------------------------------------------------------------


def fit(features: np.ndarray, quadrants: np.ndarray, c: float = C) -> dict[str, np.ndarray]:
    """The model's arrays: feature means and spreads, and a 4-class logistic regression on the standardised features."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(0)
    std = features.std(0)
    std[std < 1e-12] = 1.0
    regression = LogisticRegression(C=c, max_iter=5000).fit((features - mean) / std, quadrants)
    if list(regression.classes_) != [0, 1, 2, 3]:
        raise DataError("the training clips must hold all four quadrants")
    return {"mean": mean, "std": std, "weights": regression.coef_, "bias": regression.intercept_}


def predict(arrays: dict[str, np.ndarray], features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valence and arousal from freshly fitted arrays, as the saved model computes them."""
    from moodplayer.music.mood_model import MoodModel

    return MoodModel(**arrays, metadata={}).predict(features)


def formula(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The hand-written formula's valence and arousal for each clip: the baseline the model must beat."""
    import numpy as np

    from moodplayer.music.scan import mood_point

    points = np.array([mood_point(*row) for row in dataset.descriptors])
    return points[:, 0], points[:, 1]


def score(valence: np.ndarray, arousal: np.ndarray, clips: Sequence[Clip]) -> dict:
    """Quadrant and sign accuracies (quadrant from the signs), the confusion, and correlations with ratings."""
    import numpy as np

    from moodplayer.music.mood_model import quadrant_of

    truth = np.array([clip.quadrant for clip in clips])
    signs = np.array([(1, 1), (-1, 1), (-1, -1), (1, -1)])[truth]
    predicted = quadrant_of(valence, arousal)
    confusion = np.zeros((4, 4), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    result = {
        "clips": len(clips),
        "quadrant": round(float((predicted == truth).mean()), 4),
        "valence": round(float(((valence > 0) == (signs[:, 0] > 0)).mean()), 4),
        "arousal": round(float(((arousal > 0) == (signs[:, 1] > 0)).mean()), 4),
        "confusion": confusion.tolist(),
    }
    for axis, guess in (("valence", valence), ("arousal", arousal)):
        ratings = [getattr(clip, axis) for clip in clips]
        if None not in ratings and not set(ratings) <= {-1.0, 1.0}:
            result[f"{axis}_r"] = round(float(np.corrcoef(guess, ratings)[0, 1]), 4)
    return result


def cross_validate(dataset: Dataset, folds: int = FOLDS, c: float = C) -> dict:
    """The model, the reference recipe and the formula on the same artist-disjoint folds.

    For each: the mean over folds of quadrant, valence and arousal accuracy,
    the per-fold figures, and the confusion pooled over folds.
    """
    import numpy as np
    from sklearn.model_selection import GroupKFold

    groups = np.array([_artist(clip) for clip in dataset.clips])
    if len(set(groups)) < folds:
        raise DataError(f"{count(len(set(groups)), 'artist')} cannot fill {folds} artist-disjoint folds")
    quadrants = np.array([clip.quadrant for clip in dataset.clips])
    splits = list(GroupKFold(n_splits=folds).split(dataset.features, quadrants, groups))
    reference = reference_columns()
    predictions = {name: (np.zeros(len(quadrants)), np.zeros(len(quadrants))) for name in ("model", "reference")}
    for train, test in splits:
        for name, columns, strength in (("model", slice(None), c), ("reference", reference, REFERENCE_C)):
            arrays = fit(dataset.features[train][:, columns], quadrants[train], strength)
            predictions[name][0][test], predictions[name][1][test] = predict(arrays, dataset.features[test][:, columns])
    predictions["formula"] = formula(dataset)
    return {
        "folds": f"GroupKFold({folds}) by artist (case-folded), {count(len(quadrants), 'clip')}, "
        f"{count(len(set(groups)), 'artist')}",
        **{name: _fold_scores(v, a, dataset.clips, splits) for name, (v, a) in predictions.items()},
    }


def _artist(clip: Clip) -> str:
    """The clip's fold group: its artist, case-folded; clips of no known artist form one group."""
    return (clip.artist or "").casefold()


def _fold_scores(valence: np.ndarray, arousal: np.ndarray, clips: list[Clip], splits: list) -> dict:
    import numpy as np

    per_fold = [score(valence[test], arousal[test], [clips[i] for i in test]) for _, test in splits]
    pooled = score(valence, arousal, clips)
    mean = {
        key: round(float(np.mean([fold[key] for fold in per_fold])), 4) for key in ("quadrant", "valence", "arousal")
    }
    folds = [{key: fold[key] for key in ("clips", "quadrant", "valence", "arousal")} for fold in per_fold]
    return {**mean, "per_fold": folds, "confusion": pooled["confusion"]}


def reference_columns() -> np.ndarray:
    """Indices of the reference recipe's features within the model's."""
    import numpy as np

    from moodplayer.music.mood_features import feature_names

    wanted = set(REFERENCE_FEATURES)
    return np.array([i for i, name in enumerate(feature_names()) if name in wanted or name.rsplit("_", 1)[0] in wanted])


def train(
    folder: Path,
    output: Path,
    folds: int = FOLDS,
    c: float = C,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """Cross-validate on artist folds, fit on every clip, write the model to ``output``; returns its metadata."""
    import numpy as np
    import sklearn

    from moodplayer.music import mood_model
    from moodplayer.music.mood_features import FEATURES_VERSION
    from moodplayer.music.scan import ANALYSIS_RATE, EXCERPT_SECONDS

    dataset = load_dataset(folder, jobs, progress)
    evaluation = cross_validate(dataset, folds, c)
    quadrants = np.array([clip.quadrant for clip in dataset.clips])
    arrays = fit(dataset.features, quadrants, c)
    labels = (dataset.folder / LABELS).read_bytes()
    metadata = {
        "features": {
            "version": FEATURES_VERSION,
            "count": int(dataset.features.shape[1]),
            "excerpt": f"{EXCERPT_SECONDS:g} s from the middle, {ANALYSIS_RATE} Hz mono",
        },
        "model": {
            "kind": "multinomial logistic regression on standardised features",
            "C": c,
            "valence": "P(Q1) + P(Q4) - P(Q2) - P(Q3)",
            "arousal": "P(Q1) + P(Q2) - P(Q3) - P(Q4)",
        },
        "training": {
            "data": dataset.folder.name,
            "clips": len(dataset.clips),
            "artists": len({_artist(clip) for clip in dataset.clips}),
            "per_quadrant": {q: int((quadrants == i).sum()) for i, q in enumerate(QUADRANTS)},
            "labels_sha256": hashlib.sha256(labels).hexdigest(),
            "files": [clip.file for clip in dataset.clips],
            "skipped": [file for file, _ in dataset.skipped],
            "created": utc_now(),
            "sklearn": sklearn.__version__,
        },
        "evaluation": evaluation,
    }
    return mood_model.save(output, arrays, metadata)


def evaluate(
    folder: Path, model: MoodModel, baseline: bool = False, jobs: int | None = None, progress: Progress | None = None
) -> dict:
    """The model's scores on a labelled folder (and the formula's, with ``baseline``).

    ``trained_on`` counts the clips the model saw in training: scores on them
    are not a measure of how it does on music it has not heard.
    """
    dataset = load_dataset(folder, jobs, progress)
    training = model.metadata["training"]
    seen = set(training.get("files", [])) if dataset.folder.name == training.get("data") else set()
    result = {
        "data": str(dataset.folder),
        "model": model.version,
        "trained_on": sum(clip.file in seen for clip in dataset.clips),
        "skipped": [{"file": file, "reason": why} for file, why in dataset.skipped],
        "scores": score(*model.predict(dataset.features), dataset.clips),
    }
    if baseline:
        result["baseline"] = score(*formula(dataset), dataset.clips)
    return result
