"""The eight emotions moodplayer recognises, and where each sits on the circumplex.

The labels are RAVDESS's, spelled exactly as the CLI and JSON output use them.
Each emotion has a point on Russell's circumplex of affect (valence: unpleasant
-1 … +1 pleasant; arousal: calm -1 … +1 excited). The points are placed from
Russell (1980) "A circumplex model of affect" and the valence/arousal ratings
of the emotion words in Warriner et al. (2013), rescaled to [-1, 1]; they are
used to turn a probability vector into one valence/arousal point for music
matching (the probability-weighted mean of the points).
"""

from __future__ import annotations

from collections.abc import Mapping

EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)

#: emotion -> (valence, arousal), both in [-1, 1].
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0),
    "calm": (0.45, -0.65),
    "happy": (0.85, 0.45),
    "sad": (-0.75, -0.5),
    "angry": (-0.65, 0.8),
    "fearful": (-0.6, 0.65),
    "disgust": (-0.7, 0.3),
    "surprised": (0.35, 0.8),
}


def valence_arousal(probabilities: Mapping[str, float]) -> tuple[float, float]:
    """The probability-weighted circumplex point of a prediction."""
    total = sum(probabilities.values()) or 1.0
    valence = sum(p * CIRCUMPLEX[e][0] for e, p in probabilities.items()) / total
    arousal = sum(p * CIRCUMPLEX[e][1] for e, p in probabilities.items()) / total
    return round(valence, 4), round(arousal, 4)


def parse_emotion(name: str) -> str:
    """Normalise a user-typed emotion name, or raise ValueError listing the valid ones."""
    key = name.strip().lower()
    if key in EMOTIONS:
        return key
    raise ValueError(f"unknown emotion {name!r}; expected one of: {', '.join(EMOTIONS)}")
