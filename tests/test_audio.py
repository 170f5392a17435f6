"""Loading audio of every common format and finding the speech in it."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from moodplayer.demo import SAMPLE_VOICE
from moodplayer.errors import AudioError, NoSpeechError
from moodplayer.voice import audio

FFMPEG_FORMATS = ["mp3", "ogg", "opus", "m4a", "wma", "aiff", "wv"]


@pytest.fixture(scope="module")
def voice() -> np.ndarray:
    return audio.load_audio(SAMPLE_VOICE)


def test_sample_voice_is_16k_mono_float(voice):
    assert voice.dtype == np.float32 and voice.ndim == 1
    assert 4.0 < voice.size / audio.SAMPLE_RATE < 7.0


def test_stereo_44k_wav_becomes_16k_mono(tmp_path, voice):
    path = tmp_path / "stereo.wav"
    resampled = audio.to_sample_rate(voice, 16_000, 44_100)
    sf.write(path, np.stack([resampled, resampled], axis=1), 44_100)
    loaded = audio.load_audio(path)
    assert loaded.ndim == 1
    assert abs(loaded.size - voice.size) < 0.01 * voice.size


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("ext", FFMPEG_FORMATS)
def test_compressed_formats_decode_to_the_same_speech(tmp_path, voice, ext):
    path = tmp_path / f"voice.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(SAMPLE_VOICE), str(path)], check=True)
    loaded = audio.load_audio(path)
    assert abs(loaded.size - voice.size) < 0.1 * audio.SAMPLE_RATE + 0.05 * voice.size
    span = audio.find_speech(loaded)
    assert span is not None and span.voiced_seconds > 1.5


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        audio.load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.flac"
    path.touch()
    with pytest.raises(AudioError, match="empty"):
        audio.load_audio(path)


@pytest.mark.parametrize("name", ["notes.wav", "notes.mp3"])
def test_text_file_is_not_audio_and_the_decoders_keep_quiet(tmp_path, capfd, name):
    path = tmp_path / name
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError, match="cannot read .*: it is not audio, or it is damaged"):
        audio.load_audio(path)
    assert capfd.readouterr().err == ""  # libsndfile's mpg123 says "Note: Illegal Audio-MPEG-Header" on fd 2


def test_truncated_flac_is_reported_not_crashed(tmp_path):
    path = tmp_path / "cut.flac"
    path.write_bytes(SAMPLE_VOICE.read_bytes()[:300])
    with pytest.raises(AudioError):
        audio.load_audio(path)


def test_speech_is_found_in_the_sample(voice):
    span = audio.find_speech(voice)
    assert span is not None
    # The clip was padded with 0.4 s of silence before and 0.6 s after the speech.
    assert 0.3 * audio.SAMPLE_RATE < span.start < 0.6 * audio.SAMPLE_RATE
    assert voice.size - span.end > 0.4 * audio.SAMPLE_RATE


@pytest.mark.parametrize(
    "make",
    [
        lambda n: np.zeros(n, np.float32),
        lambda n: np.random.default_rng(1).normal(0, 3e-4, n).astype(np.float32),  # room hiss
        lambda n: np.random.default_rng(1).normal(0, 3e-5, n).astype(np.float32),  # raised as quiet, still hiss
        lambda n: (0.2 * np.sin(2 * np.pi * 120 * np.arange(n) / 16_000)).astype(np.float32),  # mains hum
    ],
    ids=["digital-silence", "hiss", "faint-hiss", "hum"],
)
def test_no_speech_is_refused(make):
    with pytest.raises(NoSpeechError, match="no speech heard"):
        audio.speech_only(make(3 * audio.SAMPLE_RATE))


def test_speech_only_trims_the_silence(voice):
    trimmed = audio.speech_only(voice)
    assert trimmed.size < voice.size - 0.6 * audio.SAMPLE_RATE


@pytest.mark.parametrize("db", [-50, -70])
def test_a_quiet_microphone_is_heard_as_the_quietest_voice_the_model_knows(voice, db):
    """Speech quieter than any training clip is raised to that level, not lost under the silence threshold."""
    quiet = voice * np.float32(10 ** (db / 20))
    span = audio.find_speech(quiet)
    assert span is not None and span.voiced_seconds > 0.4 * audio.find_speech(voice).voiced_seconds
    heard = np.percentile(audio.frame_db(audio.speech_only(quiet)), 95)
    assert heard == pytest.approx(audio.QUIETEST_SPEECH_DB, abs=1.5)


def test_speech_as_loud_as_the_training_clips_is_left_as_it_is(voice):
    quieter = voice * np.float32(0.01)  # 40 dB down: still louder than the quietest training clip
    span = audio.find_speech(quieter)
    pad = int(0.1 * audio.SAMPLE_RATE)
    assert span.gain_db == 0.0
    assert np.array_equal(audio.speech_only(quieter), quieter[span.start - pad : span.end + pad])


def test_noise_is_added_at_the_asked_level_below_the_speech_not_the_whole_clip(voice):
    """An SNR of 10 dB means 10 dB below the speech, however much silence surrounds it."""
    rng = np.random.default_rng(0)
    padded = np.concatenate([voice, np.zeros(3 * audio.SAMPLE_RATE, np.float32)])
    assert audio.speech_rms(padded) == pytest.approx(audio.speech_rms(voice), rel=1e-3)
    noisy = audio.with_noise(padded, audio.coloured_noise(padded.size, 1.0, rng), 10.0)
    added = noisy - padded
    snr = 20 * np.log10(audio.speech_rms(padded) / np.sqrt(np.mean(np.square(added, dtype=np.float64))))
    assert snr == pytest.approx(10.0, abs=0.05)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0])
def test_coloured_noise_falls_3_db_per_octave_for_each_unit_of_its_exponent(exponent):
    noise = audio.coloured_noise(2**18, exponent, np.random.default_rng(1))
    power = np.abs(np.fft.rfft(noise)) ** 2
    hz = np.fft.rfftfreq(noise.size, 1 / audio.SAMPLE_RATE)

    def density_db(low: float) -> float:
        return 10 * np.log10(np.mean(power[(hz >= low) & (hz < low * 1.2)]))

    assert density_db(500) - density_db(1000) == pytest.approx(3.01 * exponent, abs=0.5)


def test_a_narrow_channel_passes_its_band_and_stops_the_rest():
    t = np.arange(audio.SAMPLE_RATE) / audio.SAMPLE_RATE
    tones = {hz: np.sin(2 * np.pi * hz * t).astype(np.float32) for hz in (100, 1000, 6000)}
    heard = {hz: audio.band_limited(tone, 300, 3400)[audio.SAMPLE_RATE // 10 :] for hz, tone in tones.items()}
    level_db = {
        hz: 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) / np.sqrt(0.5)) for hz, x in heard.items()
    }
    assert level_db[1000] == pytest.approx(0, abs=0.5)
    assert level_db[100] < -30 and level_db[6000] < -30
