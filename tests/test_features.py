"""Frame features: the log-mels, then pitch, voice-quality and spectral-shape columns."""

from __future__ import annotations

import numpy as np
import pytest

from moodplayer.voice.audio import SAMPLE_RATE, load_audio, speech_only
from moodplayer.voice.features import (
    PITCH_FEATURES,
    SPECTRAL_SHAPE_FEATURES,
    VOICE_QUALITY_FEATURES,
    FeatureConfig,
    extract,
    frame_features,
    mels_of,
    normalise,
    pitch_columns,
    power_spectrum,
    smooth3,
    voice_quality,
    voicing,
)

CONFIG = FeatureConfig()


def log_mel(samples: np.ndarray) -> np.ndarray:
    return mels_of(power_spectrum(samples, CONFIG), CONFIG)


def pitch(samples: np.ndarray, frames: int) -> np.ndarray:
    return pitch_columns(voicing(samples, frames, CONFIG))


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
    ours = pitch(speech, log_mel(speech).shape[0])
    f0, voiced, _ = librosa.pyin(
        speech, fmin=60, fmax=500, sr=SAMPLE_RATE, frame_length=1024, hop_length=CONFIG.hop_length
    )
    n = min(len(ours), len(f0))
    both = voiced[:n] & (ours[:n, 1] >= 0.5)
    semitones = 12 * np.abs(np.log2(np.exp(ours[:n, 0][both]) / f0[:n][both]))
    assert both.sum() >= 0.6 * voiced.sum() and np.mean(semitones < 1.0) > 0.7


def test_features_are_the_log_mels_then_pitch_voice_quality_and_spectral_shape():
    tone = harmonic_tone(150.0)
    features = frame_features(tone, CONFIG)
    extra = len(PITCH_FEATURES) + len(VOICE_QUALITY_FEATURES) + len(SPECTRAL_SHAPE_FEATURES)
    assert features.shape == (log_mel(tone).shape[0], CONFIG.dims) and CONFIG.dims == CONFIG.n_mels + extra
    np.testing.assert_array_equal(features[:, : CONFIG.n_mels], log_mel(tone))
    np.testing.assert_array_equal(features[:, CONFIG.n_mels : CONFIG.n_mels + 2], pitch(tone, features.shape[0]))


def test_a_config_from_before_pitch_still_means_log_mels_only():
    old = {k: v for k, v in CONFIG.to_dict().items() if k not in ("pitch", "voice_quality", "spectral_shape")}
    config = FeatureConfig.from_dict({**old, "trim_silence": False})
    assert not config.pitch and config.dims == config.n_mels
    assert extract(harmonic_tone(150.0), config).shape[1] == config.n_mels


def test_a_config_from_before_voice_quality_means_log_mels_and_pitch():
    old = {k: v for k, v in CONFIG.to_dict().items() if k not in ("voice_quality", "spectral_shape")}
    config = FeatureConfig.from_dict(old)
    assert config.dims == config.n_mels + len(PITCH_FEATURES)
    assert frame_features(harmonic_tone(150.0), config).shape[1] == config.dims


def two_harmonics(f0: float, second_db: float, noise: float = 0.0) -> np.ndarray:
    """A tone whose second harmonic is ``second_db`` below the first, with white noise of that amplitude."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * f0 * t) + 10 ** (-second_db / 20) * np.sin(2 * np.pi * 2 * f0 * t)
    return (0.1 * tone + np.random.default_rng(0).normal(0, noise, t.size)).astype(np.float32)


@pytest.mark.parametrize("f0", [110.0, 220.0])
@pytest.mark.parametrize("second_db", [0.0, 6.0, 12.0])
def test_h1_h2_is_the_first_harmonic_over_the_second(f0, second_db):
    columns = voice_quality(voicing(two_harmonics(f0, second_db), 100))
    found_db = np.median(columns[10:-10, 0]) * 10 / np.log(10)  # natural log of a power ratio → dB
    assert abs(found_db - second_db) < 0.5


def test_a_noisy_voice_has_a_lower_harmonics_to_noise_ratio():
    hnr = VOICE_QUALITY_FEATURES.index("hnr")
    clean = voice_quality(voicing(two_harmonics(150.0, 6.0), 100))[:, hnr]
    noisy = voice_quality(voicing(two_harmonics(150.0, 6.0, noise=0.03), 100))[:, hnr]
    assert np.median(noisy) < np.median(clean) - 1.0


def spectral_index(name: str) -> int:
    """The column of a spectral-shape descriptor: those columns come last."""
    return CONFIG.dims - len(SPECTRAL_SHAPE_FEATURES) + SPECTRAL_SHAPE_FEATURES.index(name)


def spectral_column(samples: np.ndarray, name: str) -> np.ndarray:
    return frame_features(samples, CONFIG)[:, spectral_index(name)]


def test_a_brighter_voice_has_a_higher_alpha_ratio_and_a_lower_hammarberg_index():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    dull = harmonic_tone(150.0)  # harmonics falling as 1/k
    bright = (dull + 0.05 * sum(np.sin(2 * np.pi * k * 150.0 * t) for k in range(14, 24))).astype(np.float32)
    assert np.median(spectral_column(bright, "alpha_ratio")) > np.median(spectral_column(dull, "alpha_ratio")) + 1.0
    assert np.median(spectral_column(bright, "hammarberg")) < np.median(spectral_column(dull, "hammarberg")) - 1.0


def test_the_mfcc_columns_are_the_orthonormal_dct_of_the_log_mels_smoothed():
    from scipy.fft import dct

    tone = harmonic_tone(150.0)
    first = spectral_index("mfcc1")
    expected = smooth3(dct(log_mel(tone).astype(np.float64), type=2, norm="ortho", axis=1)[:, 1:5])
    np.testing.assert_allclose(frame_features(tone, CONFIG)[:, first : first + 4], expected, rtol=1e-4, atol=1e-3)


def test_voice_quality_is_zero_where_there_is_no_voice():
    noise = np.random.default_rng(1).normal(0, 0.1, SAMPLE_RATE).astype(np.float32)
    analysis = voicing(noise, 100)
    columns = voice_quality(analysis)
    assert (~analysis.voiced).sum() > 50 and np.all(columns[~analysis.voiced] == 0.0)


def test_descriptors_are_smoothed_over_three_frames_with_the_ends_repeated():
    step = np.array([[0.0], [0.0], [3.0], [3.0]])
    np.testing.assert_allclose(smooth3(step)[:, 0], [0.0, 1.0, 2.0, 3.0])


def test_cold_start_centres_a_clip_but_keeps_how_much_it_moves():
    rng = np.random.default_rng(4)
    typical = np.array([1.0, 4.0])
    lively = rng.normal(0.0, [2.0, 2.0], size=(4000, 2))  # twice the typical spread, then typical
    normalised = normalise(lively + [5.0, -3.0], typical_var=typical)  # any gain: a constant in the log domain
    np.testing.assert_allclose(normalised.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(normalised.std(axis=0), [2.0, 1.0], rtol=0.05)
    np.testing.assert_allclose(normalised, normalise(lively, typical_var=typical), atol=1e-5)


def test_cold_start_without_a_typical_spread_scales_each_clip_by_its_own_as_older_models_did():
    lively = np.random.default_rng(5).normal(0.0, 3.0, size=(4000, 2))
    np.testing.assert_allclose(normalise(lively).std(axis=0), 1.0, rtol=1e-3)
