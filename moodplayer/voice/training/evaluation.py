"""Scoring a model on speakers it never heard, as the product hears them, with or without voice profiles.

One path serves ``moodplayer evaluate``, cross-validation and the benches: clips
become :class:`Hearing` s (their views as the model hears them, or none where no
speech is found), an ``--adapt`` mode decides which clips build each speaker's
voice profile (:func:`adapt_plan`), and :func:`judge` scores the rest through
classifier.view_logits, as ``detect`` and ``listen`` classify.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import AudioError, MoodplayerError
from moodplayer.voice.classifier import Classifier, VoiceNorms, agreement, heard_norms, trust_of, view_logits
from moodplayer.voice.datasets import Clip
from moodplayer.voice.features import EnrolmentShift, Stats
from moodplayer.voice.training.examples import Example, clip_features
from moodplayer.voice.training.metrics import closed_set, scores

#: speaker → voice profile; ``None`` means every clip is normalised at cold start.
Profiles = dict[str, Stats] | None


class Heard(Protocol):
    """A clip of someone's as the model hears it (an :class:`Example`, a :class:`Hearing`)."""

    @property
    def speaker(self) -> str: ...

    @property
    def views(self) -> tuple[np.ndarray, ...]: ...


@dataclass(frozen=True)
class Hearing:
    """One clip to score: its label, who speaks, its file name, and its views (see Example.views);
    ``views`` is empty where no speech was found in it (scored as "no-speech")."""

    label: str
    speaker: str
    name: str
    views: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, example: Example) -> Hearing:
        return cls(EMOTIONS[example.label], example.speaker, example.name, example.views)


def hearings(classifier: Classifier, clips: Sequence[Clip]) -> list[Hearing]:
    """Clips as a model hears them: as recorded and at its test-time speeds (features cached)."""
    found = []
    for clip in clips:
        try:
            views = tuple(clip_features(clip, classifier.features, speed) for speed in (1.0, *classifier.speeds))
        except AudioError:
            views = ()
        found.append(Hearing(clip.label, clip.speaker, clip.path.name, views))
    return found


def predict_logits(
    net,
    clips: Sequence[Heard],
    profiles: Profiles = None,
    batch_size: int = 64,
    every_view: bool = True,
    norms: dict[str, VoiceNorms] | None = None,
    trust: dict[str, float] | None = None,
) -> np.ndarray:
    """Logits for whole clips, in order, as the product computes them (classifier.view_logits): each
    clip heard as recorded and at the speeds it was also extracted at, normalised at cold start and, when
    its speaker has one, by a voice profile and (``norms``: speaker → the voice's batch-norm statistics)
    batch norms moved to that voice, used as far as ``trust`` (speaker → weight, default 1) says.
    ``every_view=False``: as recorded only (cheaper)."""
    logits = np.zeros((len(clips), len(EMOTIONS)), np.float32)
    voices: dict[str | None, list[int]] = {}  # a batch shares its batch norms: one voice's clips, or cold ones
    for i, clip in enumerate(clips):
        voices.setdefault(clip.speaker if norms and clip.speaker in norms else None, []).append(i)
    for speaker, indices in voices.items():
        for start in range(0, len(indices), batch_size):
            chunk = [clips[i] for i in indices[start : start + batch_size]]
            views = [clip.views if every_view else clip.views[:1] for clip in chunk]
            stats = [profiles.get(clip.speaker) if profiles else None for clip in chunk]
            voice = norms[speaker] if norms and speaker is not None else None
            weights = [trust.get(clip.speaker, 1.0) if trust else 1.0 for clip in chunk]
            logits[indices[start : start + batch_size]] = view_logits(net, views, stats, voice, weights)
    return logits


def known_emotions(net) -> list[str]:
    """The emotions a model can tell: those its training data held (see model.log_prior)."""
    from moodplayer.voice.model import log_prior

    return [label for label, taken_off in zip(EMOTIONS, log_prior(net)) if np.isfinite(taken_off)]


# --- the --adapt protocol -------------------------------------------------------------------


def adapt_plan(
    items: Sequence[tuple[str, str, str]], mode: str, seed: int = 0
) -> tuple[dict[str, list[int]], list[int]]:
    """Which clips build each speaker's voice profile under an ``--adapt`` mode, and which are scored.

    ``items`` are (speaker, label, file name) per clip; returns speaker →
    enrolment indices, and the indices to score. ``none``: no profile (cold
    start), every clip scored. ``neutral:N``: each speaker's first N neutral
    clips by name are the enrolment and are not scored. ``history:N``: N of the
    speaker's clips drawn with a fixed seed, labels unused, stand for N past
    listens; every clip is scored. Either, followed by ``/stats``: the same
    clips, the profile's feature statistics only (see :func:`moves_batch_norms`);
    by ``/always``: each profile used fully, however far it is trusted (see
    :func:`gates_profiles`); by both (``/stats/always``).
    """
    profile, *variants = mode.split("/")
    kind, _, count = profile.partition(":")
    if kind == "none" and not count and not variants:
        return {}, list(range(len(items)))
    if (
        kind not in ("neutral", "history")
        or not count.isdigit()
        or int(count) < 1
        or not set(variants) <= {"stats", "always"}
        or len(set(variants)) < len(variants)
    ):
        raise MoodplayerError(
            f"--adapt {mode!r} is not one of none, neutral:N, history:N (N ≥ 1), each optionally /stats and /always"
        )
    rng = np.random.default_rng(seed)
    enrol, scored = {}, []
    for name in sorted({speaker for speaker, _, _ in items}):
        own = [i for i, item in enumerate(items) if item[0] == name]
        if kind == "history":
            chosen = sorted(rng.choice(own, size=min(int(count), len(own)), replace=False).tolist())
            scored += own
        else:
            chosen = sorted((i for i in own if items[i][1] == "neutral"), key=lambda i: items[i][2])[: int(count)]
            scored += [i for i in own if i not in chosen]
        if chosen:
            enrol[name] = chosen
    return enrol, sorted(scored)


def moves_batch_norms(mode: str) -> bool:
    """Whether an ``--adapt`` mode's profiles move the model's batch norms to each voice, as the
    product's do; ``…/stats`` modes use the profile's feature statistics alone, to measure what
    moving them adds."""
    return "stats" not in mode.split("/")[1:]


def gates_profiles(mode: str) -> bool:
    """Whether an ``--adapt`` mode uses each profile only as far as it is trusted, as the product
    does (classifier.trust_of); ``…/always`` modes use every profile fully, to measure the gate."""
    return "always" not in mode.split("/")[1:]


def enrolled_profiles(profiles: dict[str, Stats], mode: str, shift: EnrolmentShift | None) -> dict[str, Stats]:
    """The ``--adapt`` profiles as the product would use them: ``neutral:N`` enrolments moved by
    the model's ``shift`` (as a ``voice enroll`` profile is), other modes' as they are."""
    if shift is None or not mode.startswith("neutral"):
        return profiles
    return {name: shift.apply(stats) for name, stats in profiles.items()}


def judge(
    net, clips: Sequence[Hearing], mode: str = "none", seed: int = 0, shift: EnrolmentShift | None = None
) -> dict:
    """Scores of a model on some speakers' clips under an ``--adapt`` mode (see :func:`adapt_plan`).

    ``neutral:N`` enrolments are moved by ``shift`` (learnt from the model's
    training speakers), as the product moves a ``voice enroll`` profile, and
    the model's batch norms are moved to each speaker's enrolment (not in
    ``…/stats`` modes), as a profile moves them. A clip without speech is
    never part of a profile and scores as "no-speech". Where the clips lack
    some emotions, ``closed_set`` scores them among those they hold too.

    Each profile is used as far as it is trusted (classifier.trust_of: how many of
    its own clips the cold and the profiled hearings agree on), unless the mode
    ends ``/always``; ``profile_trust`` tells how often profiles were trusted.
    """
    enrol, order = adapt_plan([(clip.speaker, clip.label, clip.name) for clip in clips], mode, seed)
    enrol = {name: [i for i in chosen if clips[i].views] for name, chosen in enrol.items()}
    enrol = {name: chosen for name, chosen in enrol.items() if chosen}
    profiles = {name: Stats.combine([Stats.of(clips[i].views[0]) for i in chosen]) for name, chosen in enrol.items()}
    profiles = enrolled_profiles(profiles, mode, shift)
    norms = {}
    if moves_batch_norms(mode):
        norms = {
            name: heard_norms(net, [clips[i].views for i in enrol[name]], stats) for name, stats in profiles.items()
        }
    agreed = {
        name: agreement(net, [clips[i].views for i in enrol[name]], stats, norms.get(name))
        for name, stats in profiles.items()
    }
    trust = {name: trust_of(agreed[name], len(enrol[name])) for name in profiles}
    heard = [i for i in order if clips[i].views]
    used = trust if gates_profiles(mode) else None
    logits: list[np.ndarray | None] = [None] * len(clips)
    for i, row in zip(heard, predict_logits(net, [clips[i] for i in heard], profiles, norms=norms, trust=used)):
        logits[i] = row
    truth = [clips[i].label for i in order]
    verdicts = [logits[i] for i in order]
    predicted = ["no-speech" if v is None else EMOTIONS[int(np.argmax(v))] for v in verdicts]
    result = scores(truth, predicted)
    among_held = closed_set(truth, verdicts, EMOTIONS, known_emotions(net))
    if among_held:
        result["closed_set"] = among_held
    if profiles:
        result["profile_trust"] = trust_summary(
            {name: (agreed[name], len(enrol[name]), trust[name]) for name in profiles},
            [clips[i].speaker for i in order],
            gates_profiles(mode),
        )
    return result


def trust_summary(speakers: dict[str, tuple[int, int, float]], scored: Sequence[str], gated: bool) -> dict:
    """How far the voice profiles were trusted: per speaker (agreed, heard, trust), the scored
    clips' speakers in order, and whether the trust was applied. ``trusted``: the mean weight
    the scored clips' profiles were given; ``full``/``partial``/``none``: speakers by trust."""
    weights = [speakers[name][2] if name in speakers else 0.0 for name in scored]
    return {
        "applied": gated,
        "trusted": round(float(np.mean(weights)), 4) if weights else 0.0,
        "full": sum(t >= 1.0 for _, _, t in speakers.values()),
        "partial": sum(0.0 < t < 1.0 for _, _, t in speakers.values()),
        "none": sum(t <= 0.0 for _, _, t in speakers.values()),
        "speakers": {
            name: {"agreement": round(a / n, 4) if n else None, "trust": round(t, 4)}
            for name, (a, n, t) in sorted(speakers.items())
        },
    }


def score(
    net, examples: Sequence[Example], mode: str = "none", seed: int = 0, shift: EnrolmentShift | None = None
) -> dict:
    """:func:`judge` on training examples (every one with speech)."""
    return judge(net, [Hearing.of(ex) for ex in examples], mode, seed, shift)
