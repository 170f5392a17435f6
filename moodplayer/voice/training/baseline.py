"""The classic recipe of blog posts, on the same speaker folds: the figure the model must beat.

Means over the whole clip of 40 MFCC, 12 chroma and 128 mel bands (180
numbers), scaled, into an MLP of 300: reported at 80-90 % with clips split at
random, it scores under 40 % on speakers it never heard.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moodplayer.emotions import EMOTIONS
from moodplayer.voice.datasets import Clip
from moodplayer.voice.training.examples import cached
from moodplayer.voice.training.metrics import scores, summarise
from moodplayer.voice.training.splits import corpus_folds

CLASSIC_KIND = "classic180-v1"


def classic_features(clip: Clip) -> np.ndarray:
    """The blog-post recipe's 180 numbers: means of 40 MFCC, 12 chroma and 128 mel bands (whole clip)."""

    def compute() -> np.ndarray:
        from moodplayer.numba_kernels import first_use
        from moodplayer.voice.audio import SAMPLE_RATE, load_audio

        first_use("classic-features", lambda: _classic(np.full(SAMPLE_RATE, 0.01, np.float32)))
        return _classic(load_audio(clip.path))

    return cached(clip.path, CLASSIC_KIND, compute)


def _classic(samples: np.ndarray) -> np.ndarray:
    import librosa

    from moodplayer.voice.audio import SAMPLE_RATE

    stft = np.abs(librosa.stft(samples))
    return np.concatenate(
        [
            librosa.feature.mfcc(y=samples, sr=SAMPLE_RATE, n_mfcc=40).mean(axis=1),
            librosa.feature.chroma_stft(S=stft, sr=SAMPLE_RATE).mean(axis=1),
            librosa.feature.melspectrogram(y=samples, sr=SAMPLE_RATE).mean(axis=1),
        ]
    ).astype(np.float32)


def baseline_cross_validate(clips: Sequence[Clip], k: int, seed: int = 0) -> dict:
    """The classic recipe (180 features, StandardScaler, MLP of 300) on the same speaker folds."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clips = [c for c in clips if c.label in EMOTIONS]
    x = np.stack([classic_features(c) for c in clips])
    y = np.array([EMOTIONS.index(c.label) for c in clips])
    who = np.array([c.speaker for c in clips])
    results = []
    for i, test_names in enumerate(corpus_folds(clips, k), 1):
        test = np.isin(who, test_names)
        mlp = MLPClassifier(
            hidden_layer_sizes=(300,),
            alpha=0.01,
            batch_size=256,
            learning_rate="adaptive",
            max_iter=500,
            random_state=seed,
        )
        model = make_pipeline(StandardScaler(), mlp).fit(x[~test], y[~test])
        fold = scores([EMOTIONS[t] for t in y[test]], [EMOTIONS[p] for p in model.predict(x[test])])
        results.append({"fold": i, "test_speakers": list(test_names), **{m: fold[m] for m in ("accuracy", "uar", "n")}})
    return summarise(results)
