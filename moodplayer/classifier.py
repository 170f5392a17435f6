"""A loaded model: audio in, :class:`Prediction` out.

This is the one path from samples to an emotion that ``detect``, ``listen``
and ``evaluate`` share, so what is measured is what users get: trim to the
speech, log-mels and pitch, normalise, forward, temperature-scaled softmax.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodplayer import audio, emotions
from moodplayer.errors import ModelError, NoSpeechError
from moodplayer.features import EnrolmentShift, FeatureConfig, Stats, frame_features, normalise

#: Below this confidence (after calibration) a prediction is flagged uncertain.
DEFAULT_UNCERTAIN_BELOW = 0.4


@dataclass
class Prediction:
    """What the model heard in one clip."""

    emotion: str
    confidence: float
    probabilities: dict[str, float]
    uncertain: bool
    valence: float
    arousal: float
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "emotion": self.emotion,
            "confidence": round(self.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "uncertain": self.uncertain,
            "valence": self.valence,
            "arousal": self.arousal,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


class Classifier:
    """A model ready to classify 16 kHz mono audio."""

    def __init__(self, net, metadata: dict):
        self.net = net
        self.metadata = metadata
        self.labels: tuple[str, ...] = tuple(metadata["labels"])
        self.features = FeatureConfig.from_dict(metadata["features"])
        self.temperature = float(metadata.get("temperature", 1.0))
        self.uncertain_below = float(metadata.get("uncertain_below", DEFAULT_UNCERTAIN_BELOW))
        #: Whether the model learned from speaker-normalised features, so a voice profile helps it.
        self.accepts_profiles = bool(metadata.get("speaker_normalisation", False))
        #: Moves a neutral enrolment to the speaker's everyday statistics (None: older models, no neutral data).
        shift = metadata.get("enrolment_shift")
        self.enrolment_shift = EnrolmentShift.from_dict(shift) if shift else None

    @classmethod
    def load(cls, path: Path | None = None) -> "Classifier":
        """Load a model file (default: the version in force); :class:`ModelError` if unusable."""
        from moodplayer.model import load_model
        from moodplayer.versions import active_model_path

        net, metadata = load_model(Path(path) if path is not None else active_model_path())
        if tuple(metadata["labels"]) != emotions.EMOTIONS:
            raise ModelError(f"model labels {metadata['labels']} are not moodplayer's eight emotions")
        return cls(net, metadata)

    def features_of(self, samples: np.ndarray) -> np.ndarray:
        """The clip's raw (un-normalised) features; :class:`NoSpeechError` if nobody speaks.

        Their :class:`Stats` are what a voice profile accumulates.
        """
        speech = audio.speech_only(samples) if self.features.trim_silence else samples
        return frame_features(speech, self.features)

    def classify(self, features: np.ndarray, profile: Stats | None = None) -> np.ndarray:
        """Calibrated class probabilities of raw features, normalised by ``profile`` or by themselves."""
        import torch

        from moodplayer.model import pad_frames

        x = normalise(features, profile)
        padded = np.zeros((1, pad_frames(x.shape[0]), x.shape[1]), np.float32)
        padded[0, : x.shape[0]] = x
        with torch.inference_mode():
            logits = self.net(torch.from_numpy(padded), torch.tensor([x.shape[0]]))[0]
            return torch.softmax(logits / self.temperature, dim=0).numpy().astype(np.float64)

    def prediction(self, probs: np.ndarray, timings_ms: dict[str, float] | None = None) -> Prediction:
        """A :class:`Prediction` from class probabilities."""
        probabilities = {label: float(p) for label, p in zip(self.labels, probs)}
        best = int(np.argmax(probs))
        valence, arousal = emotions.valence_arousal(probabilities)
        return Prediction(
            emotion=self.labels[best],
            confidence=float(probs[best]),
            probabilities=probabilities,
            uncertain=bool(probs[best] < self.uncertain_below),
            valence=valence,
            arousal=arousal,
            timings_ms=timings_ms or {},
        )

    def predict(self, samples: np.ndarray, profile: Stats | None = None) -> Prediction:
        """The emotion in 16 kHz mono float32 audio; :class:`NoSpeechError` if nobody speaks.

        ``profile``: the speaker's voice statistics, when known; else the clip normalises itself.
        """
        start = time.perf_counter()
        features = self.features_of(samples)
        mid = time.perf_counter()
        probs = self.classify(features, profile)
        end = time.perf_counter()
        return self.prediction(probs, {"load": 0.0, "features": (mid - start) * 1000, "model": (end - mid) * 1000})

    def predict_file(self, path: str | Path, profile: Stats | None = None) -> Prediction:
        """Load an audio file and classify it; ``timings_ms['load']`` is the decoding time."""
        start = time.perf_counter()
        samples = audio.load_audio(path)
        loaded = (time.perf_counter() - start) * 1000
        try:
            prediction = self.predict(samples, profile)
        except NoSpeechError:
            raise NoSpeechError(f"no speech heard in {path}") from None
        prediction.timings_ms["load"] = loaded
        return prediction
