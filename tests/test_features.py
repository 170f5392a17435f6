"""Frame features: the pitch columns beside the log-mels."""

from __future__ import annotations

import numpy as np
import pytest

from moodplayer.audio import SAMPLE_RATE, load_audio, speech_only
from moodplayer.features import FeatureConfig, extract, frame_features, log_mel, pitch

CONFIG = FeatureConfig()


def harmonic_tone(f0: float, seconds: float = 1.0) -> np.ndarray:
    """A voice-like tone: ten harmonics with falling amplitude."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 11)).astype(np.float32) * 0.1


@pytest.mark.parametrize("f0", [80.0, 140.0, 220.0, 400.0])
def test_the_pitch_of_a_harmonic_tone_is_found(f0):
    track = pitch(harmonic_tone(f0), 100)
    found = np.exp(np.median(track[10:-10, 0]))
    assert abs(found - f0) / f0 < 0.02
    assert np.median(track[:, 1]) > 0.9


def test_noise_is_not_voiced_and_keeps_a_flat_contour():
    noise = np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE).astype(np.float32)
    track = pitch(noise, 100)
    assert np.median(track[:, 1]) < 0.5
    assert np.ptp(track[track[:, 1] < 0.5, 0]) == 0.0  # unvoiced frames share one filled value


@pytest.mark.parametrize("clip", ["Actor_01/03-01-01-01-01-01-01.flac", "Actor_12/03-01-06-02-01-01-12.flac"])
def test_pitch_agrees_with_librosa_pyin_on_real_voices(ravdess, clip):
    import librosa

    speech = speech_only(load_audio(ravdess / clip))  # a calm man; a frightened woman
    ours = pitch(speech, log_mel(speech, CONFIG).shape[0])
    f0, voiced, _ = librosa.pyin(speech, fmin=60, fmax=500, sr=SAMPLE_RATE, frame_length=1024, hop_length=CONFIG.hop_length)
    n = min(len(ours), len(f0))
    both = voiced[:n] & (ours[:n, 1] >= 0.5)
    semitones = 12 * np.abs(np.log2(np.exp(ours[:n, 0][both]) / f0[:n][both]))
    assert both.sum() >= 0.6 * voiced.sum() and np.mean(semitones < 1.0) > 0.7


def test_features_are_the_log_mels_then_the_pitch_columns():
    tone = harmonic_tone(150.0)
    features = frame_features(tone, CONFIG)
    assert features.shape == (log_mel(tone, CONFIG).shape[0], CONFIG.dims) and CONFIG.dims == CONFIG.n_mels + 2
    np.testing.assert_array_equal(features[:, : CONFIG.n_mels], log_mel(tone, CONFIG))


def test_a_config_from_before_pitch_still_means_log_mels_only():
    old = {k: v for k, v in CONFIG.to_dict().items() if k != "pitch"}
    config = FeatureConfig.from_dict({**old, "trim_silence": False})
    assert not config.pitch and config.dims == config.n_mels
    assert extract(harmonic_tone(150.0), config).shape[1] == config.n_mels
