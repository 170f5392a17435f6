"""What the music-mood model hears in an excerpt: 955 numbers of timbre, harmony, rhythm and dynamics.

:func:`extract` turns the excerpt ``library scan`` decodes (30 s from the
middle of a track, mono, :data:`RATE`) into one feature vector, and the four
descriptors the library stores beside the mood (tempo, energy, brightness,
major/minor). One STFT serves everything; the log-mel spectrogram feeds the
timbre statistics, the onset envelope and the modulation spectrum, the chroma
the key and mode features.

The groups, and why each is there (listeners' mood cues, Gabrielsson &
Lindström 2010; Panda et al. 2018):

- log-mel statistics (64 bands: mean, spread, percentiles, frame-to-frame
  change; 128 bands: mean, spread) and MFCCs with their deltas: timbre,
  instrumentation, distortion;
- spectral contrast, chroma, Albrecht-Shanahan key/mode correlations (whole
  excerpt and 3 s windows), interval and tonnetz features: harmony, mode;
- onset strength, tempo, pulse clarity, onset rate, tempogram bands: rhythm;
- RMS and dB dynamics (1 s blocks, range, quiet fraction): loudness, calm;
- spectral shape (centroid, bandwidth, roll-off, flatness, flux,
  irregularity, band energy ratios) and a modulation spectrum of 8 mel
  bands: brightness, noisiness, roughness.

Changing what any feature means changes :data:`FEATURES_VERSION`, which
makes ``library scan`` analyse every track again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np

#: Names the feature extraction; a model records the version it was trained on.
FEATURES_VERSION = "music-mood-features-1"
RATE = 22_050
N_FFT = 2048
HOP = 512
#: Frames per window for the per-window key and the modulation spectrum (about 3 s).
WINDOW_FRAMES = 128

# Albrecht & Shanahan (2013) key profiles, C major / C minor: pitch-class distributions of a
# corpus of tonal music, which tell major from relative minor better than Krumhansl-Kessler's.
MAJOR_PROFILE = (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081)
MINOR_PROFILE = (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052)


class Analysis(NamedTuple):
    """The model's input and the descriptors the library shows and the formula baseline uses."""

    vector: np.ndarray
    tempo: float  # BPM
    energy: float  # dBFS, mean power of the excerpt
    brightness: float  # Hz, mean spectral centroid
    majorness: float  # best major minus best minor key correlation


@dataclass
class _Spectra:
    """The excerpt's spectral representations, computed once and shared by every group."""

    samples: np.ndarray
    magnitude: np.ndarray
    power: np.ndarray
    mel128: np.ndarray  # dB
    mel64: np.ndarray  # dB
    chroma: np.ndarray
    onset: np.ndarray


Group = list[tuple[str, "np.ndarray"]]


def extract(samples: np.ndarray) -> Analysis:
    """The feature vector (float64, :func:`feature_names` order) and descriptors of an excerpt."""
    _kernels_compiled()
    return _extract(samples)


def _extract(samples: np.ndarray) -> Analysis:
    import numpy as np

    spectra = _spectra(samples)
    groups = [group(spectra) for group in GROUPS]
    vector = np.concatenate([np.atleast_1d(values) for group in groups for _, values in group]).astype(np.float64)
    named = dict(item for group in groups for item in group)
    key = dict(zip(KEY_NAMES, named["key"]))
    return Analysis(
        vector=vector,
        tempo=float(named["tempo"]),
        energy=float(10 * np.log10(max(float(np.mean(samples.astype(np.float64) ** 2)), 1e-12))),
        brightness=float(named["centroid_mean"]),
        majorness=float(key["majorness"]),
    )


def feature_names() -> list[str]:
    """One name per feature, ``<group>_<index>`` for vector-valued groups (from 5 s of noise)."""
    import numpy as np

    _kernels_compiled()
    spectra = _spectra(_noise(5.0))
    names: list[str] = []
    for group in GROUPS:
        for prefix, values in group(spectra):
            values = np.atleast_1d(values)
            if prefix == "key":
                names += [f"key_{name}" for name in KEY_NAMES]
            else:
                names += [prefix] if values.size == 1 else [f"{prefix}_{i}" for i in range(values.size)]
    return names


def _kernels_compiled() -> None:
    """librosa's kernels for these features compiled and cached by one process at a time
    (numba_kernels.first_use), before this process's first real excerpt; 4 s of noise covers
    the 3 s windows too."""
    from moodplayer.numba_kernels import first_use

    first_use("music-mood-features", lambda: _extract(_noise(4.0)))


def _noise(seconds: float) -> np.ndarray:
    import numpy as np

    return np.random.default_rng(0).standard_normal(int(RATE * seconds)).astype(np.float32) * 0.1


def _spectra(samples: np.ndarray) -> _Spectra:
    import librosa
    import numpy as np

    samples = np.asarray(samples, dtype=np.float32)
    magnitude = np.abs(librosa.stft(samples, n_fft=N_FFT, hop_length=HOP))
    power = magnitude**2
    mel128 = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=RATE, n_mels=128))
    return _Spectra(
        samples=samples,
        magnitude=magnitude,
        power=power,
        mel128=mel128,
        mel64=librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=RATE, n_mels=64)),
        chroma=librosa.feature.chroma_stft(S=power, sr=RATE, tuning=0.0),
        onset=librosa.onset.onset_strength(S=mel128, sr=RATE),
    )


def _stats(prefix: str, frames: np.ndarray, kinds: tuple[str, ...]) -> Group:
    """Per-row statistics over time of a (rows, frames) array."""
    import numpy as np

    compute = {
        "mean": lambda m: m.mean(1),
        "std": lambda m: m.std(1),
        "p10": lambda m: np.percentile(m, 10, axis=1),
        "p50": lambda m: np.percentile(m, 50, axis=1),
        "p90": lambda m: np.percentile(m, 90, axis=1),
        "dabs": lambda m: np.abs(np.diff(m, axis=1)).mean(1),
    }
    return [(f"{prefix}_{kind}", compute[kind](frames)) for kind in kinds]


def _mel(s: _Spectra) -> Group:
    return _stats("mel64", s.mel64, ("mean", "std", "p10", "p50", "p90", "dabs")) + _stats(
        "mel128", s.mel128, ("mean", "std")
    )


def _mfcc(s: _Spectra) -> Group:
    import librosa

    mfcc = librosa.feature.mfcc(S=s.mel64, n_mfcc=20)
    delta = librosa.feature.delta(mfcc)
    return (
        _stats("mfcc", mfcc, ("mean", "std", "p10", "p90"))
        + _stats("mfcc_delta", delta, ("mean", "std"))
        + _stats("mfcc_delta2", librosa.feature.delta(mfcc, order=2), ("std",))
    )


def _harmony(s: _Spectra) -> Group:
    import librosa

    contrast = librosa.feature.spectral_contrast(S=s.magnitude, sr=RATE)
    tonnetz = librosa.feature.tonnetz(chroma=s.chroma)
    return (
        _stats("contrast", contrast, ("mean", "std"))
        + _stats("chroma", s.chroma, ("mean", "std"))
        + [("key", _key(s.chroma))]
        + _stats("tonnetz", tonnetz, ("mean", "std"))
    )


KEY_NAMES = (
    ["best_major", "best_minor", "majorness", "clarity", "window_majorness_mean", "window_majorness_std"]
    + ["window_major_fraction", "chroma_entropy_mean", "chroma_entropy_std"]
    + [f"interval_{k}" for k in range(1, 7)]
    + [f"chroma_from_tonic_{k}" for k in range(12)]
)


def _key(chroma: np.ndarray) -> np.ndarray:
    """Mode and key clarity of the excerpt and of its 3 s windows; intervals; chroma from the tonic.

    A correlation with each of the 24 key profiles; majorness is the best
    major minus the best minor key. The mean chroma rotated to start at the
    best key's tonic makes the pitch content comparable across keys.
    """
    import numpy as np

    mean = chroma.mean(1)
    whole = _key_correlations(mean[:, None])[:, 0]
    tonic = int(np.argmax(whole)) % 12
    windows = max(1, chroma.shape[1] // WINDOW_FRAMES)
    means = np.stack([chroma[:, i * WINDOW_FRAMES : (i + 1) * WINDOW_FRAMES].mean(1) for i in range(windows)], 1)
    per_window = _key_correlations(means)
    window_majorness = per_window[:12].max(0) - per_window[12:].max(0)
    share = chroma / (chroma.sum(0, keepdims=True) + 1e-12)
    intervals = [(share * np.roll(share, k, axis=0)).sum(0).mean() for k in range(1, 7)]
    entropy = -(share * np.log(share + 1e-12)).sum(0)
    best_major, best_minor = whole[:12].max(), whole[12:].max()
    return np.concatenate(
        [
            [best_major, best_minor, best_major - best_minor, whole.max()],
            [window_majorness.mean(), window_majorness.std(), (window_majorness > 0).mean()],
            [entropy.mean(), entropy.std()],
            intervals,
            np.roll(mean / (mean.sum() + 1e-12), -tonic),
        ]
    )


def _key_correlations(chroma: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``chroma`` (12, n) with the 24 key profiles (24, n)."""
    import numpy as np

    def unit(v: np.ndarray) -> np.ndarray:
        v = v - v.mean(0, keepdims=True)
        return v / (np.linalg.norm(v, axis=0, keepdims=True) + 1e-12)

    profiles = [np.roll(MAJOR_PROFILE, k) for k in range(12)] + [np.roll(MINOR_PROFILE, k) for k in range(12)]
    return unit(np.stack(profiles, 1)).T @ unit(chroma)


def _rhythm(s: _Spectra) -> Group:
    """Tempo and onset statistics, pulse clarity (the onset envelope's autocorrelation), tempogram bands."""
    import librosa
    import numpy as np

    onset = s.onset
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=RATE))[0])
    centred = onset - onset.mean()
    autocorrelation = np.fft.irfft(np.abs(np.fft.rfft(centred, 2 * len(centred))) ** 2)[: len(centred)]
    autocorrelation /= autocorrelation[0] + 1e-12
    fps = RATE / HOP
    low, high = int(fps * 60 / 240), int(fps * 60 / 40)  # lags of 240 down to 40 BPM
    lag = low + int(autocorrelation[low:high].argmax())
    tempogram = librosa.feature.tempogram(onset_envelope=onset, sr=RATE, win_length=384).mean(1)
    edges = np.unique(np.round(np.geomspace(2, 383, 13)).astype(int))
    bands = [tempogram[a:b].mean() for a, b in zip(edges[:-1], edges[1:])]
    onsets_per_s = len(librosa.onset.onset_detect(onset_envelope=onset, sr=RATE)) / (len(s.samples) / RATE)
    return [
        ("onset_mean", np.array(onset.mean())),
        ("onset_std", np.array(onset.std())),
        ("tempo", np.array(tempo)),
        ("pulse_clarity", np.array(autocorrelation[lag])),
        ("pulse_bpm", np.array(60 * fps / lag)),
        ("onset_rate", np.array(onsets_per_s)),
        ("onset_p90", np.array(np.percentile(onset, 90))),
        ("onset_p50", np.array(np.percentile(onset, 50))),
        ("tempogram_band", np.array(bands)),
    ]


def _dynamics(s: _Spectra) -> Group:
    """RMS, its level in dB (percentiles, range, 1 s blocks) and the fraction of quiet frames."""
    import librosa
    import numpy as np

    rms = librosa.feature.rms(S=s.magnitude, frame_length=N_FFT)[0]
    db = 20 * np.log10(rms + 1e-6)
    p5, p50, p95 = np.percentile(db, [5, 50, 95])
    per_second = int(round(RATE / HOP))
    blocks = [db[i * per_second : (i + 1) * per_second].mean() for i in range(max(1, len(db) // per_second))]
    values = [db.mean(), db.std(), p5, p50, p95, p95 - p5, (rms < 0.5 * rms.mean()).mean(), np.std(blocks)]
    return [
        ("rms_mean", np.array(rms.mean())),
        ("rms_std", np.array(rms.std())),
        ("db", np.array([*values, np.abs(np.diff(db)).mean()])),
    ]


def _spectral_shape(s: _Spectra) -> Group:
    """Brightness, spread, noisiness and change of the spectrum, and its low and high band shares."""
    import librosa
    import numpy as np

    S = s.magnitude
    frequencies = librosa.fft_frequencies(sr=RATE, n_fft=N_FFT)
    zcr = librosa.feature.zero_crossing_rate(s.samples, frame_length=N_FFT, hop_length=HOP)[0]
    # librosa's spectral_centroid, spectral_bandwidth (p=2) and spectral_rolloff (85 %), the same arithmetic
    # on one column-normalised spectrum: each of them would normalise, or scan for a threshold, on its own.
    shares = librosa.util.normalize(S, norm=1, axis=0)
    centroid = np.sum(frequencies[:, None] * shares, axis=0)
    bandwidth = np.sum(shares * np.abs(np.subtract.outer(centroid, frequencies).T) ** 2, axis=0) ** 0.5
    cumulative = np.cumsum(S, axis=0)
    rolloff = frequencies[np.argmax(cumulative >= 0.85 * cumulative[-1], axis=0)]
    flatness = librosa.feature.spectral_flatness(S=S)[0]
    normalised = S / (S.sum(0, keepdims=True) + 1e-12)
    flux = np.sqrt((np.diff(normalised, axis=1) ** 2).sum(0))
    irregularity = (np.diff(S[:512], axis=0) ** 2).sum(0) / ((S[:512] ** 2).sum(0) + 1e-12)
    total = s.power.sum(0) + 1e-12
    low, high = s.power[frequencies < 250].sum(0) / total, s.power[frequencies > 4000].sum(0) / total
    return [
        ("zcr_mean", np.array(zcr.mean())),
        ("centroid_mean", np.array(centroid.mean())),
        ("centroid_std", np.array(centroid.std())),
        ("flatness_mean", np.array(flatness.mean())),
        (
            "shape",
            np.array(
                [zcr.std(), bandwidth.mean(), bandwidth.std(), rolloff.mean(), rolloff.std(), flatness.std()]
                + [flux.mean(), flux.std(), irregularity.mean(), irregularity.std(), low.mean()]
                + [high.mean(), high.std(), np.percentile(centroid, 10), np.percentile(centroid, 90)]
            ),
        ),
    ]


def _modulation(s: _Spectra) -> Group:
    """How fast the loudness of 8 mel bands fluctuates: 6 modulation bands from 0.3 to 22 Hz, log."""
    import numpy as np

    bands = np.stack([s.mel128[rows].mean(0) for rows in np.array_split(np.arange(128), 8)])
    if bands.shape[1] < WINDOW_FRAMES:  # an excerpt under 3 s: one window, its last level held
        bands = np.pad(bands, ((0, 0), (0, WINDOW_FRAMES - bands.shape[1])), mode="edge")
    windows = max(1, bands.shape[1] // WINDOW_FRAMES)
    segments = np.stack([bands[:, i * WINDOW_FRAMES : (i + 1) * WINDOW_FRAMES] for i in range(windows)])
    segments = segments - segments.mean(2, keepdims=True)
    spectrum = np.abs(np.fft.rfft(segments * np.hanning(WINDOW_FRAMES), axis=2)).mean(0)
    edges = (1, 3, 6, 12, 24, 40, 65)
    modulation = np.stack([spectrum[:, a:b].mean(1) for a, b in zip(edges[:-1], edges[1:])], 1)
    return [("modulation", np.log(modulation + 1e-6).ravel())]


GROUPS = (_mel, _mfcc, _harmony, _rhythm, _dynamics, _spectral_shape, _modulation)
