"""Voice profiles: a speaker's running feature statistics, to normalise their clips by.

Emotion is heard as a change from a person's usual voice. The model is trained
on clips normalised either by themselves (cold start) or by statistics of
several clips of the same speaker; a profile is those statistics for a user,
built from an enrolment or from every clip they have spoken (Welford/Chan
running mean and variance per mel band, no labels). Profiles are small JSON
files under ``home()/profiles``, written atomically and protected by a checksum;
a damaged one is set aside and the cold-start path is used.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodplayer.errors import MoodplayerError
from moodplayer.features import FeatureConfig, Stats

FORMAT = "moodplayer-voice-profile/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProfileError(MoodplayerError):
    """A voice profile that is damaged, or made for other features."""


@dataclass
class VoiceProfile:
    """One speaker's accumulated statistics, and how much speech they come from."""

    name: str
    features_key: str  # FeatureConfig.key() of the features the statistics describe
    stats: Stats
    clips: int = 0
    seconds: float = 0.0
    created: str = ""
    updated: str = ""

    @classmethod
    def new(cls, name: str, config: FeatureConfig = FeatureConfig()) -> "VoiceProfile":
        check_name(name)
        now = _now()
        return cls(name, config.key(), Stats.empty(config.n_mels), created=now, updated=now)

    def add(self, features: np.ndarray, hop_seconds: float = 0.01) -> None:
        """Fold one clip's raw features into the profile (exact running mean and variance)."""
        self.stats = self.stats.merge(Stats.of(features))
        self.clips += 1
        self.seconds = round(self.seconds + features.shape[0] * hop_seconds, 2)
        self.updated = _now()

    def to_json(self) -> dict:
        body = {
            "format": FORMAT,
            "name": self.name,
            "features_key": self.features_key,
            "count": self.stats.count,
            "mean": self.stats.mean.tolist(),
            "m2": self.stats.m2.tolist(),
            "clips": self.clips,
            "seconds": self.seconds,
            "created": self.created,
            "updated": self.updated,
        }
        return {**body, "sha256": _digest(body)}

    @classmethod
    def from_json(cls, data: dict, source: str) -> "VoiceProfile":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ProfileError(f"{source} is not a voice profile this version can read")
        body = {k: v for k, v in data.items() if k != "sha256"}
        if data.get("sha256") != _digest(body):
            raise ProfileError(f"voice profile {source} is damaged (checksum mismatch)")
        stats = Stats(int(data["count"]), np.array(data["mean"], np.float64), np.array(data["m2"], np.float64))
        return cls(
            data["name"], data["features_key"], stats, data["clips"], data["seconds"], data["created"], data["updated"]
        )


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ProfileError(f"profile name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    return name


def profile_path(name: str) -> Path:
    from moodplayer.paths import home

    return home() / "profiles" / f"{check_name(name)}.json"


def save(profile: VoiceProfile, path: Path | None = None) -> Path:
    """Write a profile atomically (temp file, fsync, rename)."""
    from moodplayer.model import atomic_write

    path = path or profile_path(profile.name)
    atomic_write(path, (json.dumps(profile.to_json()) + "\n").encode())
    return path


def load(path: Path) -> VoiceProfile:
    """Read a profile; :class:`ProfileError` when it is damaged."""
    try:
        data = json.loads(Path(path).read_text())
        return VoiceProfile.from_json(data, str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ProfileError(f"voice profile {path} is damaged ({type(exc).__name__})") from None


def load_or_cold_start(name: str, config: FeatureConfig, warn=None) -> VoiceProfile | None:
    """The named profile if usable; else ``None`` (cold start).

    A damaged profile is renamed ``*.damaged`` (kept for inspection, never
    silently overwritten) and ``warn`` is told why; a profile made for other
    features is ignored with a warning.
    """
    path = profile_path(name)
    if not path.exists():
        return None
    try:
        profile = load(path)
    except ProfileError as exc:
        aside = path.with_suffix(".damaged")
        path.replace(aside)
        if warn:
            warn(f"{exc}; set aside as {aside.name}, using no profile")
        return None
    if profile.features_key != config.key():
        if warn:
            warn(f"voice profile {name!r} was made for other features; using no profile")
        return None
    return profile


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
