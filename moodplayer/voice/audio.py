"""Audio in: load any common file as 16 kHz mono float32, find and trim speech.

Everything downstream (features, model, voice profiles) assumes
:data:`SAMPLE_RATE` mono float32 in [-1, 1]; this module is the one place
where audio of any format, rate and channel count is brought to that form,
and where unreadable input becomes a one-line :class:`AudioError`.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodplayer.errors import AudioError, NoSpeechError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
#: The longest audio file heard: a longer one is refused before it is decoded (by its header's
#: length, or once that much is read), so a long recording, or 500 MB of zeros, costs at most
#: what a minute does. A voice's emotion is heard in seconds.
MAX_SECONDS = 60.0

#: Frames quieter than this (dBFS, 25 ms RMS) are never speech, whatever the noise floor.
ABSOLUTE_SILENCE_DB = -65.0
#: The quietest speech the model learned from, measured as a clip's loud end (the 95th percentile
#: of its frame levels, dBFS): just below RAVDESS's quietest clip (-56.4), so no training clip
#: moves. A quieter clip is raised to it, by at most :data:`MAX_GAIN_DB`.
QUIETEST_SPEECH_DB = -57.0
MAX_GAIN_DB = 40.0
#: Speech frames must rise this far above the clip's noise floor (its 10th percentile).
SPEECH_ABOVE_FLOOR_DB = 12.0
#: Less voiced audio than this is "no speech heard".
MIN_SPEECH_SECONDS = 0.25

_FRAME = 400  # 25 ms at 16 kHz
_HOP = 160  # 10 ms


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file of at most :data:`MAX_SECONDS` as mono float32 at ``sample_rate``.

    soundfile (libsndfile) reads WAV, FLAC, OGG/Opus, AIFF and MP3 directly;
    anything else (m4a, wma, …) goes through audioread (ffmpeg). Either reads
    block by block, down-mixing as it goes, and stops at the limit.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"no such file: {path}")
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file")
    if not path.is_file():  # a FIFO or a device would be read forever
        raise AudioError(f"{path} is not a regular file (a pipe or a device); give an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes)")
    samples, rate = _decode(path)
    if samples.size == 0:
        raise AudioError(f"{path} holds no audio samples")
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{path} holds invalid (NaN/inf) samples")
    return to_sample_rate(samples.astype(np.float32), rate, sample_rate)


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """Mono samples and their rate: libsndfile first, then ffmpeg (through audioread), their own
    chatter kept off the terminal."""
    import soundfile as sf

    from moodplayer.native_output import captured

    try:
        # The file system's bytes: a name that is not UTF-8 opens too.
        with captured("libsndfile"), sf.SoundFile(os.fsencode(path)) as f:
            _refuse_longer(path, f.frames / f.samplerate)
            return _read_blocks(path, f.blocks(f.samplerate, dtype="float32", always_2d=True), f.samplerate)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        log.debug("libsndfile cannot read %s: %s: %s", path, type(exc).__name__, exc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # audioread imports modules Python deprecates
            import audioread

            opened = audioread.audio_open(str(path))
        with captured("ffmpeg"), opened as f:
            _refuse_longer(path, f.duration)
            blocks = (np.frombuffer(b, "<i2").reshape(-1, f.channels) / np.float32(32768) for b in f)
            return _read_blocks(path, blocks, f.samplerate)
    except AudioError:
        raise
    except Exception as exc:  # audioread raises a zoo of unrelated types
        log.debug("ffmpeg (audioread) cannot read %s: %s: %s", path, type(exc).__name__, exc)
    raise AudioError(unreadable(path))


def unreadable(path: Path) -> str:
    """Why a file no decoder could read failed, and what to do about it."""
    import shutil

    if shutil.which("ffmpeg") is None:
        return (
            f"cannot read {path}: it is not WAV, FLAC, Ogg, MP3 or AIFF audio, the formats read without ffmpeg; "
            "install ffmpeg for m4a, wma and others"
        )
    return f"cannot read {path}: it is not audio, or it is damaged; try a WAV, FLAC, Ogg or MP3 recording"


def _refuse_longer(path: Path, seconds: float | None) -> None:
    """:class:`AudioError` for a file whose header says it is longer than :data:`MAX_SECONDS`."""
    if seconds is not None and seconds > MAX_SECONDS:
        minutes, rest = divmod(round(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        raise _too_long(path, f"{hours}:{minutes:02d}:{rest:02d}" if hours else f"{minutes}:{rest:02d}")


def _too_long(path: Path, lasts: str) -> AudioError:
    return AudioError(
        f"{path} lasts {lasts}; moodplayer hears recordings of up to {MAX_SECONDS:.0f} s (cut out the part to hear)"
    )


def _read_blocks(path: Path, blocks, rate: int) -> tuple[np.ndarray, int]:
    """(frames, channels) blocks down-mixed to mono, refused once more than :data:`MAX_SECONDS` arrive."""
    limit = int(MAX_SECONDS * rate)
    mono: list[np.ndarray] = []
    read = 0
    for block in blocks:
        read += block.shape[0]
        if read > limit:  # the header understated the length
            raise _too_long(path, f"over {MAX_SECONDS:.0f} s")
        mono.append(block.mean(axis=1, dtype=np.float32))
    return (np.concatenate(mono) if mono else np.zeros(0, np.float32)), int(rate)


def to_sample_rate(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float32 audio (soxr, high quality) when the rate differs.

    soxr itself, not through librosa: the same samples as ``librosa.resample(res_type="soxr_hq")``,
    without librosa's import (seconds) on the path of every clip heard at another speed.
    """
    if rate == target:
        return np.ascontiguousarray(samples, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(samples, dtype=np.float32), rate, target, quality="soxr_hq").astype(np.float32)


def frame_db(samples: np.ndarray) -> np.ndarray:
    """RMS level in dBFS of 25 ms frames every 10 ms."""
    if samples.size < _FRAME:
        samples = np.pad(samples, (0, _FRAME - samples.size))
    squares = np.lib.stride_tricks.sliding_window_view(np.square(samples, dtype=np.float64), _FRAME)[::_HOP]
    rms = np.sqrt(squares.mean(axis=1))  # a view of each frame, not a copy: this runs on every clip heard
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def quiet_gain_db(levels: np.ndarray) -> float:
    """How far (dB) a clip with these :func:`frame_db` levels must be raised to :data:`QUIETEST_SPEECH_DB`; 0 if louder.

    Only clips quieter than every training clip move, so the model's training
    data, and its figures, are untouched; a quiet microphone does not lose
    its speech to :data:`ABSOLUTE_SILENCE_DB`. It still sounds like the
    quietest speech the model knows: loudness is one of its cues.
    """
    return float(np.clip(QUIETEST_SPEECH_DB - np.percentile(levels, 95), 0.0, MAX_GAIN_DB))


def voiced_frames(levels: np.ndarray) -> np.ndarray:
    """Indices of the :func:`frame_db` frames loud enough to be speech.

    The threshold adapts to the recording (its 10th-percentile level is the
    noise floor) but never drops below :data:`ABSOLUTE_SILENCE_DB`, judged
    after a quiet clip is raised (:func:`quiet_gain_db`).
    """
    levels = levels + quiet_gain_db(levels)
    floor = float(np.percentile(levels, 10))
    return np.flatnonzero(levels > max(ABSOLUTE_SILENCE_DB, floor + SPEECH_ABOVE_FLOOR_DB))


@dataclass(frozen=True)
class SpeechSpan:
    """Where speech was found in a clip, in samples."""

    start: int
    end: int
    voiced_seconds: float
    gain_db: float = 0.0  # how far the clip is raised to be heard (quiet_gain_db)


def find_speech(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> SpeechSpan | None:
    """Locate speech by energy: frames well above the clip's own noise floor.

    Returns ``None`` when there is too little of it to classify. The threshold
    adapts to the recording (a noisy room raises its floor) but never drops
    below :data:`ABSOLUTE_SILENCE_DB`, so digital silence and hiss are not
    speech; a steady sound with no quieter moments (a hum, a tone) is not either.
    """
    levels = frame_db(samples)
    voiced = voiced_frames(levels)
    seconds = voiced.size * _HOP / sample_rate
    if seconds < MIN_SPEECH_SECONDS:
        return None
    start = int(voiced[0] * _HOP)
    end = int(min(samples.size, voiced[-1] * _HOP + _FRAME))
    return SpeechSpan(start=start, end=end, voiced_seconds=round(seconds, 3), gain_db=quiet_gain_db(levels))


def require_length(samples: np.ndarray, source: str) -> None:
    """:class:`NoSpeechError` for a clip too short to hold :data:`MIN_SPEECH_SECONDS` of speech, said as such."""
    if samples.size < MIN_SPEECH_SECONDS * SAMPLE_RATE:
        raise NoSpeechError(
            f"{source} lasts {samples.size / SAMPLE_RATE:.2f} s, too short to hear a voice in; "
            "speak for a second or two and try again"
        )


def speech_only(samples: np.ndarray, source: str = "the recording", pad_seconds: float = 0.1) -> np.ndarray:
    """The clip trimmed to its speech (with a little padding) and raised if quiet, or :class:`NoSpeechError`."""
    require_length(samples, source)
    span = find_speech(samples)
    if span is None:
        raise NoSpeechError(f"no speech heard in {source}; speak for a second or two and try again")
    pad = int(pad_seconds * SAMPLE_RATE)
    speech = samples[max(0, span.start - pad) : min(samples.size, span.end + pad)]
    return speech * np.float32(10 ** (span.gain_db / 20)) if span.gain_db else speech


def speech_rms(samples: np.ndarray) -> float:
    """RMS of the clip's speech span (the whole clip if none is found), so an SNR ignores its silences."""
    span = find_speech(samples)
    speech = samples[span.start : span.end] if span else samples
    return float(np.sqrt(np.mean(np.square(speech, dtype=np.float64))))


def coloured_noise(size: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent: 0 white (hiss), 1 pink (fans, rooms), 2 brown (rumble)."""
    spectrum = np.fft.rfft(rng.standard_normal(size))
    spectrum /= np.maximum(np.arange(spectrum.size), 1) ** (exponent / 2)
    return np.fft.irfft(spectrum, size)


def with_noise(samples: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``samples`` with ``noise`` added so that the speech is ``snr_db`` above it."""
    noise = np.resize(noise, samples.size)
    gain = speech_rms(samples) / (np.sqrt(np.mean(np.square(noise, dtype=np.float64))) * 10 ** (snr_db / 20) + 1e-12)
    return (samples + gain * noise).astype(np.float32)


def band_limited(samples: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """The clip through a channel that passes only ``low_hz``-``high_hz`` (4th-order Butterworth
    band-pass): a phone line passes 300-3400 Hz, a headset's wideband link 50-7000 Hz."""
    from scipy.signal import butter, sosfilt

    band = butter(4, [low_hz, high_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return sosfilt(band, samples).astype(np.float32)
