"""Training by speaker: folds, metrics, the feature cache and a tiny real training run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from moodplayer.classifier import Classifier
from moodplayer.datasets import discover
from moodplayer.emotions import EMOTIONS
from moodplayer.errors import MoodplayerError
from moodplayer.features import FeatureConfig
from moodplayer.paths import cache_dir
from moodplayer.train import make_examples, scores, speaker_folds, uar, validation_speakers
from tests.conftest import run_cli

ACTORS = [f"ravdess-{i:02d}" for i in range(1, 21)]


def test_folds_hold_out_consecutive_actors():
    folds = speaker_folds(reversed(ACTORS), 5)
    assert folds == [ACTORS[0:4], ACTORS[4:8], ACTORS[8:12], ACTORS[12:16], ACTORS[16:20]]
    with pytest.raises(MoodplayerError, match="5 folds need at least 5 speakers"):
        speaker_folds(ACTORS[:3], 5)


def test_validation_speakers_come_from_training_speakers_only():
    assert validation_speakers(ACTORS[:16], 0.1) == ["ravdess-15", "ravdess-16"]
    assert validation_speakers(ACTORS[:3], 0.1) == ["ravdess-03"]
    with pytest.raises(MoodplayerError, match="at least 2 speakers"):
        validation_speakers(["unknown"], 0.1)


def test_scores_count_foreign_labels_as_errors():
    true = ["happy", "happy", "sad", "sad", "boredom"]
    pred = ["happy", "sad", "sad", "sad", "calm"]
    result = scores(true, pred)
    assert result["accuracy"] == 0.6 and result["n"] == 5
    assert result["per_class"]["happy"] == {"precision": 1.0, "recall": 0.5, "n": 2}
    assert result["per_class"]["sad"] == {"precision": pytest.approx(0.6667), "recall": 1.0, "n": 2}
    assert result["per_class"]["boredom"]["recall"] == 0.0
    assert result["uar"] == pytest.approx((0.5 + 1.0 + 0.0) / 3, abs=1e-4)
    assert result["confusion"]["labels"] == list(EMOTIONS) + ["boredom"]
    assert uar(np.array([0, 0, 1]), np.array([0, 1, 1])) == 0.75


def test_feature_cache_is_reused_and_keyed_by_file(ravdess):
    clips = discover(ravdess / "Actor_01")[:3]
    first = make_examples(clips, FeatureConfig())
    files = sorted((cache_dir() / "features").rglob("*.npy"))
    assert len(files) == 3
    stamps = [f.stat().st_mtime_ns for f in files]
    again = make_examples(clips, FeatureConfig())
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert all(np.array_equal(a.features, b.features) for a, b in zip(first, again))
    make_examples(clips, FeatureConfig(n_mels=40))
    assert len(list((cache_dir() / "features").rglob("*.npy"))) == 6


def test_tiny_training_run_writes_a_loadable_model(tmp_path, ravdess):
    data = tmp_path / "data"
    for actor in ("Actor_01", "Actor_02", "Actor_03"):
        (data / actor).mkdir(parents=True)
        for clip in sorted((ravdess / actor).glob("*.flac"))[::4]:
            (data / actor / clip.name).symlink_to(clip)
    out = tmp_path / "tiny.safetensors"
    result = run_cli("train", str(data), "--out", str(out), "--epochs", "2", "--seed", "3")
    assert result.returncode == 0, result.stderr
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["split"] == {"train": ["ravdess-01", "ravdess-02"], "validation": ["ravdess-03"]}
    assert meta["recipe"]["epochs"] == 2 and meta["recipe"]["seed"] == 3
    assert meta["data"]["clips"] == 45
    prediction = Classifier.load(out).predict_file(data / "Actor_01" / "03-01-01-01-01-01-01.flac")
    assert prediction.emotion in EMOTIONS


def test_train_on_a_folder_without_labelled_audio_is_one_line(tmp_path):
    result = run_cli("train", str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "no labelled audio found" in result.stderr
