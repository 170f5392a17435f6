"""Voice profiles: how one person's voice usually sounds, so emotion is heard as change.

A profile holds the running per-band mean and variance (:class:`features.Stats`)
of the model's features over that person's speech, gathered without labels,
in two parts: a short enrolment of neutral sentences (whose clips are kept, so
the statistics can be rebuilt for another model) and every ``listen``. They
are kept apart because neutral speech is not the speaker's everyday range: the
model's :class:`features.EnrolmentShift` moves the enrolment part before the
two are merged. The classifier normalises a clip with the profile instead of
with the clip's own statistics once the profile holds :data:`MIN_SECONDS` of
speech.

It also holds the statistics of what the model's batch norms hear in this
voice (``norms``, see :func:`classifier.heard_norms`), which move the model's
own idea of an average voice to this one (AdaBN). They belong to one model's
weights: for another model they are gathered again from the enrolment clips.

A profile is used only as far as it fits (``trust``, :func:`classifier.trust_of`):
of the clips heard through it (the enrolment clips, then every ``listen``), how
many the model gives the same emotion at cold start and through the profile. A
voice the model hears well agrees on most; one unlike any training voice has
most of its verdicts overturned by its own profile, and is judged closer to cold
start. Until :data:`MIN_COMPARED` clips are compared the profile is used fully.

Profiles live in ``<home>/profiles/<name>.json`` (written atomically, with a
checksum); a damaged file is set aside with a warning and the cold-start path
is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodplayer import paths
from moodplayer.errors import MoodplayerError
from moodplayer.files import utc_now
from moodplayer.voice import audio
from moodplayer.voice.classifier import merge_norms, trust_of
from moodplayer.voice.features import EnrolmentShift, FeatureConfig, Stats, frame_features

log = logging.getLogger(__name__)

#: A file may hold a ``norms`` entry: the batch-norm statistics of the clips heard through the
#: profile, per member and block (classifier.VoiceNorms); one written before them lacks it.
FORMAT = "moodplayer-voice-profile/3"
#: Its batch-norm statistics pooled each clip's hearings at cold start and through the profile;
#: read without them (they are gathered again).
POOLED_NORMS_FORMAT = "moodplayer-voice-profile/2"
#: The first format kept one set of statistics; read as heard in ``listen`` (no shift applied).
OLD_FORMAT = "moodplayer-voice-profile/1"
DEFAULT_NAME = "default"
#: Less speech than this and the profile is not used yet (its statistics are too noisy).
MIN_SECONDS = 8.0
#: Clips compared (both hearings) before the agreement decides how far the profile is used.
MIN_COMPARED = 5
#: Enrolment clip checks.
MIN_CLIP_SPEECH_SECONDS = 1.0
MAX_CLIPPED_FRACTION = 0.002
MIN_SNR_DB = 15.0
#: A background louder than this (dBFS) that drowns the speech is noise, not silence.
NOISY_FLOOR_DB = -45.0


@dataclass
class VoiceProfile:
    name: str
    feature_key: str
    enrolled: Stats  # neutral sentences read in `voice enroll`
    heard: Stats  # clips heard by `listen`
    seconds: float = 0.0
    clips: int = 0
    created: str = ""
    updated: str = ""
    norms: tuple[Stats, ...] | None = None  # what the model's batch norms hear in this voice
    norms_model: str = ""  # the weights that heard them (Classifier.model_id)
    norms_seconds: float = 0.0  # the speech they were gathered over
    agreed: int = 0  # clips heard through the profile given the same emotion at cold start (by norms_model)
    compared: int = 0  # clips heard both ways

    def trust_known(self, model_id: str) -> bool:
        """Whether the model ``model_id`` compared enough clips of this voice (:data:`MIN_COMPARED`)
        for the agreement to decide how far it uses the profile."""
        return self.norms_model == model_id and self.compared >= MIN_COMPARED

    def trust_for(self, model_id: str) -> float:
        """How far the model ``model_id`` uses this profile (classifier.trust_of); fully until
        :meth:`trust_known`."""
        return trust_of(self.agreed, self.compared) if self.trust_known(model_id) else 1.0

    @property
    def usable(self) -> bool:
        return self.seconds >= MIN_SECONDS

    @property
    def stats(self) -> Stats:
        """All the speech in the profile, as recorded (for display)."""
        return self.enrolled.merge(self.heard)

    def norms_for(self, model_id: str) -> tuple[Stats, ...] | None:
        """The batch-norm statistics, if the model ``model_id`` heard enough of this voice for them."""
        return self.norms if self.norms_model == model_id and self.norms_seconds >= MIN_SECONDS else None

    def normaliser(self, shift: EnrolmentShift | None) -> Stats:
        """What to normalise with: the enrolment moved by the model's ``shift``, merged with what was heard."""
        enrolled = shift.apply(self.enrolled) if shift is not None and self.enrolled.count else self.enrolled
        return enrolled.merge(self.heard)

    def add(
        self, speech: np.ndarray, config: FeatureConfig, enrolment: bool = False, frames: np.ndarray | None = None
    ) -> None:
        """Fold one clip of (silence-trimmed) speech into the running statistics; ``frames``: its
        features (``frame_features(speech, config)``) when they are already known."""
        clip = Stats.of(frame_features(speech, config) if frames is None else frames)
        if enrolment:
            self.enrolled = self.enrolled.merge(clip)
        else:
            self.heard = self.heard.merge(clip)
        self.seconds = round(self.seconds + speech.size / audio.SAMPLE_RATE, 3)
        self.clips += 1
        self.updated = utc_now()


def hear(profile: VoiceProfile, speech: np.ndarray, classifier, views: Sequence[np.ndarray] = ()) -> None:
    """Fold a clip heard by ``listen`` into the profile: its features' statistics and, once the
    profile normalises clips, what the model's batch norms hear in it.

    ``views``: the features the classifier judged the clip by (Prediction.views); given, they are
    not computed again (``listen`` learns from every clip, right after showing its verdict)."""
    views = tuple(views) or classifier.features_of(speech)
    profile.add(speech, classifier.features, frames=views[0])
    stats = stats_for(profile, classifier)
    if stats is None:
        return
    earlier, seconds = None, speech.size / audio.SAMPLE_RATE
    if profile.norms_model == classifier.model_id:
        earlier, seconds = profile.norms, seconds + profile.norms_seconds
    if earlier is None:
        profile.agreed = profile.compared = 0
    norms = merge_norms(earlier, classifier.norms_of([views], stats, earlier))
    _keep_norms(profile, norms, classifier.model_id, seconds)
    profile.agreed += classifier.agreement([views], stats, profile.norms_for(classifier.model_id))
    profile.compared += 1


def gather_norms(profile: VoiceProfile, clips: Sequence[np.ndarray], classifier) -> None:
    """Set the profile's batch-norm statistics to those of its enrolment ``clips`` (speech only),
    as the model hears them through the profile (at enrolment, or for a model other than the
    one that heard them)."""
    stats = stats_for(profile, classifier)
    if stats is None or not clips:
        return
    views = [classifier.features_of(clip) for clip in clips]
    heard = classifier.norms_of(views, stats)
    _keep_norms(profile, heard, classifier.model_id, sum(clip.size for clip in clips) / audio.SAMPLE_RATE)
    profile.agreed = classifier.agreement(views, stats, profile.norms_for(classifier.model_id))
    profile.compared = len(views)


def _keep_norms(profile: VoiceProfile, norms: tuple[Stats, ...], model_id: str, seconds: float) -> None:
    profile.norms, profile.norms_model, profile.norms_seconds = norms, model_id, round(seconds, 3)


def active_name(explicit: str | None = None) -> str:
    """The profile to use: the one asked for, ``$MOODPLAYER_PROFILE``, or ``default``.

    The name becomes a file and a folder under ``profiles/``, so it is one plain
    name that cannot lead anywhere else: no ``/``, and no leading ``.`` (``..`` is
    the folder above, where the rest of moodplayer's data lives).
    """
    name = explicit or os.environ.get("MOODPLAYER_PROFILE") or DEFAULT_NAME
    if not re.fullmatch(r"[\w-][\w.-]{0,63}", name):
        raise MoodplayerError(
            f"invalid profile name {name!r}: use up to 64 letters, digits, '-', '_' or '.', not starting with '.'"
        )
    return name


def choose(name: str | None, enabled: bool, classifier) -> VoiceProfile | None:
    """The profile a command should use (``None``: cold start, or ``--no-profile``), its batch-norm
    statistics gathered again from the enrolment clips if another model heard them."""
    if not enabled:
        return None
    profile = load_profile(active_name(name), classifier.features)
    if (
        profile is not None
        and profile.norms_model != classifier.model_id
        and stats_for(profile, classifier) is not None
    ):
        clips = [audio.load_audio(clip) for clip in sorted(clips_dir(profile.name).glob("*.flac"))]
        gather_norms(profile, clips, classifier)
        if profile.norms_model == classifier.model_id:
            save_profile(profile)
    return profile


def judged_by(profile: VoiceProfile | None, classifier) -> tuple[Stats | None, tuple[Stats, ...] | None, float]:
    """What a clip of this voice is judged with: the profile's statistics (:func:`stats_for`), its
    batch-norm statistics when this model heard enough of the voice for them, and how far the
    profile is trusted (:meth:`VoiceProfile.trust_for`)."""
    stats = stats_for(profile, classifier)
    if stats is None or profile is None:
        return None, None, 1.0
    return stats, profile.norms_for(classifier.model_id), profile.trust_for(classifier.model_id)


def stats_for(profile: VoiceProfile | None, classifier) -> Stats | None:
    """The statistics to normalise with: the profile's, once it holds enough speech and
    the model was trained to use speaker statistics (a model trained on per-clip
    statistics does worse with a profile: it is gathered, not applied)."""
    if profile is None or not profile.usable or not classifier.accepts_profiles:
        return None
    return profile.normaliser(classifier.enrolment_shift)


def describe(profile: VoiceProfile | None, classifier) -> dict:
    """The profile fields of ``--json`` output: which profile normalised the clip, how much speech
    it holds, and how far it was trusted."""
    if profile is None or stats_for(profile, classifier) is None:
        return {"profile": None, "profile_seconds": 0.0, "profile_trust": None}
    trust = round(profile.trust_for(classifier.model_id), 4)
    return {"profile": profile.name, "profile_seconds": profile.seconds, "profile_trust": trust}


def profiles_dir() -> Path:
    path = paths.home() / "profiles"
    path.mkdir(parents=True, exist_ok=True)
    return path


def profile_path(name: str) -> Path:
    return profiles_dir() / f"{name}.json"


def clips_dir(name: str) -> Path:
    return profiles_dir() / name


def new_profile(name: str, config: FeatureConfig) -> VoiceProfile:
    now = utc_now()
    empty = Stats.empty(config.dims)
    return VoiceProfile(name, config.key(), empty, empty, created=now, updated=now)


def list_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.json"))


def load_profile(name: str, config: FeatureConfig) -> VoiceProfile | None:
    """The named profile, or ``None`` when there is none or it cannot be trusted.

    A damaged file is renamed ``*.damaged`` (never deleted) with a warning; a
    profile made for other features is rebuilt from its enrolment clips when
    they exist, else ignored with a warning.
    """
    path = profile_path(name)
    if not path.exists():
        return None
    try:
        profile = _decode(path.read_bytes())
    except (ValueError, KeyError, TypeError) as exc:
        aside = path.with_suffix(f".json.damaged-{int(time.time())}")
        os.replace(path, aside)
        log.warning(f"voice profile '{name}' is damaged ({exc}); set aside as {aside.name}, using no profile")
        return None
    if profile.feature_key != config.key():
        rebuilt = rebuild_from_clips(name, config)
        if rebuilt is None:
            log.warning(f"voice profile '{name}' was made for another model's features; using no profile (re-enrol)")
        return rebuilt
    return profile


def save_profile(profile: VoiceProfile) -> None:
    """Write atomically: a crash leaves the previous profile in place."""
    from moodplayer.files import atomic_write

    atomic_write(profile_path(profile.name), _encode(profile))


def reset_profile(name: str) -> bool:
    """Delete a profile and the enrolment clips it made; False if there was none.

    Only the files enrolment writes are removed: anything else found in the
    clips' folder is left there, with the folder, and a warning.
    """
    path = profile_path(name)
    existed = path.exists()
    path.unlink(missing_ok=True)
    folder = clips_dir(name)
    if folder.is_dir():
        for clip in folder.glob("enrol-[0-9][0-9].flac"):
            clip.unlink()
        try:
            folder.rmdir()
        except OSError:
            log.warning(f"{folder} holds files that are not enrolment clips; left as it is")
    return existed


def rebuild_from_clips(name: str, config: FeatureConfig) -> VoiceProfile | None:
    """Recompute a profile's statistics from its enrolment clips (for a new model)."""
    clips = sorted(clips_dir(name).glob("*.flac"))
    if not clips:
        return None
    profile = new_profile(name, config)
    for clip in clips:
        profile.add(audio.load_audio(clip), config, enrolment=True)
    save_profile(profile)
    return profile


def enrolment_problem(samples: np.ndarray) -> str | None:
    """Why a recorded enrolment sentence is not good enough, or ``None`` when it is."""
    levels = audio.frame_db(samples)
    floor, loud = float(np.percentile(levels, 10)), float(np.percentile(levels, 90))
    noisy = f"too noisy (speech only {max(loud - floor, 0):.0f} dB above the background; find a quieter place)"
    span = audio.find_speech(samples)
    if span is None:
        return noisy if floor > NOISY_FLOOR_DB else "no speech heard"
    if float(np.mean(np.abs(samples) >= 0.999)) > MAX_CLIPPED_FRACTION:
        return "too loud: the recording clips (move back from the microphone or lower its gain)"
    if span.voiced_seconds < MIN_CLIP_SPEECH_SECONDS:
        return f"too short ({span.voiced_seconds:.1f} s of speech; read the whole sentence)"
    if loud - floor < MIN_SNR_DB:
        return noisy
    return None


def save_clip(name: str, speech: np.ndarray, number: int) -> Path:
    """Keep an enrolment clip (FLAC, atomically) so the profile can be rebuilt later."""
    import io

    import soundfile as sf

    from moodplayer.files import atomic_write

    target = clips_dir(name) / f"enrol-{number:02d}.flac"
    encoded = io.BytesIO()
    sf.write(encoded, speech, audio.SAMPLE_RATE, format="FLAC")
    atomic_write(target, encoded.getvalue())
    return target


def _payload(profile: VoiceProfile) -> dict:
    return {
        "format": FORMAT,
        "name": profile.name,
        "feature_key": profile.feature_key,
        "seconds": profile.seconds,
        "clips": profile.clips,
        "created": profile.created,
        "updated": profile.updated,
        "enrolled": _stats_payload(profile.enrolled),
        "heard": _stats_payload(profile.heard),
        **({"norms": _norms_payload(profile)} if profile.norms else {}),
    }


def _norms_payload(profile: VoiceProfile) -> dict:
    return {
        "model": profile.norms_model,
        "seconds": profile.norms_seconds,
        "layers": [_stats_payload(stats) for stats in profile.norms or ()],
        "agreed": profile.agreed,
        "compared": profile.compared,
    }


def _stats_payload(stats: Stats) -> dict:
    return {"count": stats.count, "mean": [float(v) for v in stats.mean], "m2": [float(v) for v in stats.m2]}


def _stats_of(payload: dict) -> Stats:
    return Stats(int(payload["count"]), np.array(payload["mean"], np.float64), np.array(payload["m2"], np.float64))


def _checksum(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _encode(profile: VoiceProfile) -> bytes:
    payload = _payload(profile)
    return json.dumps({**payload, "sha256": _checksum(payload)}, indent=1).encode()


def _decode(data: bytes) -> VoiceProfile:
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError("not JSON") from exc
    checksum = document.pop("sha256", None)
    if document.get("format") not in (FORMAT, POOLED_NORMS_FORMAT, OLD_FORMAT):
        raise ValueError("unknown format")
    if checksum != _checksum(document):
        raise ValueError("checksum mismatch")
    if document["format"] == OLD_FORMAT:
        heard = _stats_of(document["stats"])
        enrolled = Stats.empty(heard.mean.size)
    else:
        enrolled, heard = _stats_of(document["enrolled"]), _stats_of(document["heard"])
    norms = document.get("norms") if document["format"] == FORMAT else None
    return VoiceProfile(
        name=document["name"],
        feature_key=document["feature_key"],
        enrolled=enrolled,
        heard=heard,
        seconds=float(document["seconds"]),
        clips=int(document["clips"]),
        created=document["created"],
        updated=document["updated"],
        norms=tuple(_stats_of(layer) for layer in norms["layers"]) if norms else None,
        norms_model=norms["model"] if norms else "",
        norms_seconds=float(norms["seconds"]) if norms else 0.0,
        agreed=int(norms.get("agreed", 0)) if norms else 0,
        compared=int(norms.get("compared", 0)) if norms else 0,
    )
