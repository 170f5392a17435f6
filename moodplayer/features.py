"""Frame-level features for the model, and how they are normalised.

The model hears 64 log-mel bands every 10 ms (25 ms windows at 16 kHz) and,
beside them, the voice's pitch: log F0 and how periodic the frame is. Pitch
level, range and movement are the strongest cues to arousal, and 64 mel bands
barely resolve the harmonics that carry them (measured: 2 to 4.5 points over
the log-mels alone on the actor folds). Raw
log-mels carry the recording level and the microphone's colouring as an
additive offset per band, and a speaker's voice as a further offset and spread:
all of that varies far more between people and set-ups than between emotions.
So features are always normalised per band with *statistics of some speech*:
by default the clip's own (cold start), or a speaker's accumulated statistics
(a voice profile, see :class:`Stats`, which merges exactly like Welford's
running mean/variance). Either way the gain of the recording cancels out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

#: Bumped whenever the code computing the features changes what they are.
FEATURES_VERSION = 2

#: Variance floor (in squared natural-log units) so a flat band cannot blow up.
_MIN_VAR = 1e-2


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that determines the features; stored in model metadata and cache keys."""

    sample_rate: int = 16_000
    n_mels: int = 64
    n_fft: int = 512
    win_length: int = 400  # 25 ms
    hop_length: int = 160  # 10 ms
    fmin: float = 50.0
    fmax: float = 8_000.0
    trim_silence: bool = True
    pitch: bool = True  # log F0 and periodicity after the mel bands

    @property
    def dims(self) -> int:
        """Numbers per frame."""
        return self.n_mels + (len(PITCH_FEATURES) if self.pitch else 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureConfig":
        return cls(**{"pitch": False, **data})  # models from before pitch have no such key

    def key(self) -> str:
        """A short hash that changes whenever any setting, or the code computing them, does (for caches and profiles)."""
        settings = {**self.to_dict(), "code": FEATURES_VERSION}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, hz / (200.0 / 3))


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


@lru_cache(maxsize=4)
def _mel_basis(config: FeatureConfig) -> np.ndarray:
    """Slaney-normalised triangular mel filters, ``(n_fft//2+1, n_mels)``.

    The same filters as ``librosa.filters.mel`` (checked by a test), built here
    so that classifying a clip does not import librosa (seconds on first use).
    """
    fft_hz = np.linspace(0, config.sample_rate / 2, config.n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2))
    lower = (fft_hz[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    upper = (edges[2:, None] - fft_hz[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.T.astype(np.float32)


@lru_cache(maxsize=4)
def _window(config: FeatureConfig) -> np.ndarray:
    window = np.zeros(config.n_fft, dtype=np.float32)
    start = (config.n_fft - config.win_length) // 2
    window[start : start + config.win_length] = np.hanning(config.win_length + 1)[:-1]
    return window


def log_mel(samples: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """``(frames, n_mels)`` float32 natural-log mel energies of mono audio.

    Plain numpy (one rfft over all frames) rather than librosa's STFT: this is
    on the inference path and must take a few milliseconds.
    """
    samples = np.asarray(samples, dtype=np.float32)
    pad = config.n_fft // 2
    if samples.size <= pad:
        samples = np.pad(samples, (0, pad + 1 - samples.size))
    padded = np.pad(samples, pad, mode="reflect")
    count = 1 + (padded.size - config.n_fft) // config.hop_length
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.n_fft)[:: config.hop_length][:count]
    power = np.abs(np.fft.rfft(frames * _window(config), axis=1)) ** 2
    return np.log(power.astype(np.float32) @ _mel_basis(config) + 1e-8).astype(np.float32)


#: The pitch columns after the mel bands.
PITCH_FEATURES = ("log_f0", "periodicity")
#: Pitch search range (Hz): deep male speech to high, excited female speech.
F0_MIN, F0_MAX = 60.0, 500.0
#: Pitch analysis window: two periods of the lowest pitch.
PITCH_WINDOW_SECONDS = 0.04
#: A peak this close to the highest one, at a shorter lag, is the period (not a multiple of it).
OCTAVE_TOLERANCE = 0.9
#: Frames at least this periodic count as voiced.
VOICED_PERIODICITY = 0.5


def pitch(samples: np.ndarray, frames: int, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """``(frames, 2)`` float32: log F0 and periodicity (0-1) on the log-mels' frame grid.

    Autocorrelation pitch on 40 ms windows (two periods of the lowest pitch),
    computed through the FFT and divided by the window's own autocorrelation
    so long lags are not penalised; the period is the shortest lag whose local
    peak is within :data:`OCTAVE_TOLERANCE` of the highest, and that peak's
    height is the periodicity. Unvoiced frames take the clip's median voiced
    F0, so the contour has no jumps to zero.
    """
    window_length = int(PITCH_WINDOW_SECONDS * config.sample_rate)
    lo, hi = int(config.sample_rate / F0_MAX), int(config.sample_rate / F0_MIN)
    fft_size = 1 << int(np.ceil(np.log2(window_length + hi)))  # no circular wrap up to the longest lag
    samples = np.asarray(samples, dtype=np.float32)
    padded = np.pad(samples, (window_length // 2, window_length // 2 + frames * config.hop_length))
    windows = np.lib.stride_tricks.sliding_window_view(padded, window_length)[:: config.hop_length][:frames]
    taper = np.hanning(window_length).astype(np.float32)
    spectrum = np.fft.rfft((windows - windows.mean(axis=1, keepdims=True)) * taper, fft_size, axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, fft_size, axis=1)
    taper_acf = np.fft.irfft(np.abs(np.fft.rfft(taper, fft_size)) ** 2, fft_size)
    lags = slice(lo - 1, hi + 1)
    r = acf[:, lags] / np.maximum(acf[:, :1], 1e-9) / np.maximum(taper_acf[lags] / taper_acf[0], 1e-3)
    peak = (r[:, 1:-1] > r[:, :-2]) & (r[:, 1:-1] >= r[:, 2:])
    r = np.where(peak, r[:, 1:-1], -1.0)
    # A periodic signal correlates as well at two or three periods as at one:
    # take the shortest lag whose peak comes close to the best one.
    near_best = r >= OCTAVE_TOLERANCE * r.max(axis=1, keepdims=True)
    best = near_best.argmax(axis=1)
    periodicity = np.clip(r[np.arange(frames), best], 0.0, 1.0)
    f0 = config.sample_rate / (best + lo)
    voiced = periodicity >= VOICED_PERIODICITY
    fill = np.median(f0[voiced]) if voiced.any() else 150.0
    return np.stack([np.log(np.where(voiced, f0, fill)), periodicity], axis=1).astype(np.float32)


def frame_features(speech: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """``(frames, config.dims)``: the log-mels, then the pitch columns when the config has them."""
    mels = log_mel(speech, config)
    if not config.pitch:
        return mels
    return np.concatenate([mels, pitch(speech, mels.shape[0], config)], axis=1)


def extract(samples: np.ndarray, config: FeatureConfig = FeatureConfig(), speed: float = 1.0) -> np.ndarray:
    """Features of a clip as the model sees them (before normalisation), played at ``speed``.

    Leading and trailing silence is trimmed first: it carries no emotion, but
    its length and noise vary with the recording and would be learned. Speed
    perturbation resamples the waveform, changing tempo and pitch together (as
    in Kaldi's recipes): training hears more voices that way, and a clip heard
    at a few speeds is judged more steadily (see classifier.view_logits).
    """
    from moodplayer.audio import speech_only, to_sample_rate

    if speed != 1.0:
        samples = to_sample_rate(samples, config.sample_rate, round(config.sample_rate / speed))
    if config.trim_silence:
        samples = speech_only(samples)
    return frame_features(samples, config)


@dataclass
class Stats:
    """Per-band running mean and variance of feature frames (Chan/Welford merge).

    A clip's own statistics normalise it at cold start; merging the statistics
    of many clips of one speaker gives a voice profile, which normalises that
    speaker's clips the way the training speakers' were.
    """

    count: int
    mean: np.ndarray
    m2: np.ndarray  # sum of squared deviations from the mean

    @classmethod
    def empty(cls, dims: int) -> "Stats":
        return cls(0, np.zeros(dims, np.float64), np.zeros(dims, np.float64))

    @classmethod
    def of(cls, features: np.ndarray) -> "Stats":
        features = np.asarray(features, dtype=np.float64)
        mean = features.mean(axis=0)
        return cls(features.shape[0], mean, ((features - mean) ** 2).sum(axis=0))

    @classmethod
    def combine(cls, parts: Sequence["Stats"]) -> "Stats":
        """The statistics of all the parts' frames together (Chan et al.'s pairwise formula, vectorised)."""
        counts = np.array([p.count for p in parts], dtype=np.float64)
        means = np.stack([p.mean for p in parts])
        total = counts.sum()
        mean = (counts[:, None] * means).sum(axis=0) / total
        m2 = np.stack([p.m2 for p in parts]).sum(axis=0) + (counts[:, None] * (means - mean) ** 2).sum(axis=0)
        return cls(int(total), mean, m2)

    def merge(self, other: "Stats") -> "Stats":
        """The statistics of both sets of frames together, exactly."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        total = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / total
        m2 = self.m2 + other.m2 + delta**2 * self.count * other.count / total
        return Stats(total, mean, m2)

    @property
    def var(self) -> np.ndarray:
        return self.m2 / max(self.count, 1)

    @property
    def floored_var(self) -> np.ndarray:
        """The variance with a floor, so a flat band cannot blow up a division or a log."""
        return np.maximum(self.var, _MIN_VAR)

    def normalise(self, features: np.ndarray) -> np.ndarray:
        """Features centred and scaled per band by these statistics."""
        scale = 1.0 / np.sqrt(self.floored_var)
        return ((features - self.mean) * scale).astype(np.float32)


@dataclass(frozen=True)
class EnrolmentShift:
    """How a speaker's statistics over all their speech differ from those over their neutral speech.

    An enrolment is a few neutral sentences. A profile built from them alone
    sits at the quiet, low, steady end of that person's range, so every later
    clip would sound aroused against it. The shift, learnt from the training
    speakers (mean over speakers of the per-band difference in mean and in
    log-variance between all their clips and their neutral ones), moves
    enrolment statistics to where the speaker's everyday statistics would be.
    """

    mean: np.ndarray
    log_var: np.ndarray

    def apply(self, stats: Stats) -> Stats:
        return Stats(stats.count, stats.mean + self.mean, stats.m2 * np.exp(self.log_var))

    def to_dict(self) -> dict:
        return {"mean": [round(float(v), 5) for v in self.mean], "log_var": [round(float(v), 5) for v in self.log_var]}

    @classmethod
    def from_dict(cls, data: dict) -> "EnrolmentShift":
        return cls(np.asarray(data["mean"], np.float64), np.asarray(data["log_var"], np.float64))


def normalise(features: np.ndarray, stats: Stats | None = None) -> np.ndarray:
    """Normalise by ``stats`` (a voice profile), or by the clip's own statistics."""
    return (stats or Stats.of(features)).normalise(features)
