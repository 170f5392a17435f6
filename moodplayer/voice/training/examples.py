"""Training examples: a clip's features as recorded, at other speeds and in degraded copies, cached.

Every version of a clip is computed once per file and feature settings and kept
in the feature cache (:func:`cached`); what the training speakers' clips say as
a whole (their typical spread, class prior, the enrolment shift, where their
voices sit) is computed here too, from the examples' statistics.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import AudioError, NoSpeechError
from moodplayer.voice.datasets import Clip, speakers
from moodplayer.voice.features import EnrolmentShift, FeatureConfig, Stats, cold_start, extract


@dataclass
class Example:
    """A clip's raw features (as recorded, speed-perturbed, then degraded copies) with their statistics."""

    versions: tuple[np.ndarray, ...]
    stats: tuple[Stats, ...]
    label: int
    speaker: str
    name: str  # the file name: enrolment takes a speaker's first neutral clips by name
    n_views: int = 1  # the leading versions the product hears the clip as: as recorded, then any test-time speeds
    n_recorded: int = 1  # the leading versions that are the recording itself, as recorded or at a speed
    corpus: str = ""  # which corpus the clip comes from (datasets.Corpus.name)

    @property
    def views(self) -> tuple[np.ndarray, ...]:
        """The versions the product hears a clip as (classifier.view_logits); the rest are for training only."""
        return self.versions[: self.n_views]

    def normalised(
        self, profile: Stats | None = None, version: int = 0, typical_var: np.ndarray | None = None
    ) -> np.ndarray:
        """Normalised by a voice profile, or at cold start (see features.cold_start)."""
        return (profile or cold_start(self.stats[version], typical_var)).normalise(self.versions[version])


# --- features, with a cache ---------------------------------------------------------------


def cached(path: Path, kind: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()`` for an audio file, cached under ``kind`` while the file is unchanged.

    The key is the file's resolved path, modification time and size, and
    ``kind`` (which names the feature settings): editing or replacing a file,
    or changing a setting, computes afresh.
    """
    import io

    from moodplayer.files import atomic_write
    from moodplayer.paths import cache_dir

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}".encode()).hexdigest()[:24]
    file = cache_dir() / "features" / kind / f"{key}.npy"
    if file.is_file():
        try:
            return np.load(file)
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt below
    value = compute()
    buffer = io.BytesIO()
    np.save(buffer, value)
    atomic_write(file, buffer.getvalue())
    return value


def clip_features(clip: Clip, config: FeatureConfig, speed: float = 1.0) -> np.ndarray:
    """Raw (un-normalised) features of a clip played at ``speed`` (see features.extract), cached."""
    from moodplayer.voice.audio import load_audio

    def compute() -> np.ndarray:
        return extract(load_audio(clip.path, config.sample_rate), config, speed)

    return cached(clip.path, f"{config.key()}-speed{speed}", compute)


#: Bumped whenever the way training copies are degraded changes (it keys their cache).
DEGRADATION_VERSION = 3


def degraded_features(clip: Clip, config: FeatureConfig, copy: int) -> np.ndarray:
    """Raw features of degraded copy ``copy`` of a clip, cached.

    Half the copies are heard in a room (:meth:`rooms.Room.draw`: RT60 0.2-1.0 s, the
    microphone 0.3-3 m from the talker), every copy in
    coloured noise, white hiss to brown rumble, 5-25 dB below the speech, and half
    of them then through a narrow channel, a phone line or a headset's link (a
    band-pass from 100-400 Hz to 3-7 kHz: RAVDESS's studio passes 50 Hz-8 kHz, and a
    model that never hears a narrow channel fails on a phone line). The draws
    come from a generator seeded by the file name and ``copy``, so every run hears
    the same copies. :class:`NoSpeechError` if no speech is found in the copy any
    more; that answer is cached too (as zero frames), so no run computes it twice.
    """
    from moodplayer.voice.audio import band_limited, coloured_noise, load_audio, with_noise
    from moodplayer.voice.rooms import Room, in_room

    def compute() -> np.ndarray:
        samples = load_audio(clip.path, config.sample_rate)
        seed = int(hashlib.sha256(f"{clip.path.name}|{copy}".encode()).hexdigest()[:8], 16)
        rng = np.random.default_rng(seed)
        if rng.random() < 0.5:
            samples = in_room(samples, Room.draw(rng), rng)
        exponent, snr_db = rng.uniform(0.0, 2.0), rng.uniform(5.0, 25.0)
        samples = with_noise(samples, coloured_noise(samples.size, exponent, rng), snr_db)
        if rng.random() < 0.5:
            samples = band_limited(samples, rng.uniform(100.0, 400.0), rng.uniform(3000.0, 7000.0))
        try:
            return extract(samples, config)
        except NoSpeechError:
            return np.zeros((0, config.dims), np.float32)

    features = cached(clip.path, f"{config.key()}-degraded{DEGRADATION_VERSION}-{copy}", compute)
    if not len(features):
        raise NoSpeechError(f"no speech heard in degraded copy {copy} of {clip.path}")
    return features


def make_examples(
    clips: Sequence[Clip],
    config: FeatureConfig,
    speeds: Sequence[float] = (),
    degraded_copies: int = 0,
    speed_views: bool = True,
) -> list[Example]:
    """Examples of the clips whose label is one of the eight; clips without speech are skipped.

    ``speeds`` adds speed-perturbed versions and ``degraded_copies`` degraded ones that training draws
    from; ``speed_views``: whether the model also hears a clip at ``speeds`` (its views, see Example).
    """
    examples = []
    for clip in clips:
        if clip.label not in EMOTIONS:
            continue
        try:
            raw = [clip_features(clip, config, speed) for speed in (1.0, *speeds)]
        except AudioError:
            continue
        degraded = _heard_copies(clip, config, degraded_copies)
        stats = tuple(Stats.of(r) for r in (*raw, *degraded))
        label = EMOTIONS.index(clip.label)
        views = len(raw) if speed_views else 1
        versions = (*raw, *degraded)
        examples.append(Example(versions, stats, label, clip.speaker, clip.path.name, views, len(raw), clip.corpus))
    return examples


def _heard_copies(clip: Clip, config: FeatureConfig, copies: int) -> list[np.ndarray]:
    """The clip's degraded copies in which speech is still found. The product refuses the others as
    "no speech" (some 5 % of RAVDESS's clips at the lowest SNRs), so the net need not learn them, and
    the clip itself is kept: dropping it would change which clips the actor folds score."""
    heard = []
    for index in range(copies):
        try:
            heard.append(degraded_features(clip, config, index))
        except NoSpeechError:
            pass
    return heard


# --- what the training clips say as a whole ----------------------------------------------------


def corpus_classes(examples: Sequence[Example]) -> dict[str, np.ndarray]:
    """Per corpus, which of the eight emotions its clips hold (a boolean per emotion)."""
    held: dict[str, np.ndarray] = {}
    for ex in examples:
        held.setdefault(ex.corpus, np.zeros(len(EMOTIONS), bool))[ex.label] = True
    return held


def class_prior(examples: Sequence[Example], weights: np.ndarray | None = None) -> tuple[float, ...]:
    """How often each emotion occurs among the clips of the corpora that hold it (each clip
    counted ``weights`` times, see fit.speaker_draws), normalised to sum to one.

    A clip of a corpus without calm never tells the net "not calm" (fit's masked loss), so calm's
    share is taken among the clips that could be calm. An emotion no corpus holds gets 0: the
    model never predicts it (model.log_prior).
    """
    weights = np.ones(len(examples)) if weights is None else weights
    held = corpus_classes(examples)
    labels = np.array([ex.label for ex in examples])
    counts = np.bincount(labels, weights=weights, minlength=len(EMOTIONS))
    exposure = np.sum([weight * held[ex.corpus] for ex, weight in zip(examples, weights)], axis=0)
    share = np.divide(counts, exposure, out=np.zeros(len(EMOTIONS)), where=exposure > 0)
    return tuple(round(float(c), 6) for c in share / share.sum())


def typical_variance(examples: Sequence[Example], weights: np.ndarray | None = None) -> np.ndarray:
    """Each column's within-clip variance averaged over the clips as recorded (each counted
    ``weights`` times): the spread a clip heard without a profile is scaled by (features.cold_start)."""
    return np.average([ex.stats[0].floored_var for ex in examples], axis=0, weights=weights)


def enrolment_shift(examples: Sequence[Example]) -> EnrolmentShift | None:
    """What moves a neutral enrolment's statistics to the speaker's overall ones, on average over
    the speakers (see :class:`EnrolmentShift`); ``None`` if no speaker has neutral clips."""
    neutral = EMOTIONS.index("neutral")
    mean_shifts, log_var_shifts = [], []
    for name in speakers(examples):
        own = [ex.stats[0] for ex in examples if ex.speaker == name]
        calm = [ex.stats[0] for ex in examples if ex.speaker == name and ex.label == neutral]
        if calm:
            everything, enrolled = Stats.combine(own), Stats.combine(calm)
            mean_shifts.append(everything.mean - enrolled.mean)
            log_var_shifts.append(np.log(everything.floored_var) - np.log(enrolled.floored_var))
    if not mean_shifts:
        return None
    return EnrolmentShift(np.mean(mean_shifts, axis=0), np.mean(log_var_shifts, axis=0))


def training_voices(examples: Sequence[Example], config: FeatureConfig) -> dict:
    """Where the training speakers' voices sit, so ``voice show`` can place a user among them:
    the mean and spread over speakers of each one's average log-mel spectrum, and each one's
    typical pitch (Hz, sorted)."""
    per_speaker = np.stack(
        [Stats.combine([ex.stats[0] for ex in examples if ex.speaker == name]).mean for name in speakers(examples)]
    )
    spectra = per_speaker[:, : config.n_mels]
    summary = {
        "spectrum_mean": [round(float(v), 3) for v in spectra.mean(axis=0)],
        "spectrum_std": [round(float(v), 3) for v in spectra.std(axis=0)],
    }
    if config.pitch:
        summary["pitch_hz"] = sorted(round(float(np.exp(v)), 1) for v in per_speaker[:, config.n_mels])
    return summary
