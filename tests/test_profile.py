"""Voice profiles: exact running statistics, atomic checksummed files, damage set aside."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodplayer.features import FeatureConfig, Stats
from moodplayer.profile import ProfileError, VoiceProfile, load, load_or_cold_start, profile_path, save


def _clips(n=5):
    rng = np.random.default_rng(0)
    return [rng.normal(-8, 2, size=(100 + 10 * i, 64)).astype(np.float32) for i in range(n)]


def test_profile_accumulates_the_statistics_of_all_its_clips():
    profile = VoiceProfile.new("alice")
    for clip in _clips():
        profile.add(clip)
    whole = np.concatenate(_clips())
    assert profile.clips == 5 and profile.seconds == pytest.approx(len(whole) * 0.01)
    assert np.allclose(profile.stats.mean, whole.mean(axis=0)) and np.allclose(profile.stats.var, whole.var(axis=0))


def test_saved_profile_loads_identically_and_atomically():
    profile = VoiceProfile.new("alice")
    for clip in _clips():
        profile.add(clip)
    path = save(profile)
    assert path == profile_path("alice") and [p.name for p in path.parent.iterdir()] == ["alice.json"]
    again = load(path)
    assert again.clips == 5 and np.array_equal(again.stats.mean, profile.stats.mean)
    x = _clips(1)[0]
    assert np.array_equal(again.stats.normalise(x), profile.stats.normalise(x))


def test_damaged_profile_is_set_aside_with_a_warning_and_cold_start_used():
    profile = VoiceProfile.new("bob")
    profile.add(_clips(1)[0])
    path = save(profile)
    data = json.loads(path.read_text())
    data["mean"][0] += 1.0  # a changed number: the checksum no longer matches
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match="checksum"):
        load(path)
    warnings = []
    assert load_or_cold_start("bob", FeatureConfig(), warnings.append) is None
    assert not path.exists() and path.with_suffix(".damaged").exists()
    assert len(warnings) == 1 and "damaged" in warnings[0]
    path.write_text("{trunc")
    assert load_or_cold_start("bob", FeatureConfig(), warnings.append) is None and len(warnings) == 2


def test_profile_for_other_features_is_not_used():
    profile = VoiceProfile.new("carol", FeatureConfig(n_mels=40))
    profile.stats = Stats.of(np.zeros((10, 40)))
    save(profile)
    warnings = []
    assert load_or_cold_start("carol", FeatureConfig(), warnings.append) is None
    assert "other features" in warnings[0]
    assert load_or_cold_start("nobody", FeatureConfig()) is None


def test_profile_names_are_safe_file_names():
    with pytest.raises(ProfileError, match="profile name"):
        VoiceProfile.new("../etc/passwd")
