"""A loaded model: audio in, :class:`Prediction` out.

This is the one path from samples to an emotion that ``detect``, ``listen``
and ``evaluate`` share, so what is measured is what users get: trim to the
speech, frame features (as recorded, and at a few speeds for models that
ask for it), normalise, forward, average the views' logits,
temperature-scaled softmax.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from moodplayer import emotions
from moodplayer.errors import ModelError, NoSpeechError
from moodplayer.voice import audio
from moodplayer.voice.features import EnrolmentShift, FeatureConfig, Stats, extract, normalise

if TYPE_CHECKING:
    from moodplayer.voice.model import Norm

#: Below this confidence (after calibration) a prediction is flagged uncertain.
DEFAULT_UNCERTAIN_BELOW = 0.4


@dataclass(frozen=True)
class FileClip:
    """An audio file's samples (16 kHz mono float32), long enough to classify, and how long decoding took."""

    path: Path
    samples: np.ndarray
    load_ms: float


def read_clip(path: str | Path) -> FileClip:
    """An audio file, decoded and checked for length: :class:`AudioError` or :class:`NoSpeechError`, in one
    line, for one that cannot be heard. Needs no model, so a caller can check its files before loading one."""
    start = time.perf_counter()
    samples = audio.load_audio(path)
    loaded = (time.perf_counter() - start) * 1000
    audio.require_length(samples, str(path))
    return FileClip(Path(path), samples, loaded)


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
    #: The clip's features (:meth:`Classifier.features_of`), so a voice profile can learn from
    #: the clip without computing them again (``listen``); not part of the verdict.
    views: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)

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


#: How far a voice's own batch-norm statistics replace the training speakers' (AdaBN; half and
#: half, which suits enrolments better than either alone: docs/experiments.md).
SPEAKER_NORM_WEIGHT = 0.5

#: Per member of a model and front block of each (member-major), the statistics of what that
#: block's batch norm hears in one voice's clips normalised by its profile (see :func:`heard_norms`).
VoiceNorms = tuple[Stats, ...]


def view_logits(
    net,
    clips: Sequence[Sequence[np.ndarray]],
    profiles: Sequence[Stats | None],
    norms: VoiceNorms | None = None,
    trust: Sequence[float] | None = None,
) -> np.ndarray:
    """Logits of clips, each the mean over the clip's views, as one (clips, classes) array.

    A clip's views are its raw features as recorded and, for models trained
    to hear them (training.fit.Recipe.speed_views; today's recipe does not), at the
    speeds the model was also trained on (test-time augmentation). Each view
    is normalised at cold start (features.cold_start, the way each member of
    the model was trained to). A voice profile, when there is one, adds the
    view as recorded normalised by the profile (the speed views' spectra are
    not the ones the profile describes): the clip is judged against this voice
    and against itself, and a profile that misplaces the voice (an enrolment
    of neutral sentences only) cannot pull every clip with it (docs/experiments.md).
    All views of all clips go through each member as one batch; the members'
    logits are averaged, and the log of the model's training class prior is
    taken off (see ModelConfig.class_prior).

    ``norms``: when all the clips are one voice's, that voice's batch-norm
    statistics (see :func:`heard_norms`). For the view normalised by the
    profile, batch norm then centres and scales what the convolutions hear by a
    blend of the voice's statistics and the training speakers' (AdaBN), as the
    profile does for the features: the net's idea of an average voice moves to
    this speaker's. The views at cold start keep the training speakers'
    statistics: they are the clip judged against itself, as without a
    profile, so a profile that misplaces the voice moves only half the verdict
    (docs/experiments.md).

    ``trust``: per clip, how far its voice profile is used (:func:`trust_of`): the weight of
    the profiled view in the clip's mean, 1 for each view at cold start. At 0 the clip is
    judged as without a profile; by default every profile is trusted fully.
    """
    rows, counts = _view_rows(net, clips, profiles, norms)
    weights = []
    for count, profile, weight in zip(counts, profiles, trust if trust is not None else [1.0] * len(counts)):
        weights.append(np.ones(count))
        if profile is not None:
            weights[-1][-1] = weight
    return np.stack(
        [np.average(part, axis=0, weights=w) for part, w in zip(np.split(rows, np.cumsum(counts)[:-1]), weights)]
    ).astype(np.float32)


def _view_rows(net, clips, profiles, norms: VoiceNorms | None) -> tuple[np.ndarray, list[int]]:
    """The logits of every view of every clip (see :func:`view_logits`), one row each in order
    (a clip's profiled view last), and how many rows each clip has."""
    import torch

    from moodplayer.voice.model import log_prior, members_of, pad_batch, typical_var

    net.eval()
    batches: dict[bytes | None, tuple] = {}  # members that normalise alike share one batch
    logits = []
    for number, member in enumerate(members_of(net)):
        typical = typical_var(member)
        key = None if typical is None else typical.tobytes()
        if key not in batches:
            views, profiled = _normalised_views(clips, profiles, typical)
            batches[key] = (pad_batch(views), torch.tensor(profiled))
        (x, lengths), profiled = batches[key]
        moved = _voice_norms(member, number, norms, profiled) if norms else ()
        with torch.inference_mode():
            logits.append(member(x, lengths, moved).numpy())
    rows = np.mean(logits, axis=0) - log_prior(net).astype(np.float32)
    return rows, [len(views) + (profile is not None) for views, profile in zip(clips, profiles)]


#: Agreement (see :func:`agreement`) at or below which a voice profile is not used at all, and
#: at or above which it is used fully; linear between (docs/model-card.md, "Voice profiles").
TRUST_NONE_AT = 0.4
TRUST_FULL_AT = 0.7


def agreement(net, clips: Sequence[Sequence[np.ndarray]], profile: Stats, norms: VoiceNorms | None = None) -> int:
    """Of some clips of one voice, how many are given the same emotion when heard at cold start
    (their views' mean) and through the voice's ``profile`` (and batch-norm ``norms``) alone."""
    rows, counts = _view_rows(net, clips, [profile] * len(clips), norms)
    parts = np.split(rows, np.cumsum(counts)[:-1])
    return sum(int(np.argmax(part[:-1].mean(axis=0)) == np.argmax(part[-1])) for part in parts)


def trust_of(agreed: int, heard: int) -> float:
    """How far to use a voice profile whose two hearings agreed on ``agreed`` of ``heard`` clips:
    not at all at :data:`TRUST_NONE_AT` agreement or below, fully at :data:`TRUST_FULL_AT` or
    above, linearly between. A profile describing a voice the model hears well moves verdicts
    without overturning most of them; one that overturns most of its own clips' verdicts
    describes a voice unlike the training speakers', and the clip's own cold-start hearing is
    the safer verdict."""
    if heard <= 0:
        return 1.0
    share = agreed / heard
    return round(float(np.clip((share - TRUST_NONE_AT) / (TRUST_FULL_AT - TRUST_NONE_AT), 0.0, 1.0)), 6)


def heard_norms(
    net, clips: Sequence[Sequence[np.ndarray]], profile: Stats, earlier: VoiceNorms | None = None
) -> VoiceNorms:
    """What each front block's batch norm hears in these clips of one voice, normalised by its
    ``profile`` as :func:`view_logits` normalises them, as statistics per member and block (member-major).

    Block by block, as AdaBN adapts: a block hears what the blocks before it
    pass on once they are moved to this voice, by the ``earlier`` clips' norms
    merged with these clips'. Gathered clip by clip (as ``listen`` does), the
    first block's norms are exactly those of all the clips at once and a later
    block's are close to them (each clip was heard with the voice as known then).
    """
    from moodplayer.voice.model import batch_norm_inputs, members_of, pad_batch, speaker_norm

    net.eval()
    heard: list[Stats] = []
    x, lengths = pad_batch([normalise(views[0], profile) for views in clips])
    for member in members_of(net):
        moved: list[Norm] = []  # the voice's norms of the blocks heard so far
        for k in range(len(member.front)):
            stats = Stats.of(batch_norm_inputs(member, x, lengths, moved)[k])
            heard.append(stats)
            voice = stats if earlier is None else earlier[len(heard) - 1].merge(stats)
            moved.append(speaker_norm(member, k, voice.mean, voice.var, SPEAKER_NORM_WEIGHT))
    return tuple(heard)


def merge_norms(earlier: VoiceNorms | None, later: VoiceNorms) -> VoiceNorms:
    """A voice's norms over the clips of both."""
    return later if earlier is None else tuple(a.merge(b) for a, b in zip(earlier, later))


def _normalised_views(clips, profiles, typical: np.ndarray | None) -> tuple[list[np.ndarray], list[bool]]:
    """Every view of every clip at cold start for a member with ``typical`` spread, each clip followed
    by its view as recorded normalised by its profile when it has one (see :func:`view_logits`); and
    whether each is that profiled view."""
    heard: list[np.ndarray] = []
    profiled: list[bool] = []
    for views, profile in zip(clips, profiles):
        heard.extend(normalise(view, None, typical) for view in views)
        profiled.extend([False] * len(views))
        if profile is not None:
            heard.append(normalise(views[0], profile))
            profiled.append(True)
    return heard, profiled


def _voice_norms(member, number: int, norms: VoiceNorms, profiled) -> list:
    """Per front block of member ``number``, each view's batch-norm mean and variance: for the
    ``profiled`` ones (a boolean per view) the voice's statistics blended with the training
    speakers', for the rest the training speakers' alone (see :func:`view_logits`)."""
    import torch

    from moodplayer.voice.model import running_norm, speaker_norm

    blocks = len(member.front)
    moved = []
    for k in range(blocks):
        stats = norms[number * blocks + k]
        voice = speaker_norm(member, k, stats.mean, stats.var, SPEAKER_NORM_WEIGHT)
        trained = running_norm(member, k)
        moved.append(tuple(torch.where(profiled[:, None], ours, theirs) for ours, theirs in zip(voice, trained)))
    return moved


def synthetic_vowel(rate: int, seconds: float = 2.0) -> np.ndarray:
    """A sung "ah" (150 Hz and its harmonics, swelling three times a second) between short silences."""
    t = np.arange(int(seconds * rate)) / rate
    harmonics = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    silence = np.zeros(rate // 4)
    return np.concatenate([silence, 0.1 * harmonics * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)), silence]).astype(
        np.float32
    )


class Classifier:
    """A model ready to classify 16 kHz mono audio."""

    def __init__(self, net, metadata: dict):
        from moodplayer.voice.model import ModelMetadata

        self.net = net
        #: The sidecar as read, and (``card``) the same typed.
        self.metadata = metadata
        self.card = ModelMetadata.from_dict(metadata)
        self.labels: tuple[str, ...] = self.card.labels
        self.features: FeatureConfig = self.card.features
        self.temperature = self.card.temperature or 1.0
        self.uncertain_below = self.card.uncertain_below or DEFAULT_UNCERTAIN_BELOW
        #: Whether the model learned from speaker-normalised features, so a voice profile helps it.
        self.accepts_profiles = self.card.speaker_normalisation
        #: Speeds a clip is also heard at, besides as recorded (older models: none).
        self.speeds: tuple[float, ...] = self.card.test_time_speeds
        #: Moves a neutral enrolment to the speaker's everyday statistics (None: older models, no neutral data).
        self.enrolment_shift: EnrolmentShift | None = self.card.enrolment_shift
        #: Which weights these are: a voice's batch-norm statistics hold for these weights only.
        self.model_id: str = self.card.weights_sha256
        #: The file these weights came from (set by :meth:`load`).
        self.path: Path | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Classifier:
        """Load a model file (default: the version in force); :class:`ModelError` if unusable.

        Every inference path loads its model here, so this is where the process
        takes on inference's thread counts (:mod:`moodplayer.voice.threads`).
        """
        from moodplayer.voice.model import load_model
        from moodplayer.voice.model_versions import load_active, weights_path
        from moodplayer.voice.threads import use_inference_threads

        if path is not None:
            path = Path(path)
            net, metadata = load_model(path)
        else:  # the version in force, or the one before it if it does not load
            version_id, net, metadata = load_active()
            path = weights_path(version_id)
        if tuple(metadata["labels"]) != emotions.EMOTIONS:
            raise ModelError(f"model labels {metadata['labels']} are not moodplayer's eight emotions")
        use_inference_threads()
        classifier = cls(net, metadata)
        classifier.path = path
        return classifier

    def warm_up(self) -> None:
        """Classify a synthetic vowel once, so the user's first clip does not pay for the set-up
        that torch (oneDNN's kernels) and soxr do on their first call (``listen`` runs this while
        the user speaks)."""
        try:
            self.predict(synthetic_vowel(self.features.sample_rate))
        except NoSpeechError:
            pass  # the voice-activity rule changed; the warm-up is a courtesy, not a check

    def features_of(self, samples: np.ndarray) -> tuple[np.ndarray, ...]:
        """The clip's raw (un-normalised) features, as recorded and at the model's test-time speeds;
        :class:`NoSpeechError` if nobody speaks.

        The statistics of the first (as recorded) are what a voice profile accumulates.
        """
        return tuple(extract(samples, self.features, speed) for speed in (1.0, *self.speeds))

    def classify(
        self,
        views: Sequence[np.ndarray],
        profile: Stats | None = None,
        norms: VoiceNorms | None = None,
        trust: float = 1.0,
    ) -> np.ndarray:
        """Calibrated class probabilities of a clip's views (:meth:`features_of`), with the voice's
        ``profile`` and batch-norm ``norms`` if known, the profile used as far as ``trust`` says
        (see :func:`view_logits`)."""
        logits = view_logits(self.net, [views], [profile], norms, [trust])[0] / self.temperature
        probs = np.exp(logits - logits.max())
        return (probs / probs.sum()).astype(np.float64)

    def prediction(
        self, probs: np.ndarray, timings_ms: dict[str, float] | None = None, views: Sequence[np.ndarray] = ()
    ) -> Prediction:
        """A :class:`Prediction` from class probabilities (of the clip heard as ``views``)."""
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
            views=tuple(views),
        )

    def norms_of(
        self, clips: Sequence[Sequence[np.ndarray]], profile: Stats, earlier: VoiceNorms | None = None
    ) -> VoiceNorms:
        """What the model's batch norms hear in some clips' views (:meth:`features_of`) of a voice
        normalised by its ``profile``, after the voice's ``earlier`` clips (see :func:`heard_norms`)."""
        return heard_norms(self.net, clips, profile, earlier)

    def agreement(self, clips: Sequence[Sequence[np.ndarray]], profile: Stats, norms: VoiceNorms | None = None) -> int:
        """Of some clips' views of one voice, how many the cold and the profiled hearings give the
        same emotion (see :func:`agreement`)."""
        return agreement(self.net, clips, profile, norms)

    def predict(
        self,
        samples: np.ndarray,
        profile: Stats | None = None,
        norms: VoiceNorms | None = None,
        trust: float = 1.0,
    ) -> Prediction:
        """The emotion in 16 kHz mono float32 audio; :class:`NoSpeechError` if nobody speaks.

        ``profile``: the speaker's voice statistics, when known; else the clip
        normalises itself. ``norms``: the voice's batch-norm statistics, when known.
        ``trust``: how far the profile is used (:func:`trust_of`).
        """
        start = time.perf_counter()
        views = self.features_of(samples)
        mid = time.perf_counter()
        probs = self.classify(views, profile, norms, trust)
        end = time.perf_counter()
        timings = {"load": 0.0, "features": (mid - start) * 1000, "model": (end - mid) * 1000}
        return self.prediction(probs, timings, views)

    def predict_file(
        self, path: str | Path, profile: Stats | None = None, norms: VoiceNorms | None = None, trust: float = 1.0
    ) -> Prediction:
        """Load an audio file and classify it; ``timings_ms['load']`` is the decoding time."""
        return self.predict_clip(read_clip(path), profile, norms, trust)

    def predict_clip(
        self, clip: FileClip, profile: Stats | None = None, norms: VoiceNorms | None = None, trust: float = 1.0
    ) -> Prediction:
        """Classify a file's audio as :func:`read_clip` read it; no speech is said under the file's name."""
        try:
            prediction = self.predict(clip.samples, profile, norms, trust)
        except NoSpeechError:
            raise NoSpeechError(f"no speech heard in {clip.path}; give a recording of someone speaking") from None
        prediction.timings_ms["load"] = clip.load_ms
        return prediction
