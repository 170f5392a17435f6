"""Training by speaker: folds, metrics, the feature cache and a tiny real training run."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import MoodplayerError, NoSpeechError
from moodplayer.paths import cache_dir, default_model_path
from moodplayer.voice import model_versions as versions
from moodplayer.voice.classifier import Classifier
from moodplayer.voice.datasets import discover
from moodplayer.voice.features import FeatureConfig, Stats
from moodplayer.voice.model import ModelMetadata, members_of, typical_var
from moodplayer.voice.training.examples import Example, enrolment_shift, make_examples, typical_variance
from moodplayer.voice.training.fit import Recipe, similar_length_batches
from moodplayer.voice.training.metrics import closed_set, scores, uar
from moodplayer.voice.training.splits import speaker_folds, split_sets, validation_speakers
from moodplayer.voice.training.tune import TUNED
from tests.conftest import run_cli

ACTORS = [f"ravdess-{i:02d}" for i in range(1, 21)]


def test_folds_hold_out_consecutive_actors():
    folds = speaker_folds(reversed(ACTORS), 5)
    assert folds == [ACTORS[0:4], ACTORS[4:8], ACTORS[8:12], ACTORS[12:16], ACTORS[16:20]]
    with pytest.raises(MoodplayerError, match="5 folds need at least 5 speakers"):
        speaker_folds(ACTORS[:3], 5)
    with pytest.raises(MoodplayerError, match="^1 fold needs at least 2 speakers"):
        speaker_folds(ACTORS[:3], 1)


def test_validation_speakers_come_from_training_speakers_only():
    assert validation_speakers(ACTORS[:16], 0.1) == ["ravdess-15", "ravdess-16"]
    assert validation_speakers(ACTORS[:3], 0.1) == ["ravdess-03"]
    with pytest.raises(MoodplayerError, match="at least 2 speakers"):
        validation_speakers(["unknown"], 0.1)


def test_split_sets_hold_out_validation_speakers_only_when_asked():
    examples = [Example((np.zeros((5, 2)),), (Stats.of(np.zeros((5, 2))),), 0, name, "x.flac") for name in ACTORS[:10]]
    train, valid, names = split_sets(examples, ACTORS[:10], 0.1)
    assert names == ["ravdess-10"] and [ex.speaker for ex in valid] == names and len(train) == 9
    train, valid, names = split_sets(examples, ACTORS[:10], 0.1, validate=False)
    assert len(train) == 10 and valid == [] and names == []


def test_similar_length_batches_use_every_clip_once_and_pad_little():
    rng = np.random.default_rng(0)
    lengths = rng.integers(100, 400, 500)
    batches = similar_length_batches(lengths, 32, rng)
    assert sorted(np.concatenate(batches).tolist()) == list(range(500))
    assert sorted(len(b) for b in batches)[1:] == [32] * 15  # one short batch, the rest full
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 80  # random batches of these lengths spread over about 280 frames
    again = similar_length_batches(lengths, 32, rng)
    assert any(not np.array_equal(a, b) for a, b in zip(batches, again))  # each epoch batches afresh


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


def test_the_closed_set_chooses_among_the_emotions_the_corpus_holds():
    def peaked(*weights: tuple[str, float]) -> np.ndarray:
        p = np.full(len(EMOTIONS), 0.01)
        for label, w in weights:
            p[EMOTIONS.index(label)] = w
        return p / p.sum()

    true = ["neutral", "neutral", "sad", "angry", "boredom", "sad"]
    probabilities = [
        peaked(("calm", 0.6), ("neutral", 0.3)),  # calm is not in the corpus: neutral, right
        peaked(("surprised", 0.6), ("sad", 0.3)),  # sad among the held ones: still wrong
        peaked(("sad", 0.9)),
        peaked(("calm", 0.5), ("angry", 0.2), ("sad", 0.1)),
        peaked(("happy", 0.9)),  # a label the model lacks stays an error
        None,  # no speech stays an error
    ]
    result = closed_set(true, probabilities, EMOTIONS)
    assert result["emotions"] == ["neutral", "sad", "angry"]
    assert result["accuracy"] == pytest.approx(3 / 6, abs=1e-4)
    assert result["uar"] == pytest.approx((0.5 + 0.5 + 1.0 + 0.0) / 4, abs=1e-4)
    open_set = scores(true, [EMOTIONS[int(np.argmax(p))] if p is not None else "no-speech" for p in probabilities])
    assert open_set["accuracy"] == pytest.approx(1 / 6, abs=1e-4)
    assert closed_set(list(EMOTIONS), [peaked(("calm", 0.9))] * 8, EMOTIONS) is None  # every emotion held


def test_feature_cache_is_reused_and_keyed_by_file(ravdess):
    clips = discover(ravdess / "Actor_01")[:3]
    first = make_examples(clips, FeatureConfig())
    files = sorted((cache_dir() / "features").rglob("*.npy"))
    assert len(files) == 3
    stamps = [f.stat().st_mtime_ns for f in files]
    again = make_examples(clips, FeatureConfig())
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert all(np.array_equal(a.versions[0], b.versions[0]) for a, b in zip(first, again))
    make_examples(clips, FeatureConfig(n_mels=40))
    assert len(list((cache_dir() / "features").rglob("*.npy"))) == 6


def test_degraded_copies_are_trained_on_but_never_heard_at_test_time(ravdess):
    from moodplayer.voice.training.evaluation import predict_logits

    clips = discover(ravdess / "Actor_01")[:2]
    clean = make_examples(clips, FeatureConfig(), (0.9, 1.1))
    degraded = make_examples(clips, FeatureConfig(), (0.9, 1.1), degraded_copies=2)
    assert [len(ex.versions) for ex in degraded] == [5, 5]
    for a, b in zip(clean, degraded):
        assert all(np.array_equal(x, y) for x, y in zip(a.views, b.views)) and len(b.views) == 3
        copy = b.versions[3]
        assert copy.shape[1] == a.versions[0].shape[1] and not np.array_equal(copy[:10], b.versions[4][:10])
    net = Classifier.load().net
    np.testing.assert_array_equal(predict_logits(net, degraded), predict_logits(net, clean))
    kinds = list((cache_dir() / "features").glob("*-degraded*"))
    assert len(kinds) == 2
    for kind in kinds:
        shutil.rmtree(kind)  # computed afresh, the copies come out the same: drawn from the file name
    again = make_examples(clips, FeatureConfig(), (0.9, 1.1), degraded_copies=2)
    for a, b in zip(degraded, again):  # the same draws; the last bits follow BLAS's thread count (Classifier.load)
        np.testing.assert_allclose(a.versions[3], b.versions[3], rtol=1e-4, atol=1e-4)


def test_degraded_copies_are_drawn_at_cold_start_and_recordings_through_their_speakers_clips(ravdess):
    """A profile is gathered where its user speaks; copies each in a room of their own are not pooled into one."""
    from moodplayer.voice.training.fit import Augmenter

    examples = make_examples(discover(ravdess / "Actor_01")[:4], FeatureConfig(), (0.9, 1.1), degraded_copies=2)
    recipe = replace(Recipe(), speaker_norm=1.0, freq_masks=0, time_masks=0, crop_frames=100_000)
    typical = typical_variance(examples)
    augment = Augmenter(examples, recipe, np.random.default_rng(0), typical)
    clip = examples[0]
    assert clip.n_recorded == 3 and len(clip.versions) == 5
    cold = [clip.normalised(None, v, typical) for v in range(5)]
    at_cold_start = set()
    for _ in range(60):
        drawn = augment(clip)
        at_cold_start |= {v for v, x in enumerate(cold) if x.shape == drawn.shape and np.allclose(x, drawn)}
    assert at_cold_start == {3, 4}  # the copies, each time they were drawn; the recordings never


def test_speed_copies_are_heard_at_test_time_only_when_the_recipe_says_so(ravdess):
    from moodplayer.voice.classifier import view_logits
    from moodplayer.voice.training.evaluation import predict_logits

    clips = discover(ravdess / "Actor_01")[:2]
    heard = make_examples(clips, FeatureConfig(), (0.9, 1.1))
    trained_only = make_examples(clips, FeatureConfig(), (0.9, 1.1), speed_views=False)
    for a, b in zip(heard, trained_only):
        assert len(a.views) == 3 and len(b.views) == 1 and len(b.versions) == 3
        assert all(np.array_equal(x, y) for x, y in zip(a.versions, b.versions))
    net = Classifier.load().net
    as_recorded = np.concatenate([view_logits(net, [ex.versions[:1]], [None]) for ex in heard])
    np.testing.assert_allclose(predict_logits(net, trained_only), as_recorded, rtol=1e-5, atol=1e-5)
    assert not np.allclose(predict_logits(net, heard), as_recorded, atol=1e-3)


def test_training_runs_its_forward_passes_in_bfloat16_where_the_cpu_computes_it(ravdess):
    import torch

    from moodplayer.voice.training.fit import fit, native_bfloat16

    examples = make_examples(discover(ravdess / "Actor_01")[:16], FeatureConfig())
    recipe = replace(Recipe(), epochs=1, batch_size=8, ensemble=1)
    low, low_run = fit(examples, [], recipe)
    full, full_run = fit(examples, [], replace(recipe, bfloat16=False))
    assert low_run["bfloat16"] == native_bfloat16() and not full_run["bfloat16"]
    assert all(p.dtype == torch.float32 for p in low.parameters())  # weights and inference stay float32
    same = all(torch.equal(a, b) for a, b in zip(low.parameters(), full.parameters()))
    assert same != native_bfloat16()


def test_a_clip_whose_degraded_copy_is_heard_as_silence_is_kept_without_it(ravdess):
    """At 5 dB SNR some copies are refused as "no speech"; the clip itself must still be scored."""
    from moodplayer.voice.training.examples import degraded_features

    def unheard(clip) -> bool:
        try:
            degraded_features(clip, FeatureConfig(), 0)
        except NoSpeechError:
            return True
        return False

    clip = next(clip for clip in discover(ravdess / "Actor_01") if unheard(clip))
    (example,) = make_examples([clip], FeatureConfig(), (0.9, 1.1), degraded_copies=1)
    assert len(example.views) == len(example.versions) == 3


def test_a_degraded_copy_heard_as_silence_is_cached_as_such(ravdess, monkeypatch):
    import moodplayer.voice.training.examples as train
    from moodplayer.voice.training.examples import degraded_features

    def silence(*_):
        raise NoSpeechError("no speech heard")

    clip = discover(ravdess / "Actor_01")[0]
    monkeypatch.setattr(train, "extract", silence)
    with pytest.raises(NoSpeechError):
        degraded_features(clip, FeatureConfig(), 7)
    monkeypatch.setattr(train, "extract", lambda *_: pytest.fail("the cached answer was computed again"))
    with pytest.raises(NoSpeechError, match="degraded copy 7"):
        degraded_features(clip, FeatureConfig(), 7)


def tiny_corpus(tmp_path, ravdess):
    """Every fourth clip of actors 01-03 (45 clips): enough for a real training run of seconds."""
    data = tmp_path / "data"
    for actor in ("Actor_01", "Actor_02", "Actor_03"):
        (data / actor).mkdir(parents=True)
        for clip in sorted((ravdess / actor).glob("*.flac"))[::4]:
            (data / actor / clip.name).symlink_to(clip)
    return data


def test_training_without_out_adds_a_version_and_leaves_the_shipped_model(tmp_path, ravdess, monkeypatch):
    data = tiny_corpus(tmp_path, ravdess)
    shipped = hashlib.sha256(default_model_path().read_bytes()).hexdigest()
    result = run_cli("train", str(data), "--epochs", "2", "--seed", "3", "--ensemble", "2")
    assert hashlib.sha256(default_model_path().read_bytes()).hexdigest() == shipped
    out = versions.weights_path("v1")
    meta = json.loads(out.with_suffix(".json").read_text())
    info = meta["version"]
    assert (info["kind"], info["parent"]) == ("trained", "shipped")
    assert info["scores"]["validation_speakers"] == ["ravdess-03"]
    new, old = info["scores"]["validation_uar"], info["scores"]["parent_validation_uar"]
    assert f"validation UAR {new:.1%} on ravdess-03, against {old:.1%} for shipped" in result.stdout
    assert new < old  # two epochs on 45 clips against the shipped model: it stays in force, and the user is told
    assert result.returncode == 1 and versions.active_id() == "shipped", result.stderr
    assert "v1 is not better on its validation speakers, so shipped stays in force" in result.stderr
    assert meta["model"]["members"] == 2 and meta["recipe"]["ensemble"] == 2
    assert len(meta["training"]["kept_epoch"]) == 2
    assert meta["split"] == {"train": ["ravdess-01", "ravdess-02"], "validation": ["ravdess-03"]}
    assert meta["recipe"]["epochs"] == 2 and meta["recipe"]["seed"] == 3
    assert meta["test_time_speeds"] == [] and meta["recipe"]["speeds"] == [0.9, 1.1]  # trained on, not heard at
    assert meta["data"]["clips"] == 45
    assert [corpus["name"] for corpus in meta["data"]["corpora"]] == ["ravdess"]
    assert not Path(meta["data"]["corpora"][0]["root"]).is_absolute()
    assert str(tmp_path) not in out.with_suffix(".json").read_text()
    monkeypatch.setenv("MOODPLAYER_DATA", str(tmp_path))  # where the metadata's corpus name is found again
    assert ModelMetadata.from_dict(meta).data_roots == [data]
    classifier = Classifier.load(out)
    assert classifier.speeds == ()
    prediction = classifier.predict_file(data / "Actor_01" / "03-01-01-01-01-01-01.flac")
    assert prediction.emotion in EMOTIONS
    assert meta["model"]["typical_spread"] == [False, True]  # the members normalise cold-start clips differently
    own, typical = members_of(classifier.net)
    trained_on = [ex for ex in make_examples(discover(data), FeatureConfig()) if ex.speaker in meta["split"]["train"]]
    assert typical_var(own) is None
    np.testing.assert_allclose(typical_var(typical), typical_variance(trained_on), rtol=1e-5)
    counts = np.maximum(np.bincount([ex.label for ex in trained_on], minlength=8), 1)  # an absent class counts once
    assert meta["model"]["class_prior"] == pytest.approx(counts / counts.sum(), abs=1e-6)


def test_cross_validation_scores_each_held_out_speaker_with_every_adapt_mode(tmp_path, ravdess):
    out = tmp_path / "cv.safetensors"
    args = (
        "--folds",
        "3",
        "--epochs",
        "2",
        "--ensemble",
        "2",
        "--jobs",
        "2",
        "--adapt",
        "history:5",
        "--adapt",
        "history:5/stats",
        "--baseline",
    )
    result = run_cli("train", str(tiny_corpus(tmp_path, ravdess)), "--out", str(out), *args)
    assert result.returncode == 0, result.stderr
    cv = json.loads(out.with_suffix(".json").read_text())["cross_validation"]
    assert [fold["test_speakers"] for fold in cv["folds"]] == [["ravdess-01"], ["ravdess-02"], ["ravdess-03"]]
    for fold in cv["folds"]:
        assert (
            fold["n"] == 15
            and set(fold["adapt"]) == {"none", "history:5", "history:5/stats"}
            and len(fold["kept_epoch"]) == 2
        )
        assert fold["validation_speakers"] == [] and fold["temperature"] is None  # every other speaker trains
    assert cv["accuracy_mean"] == pytest.approx(np.mean([fold["accuracy"] for fold in cv["folds"]]), abs=1e-4)
    assert "3-fold by speaker, adapt history:5" in result.stdout
    assert [fold["test_speakers"] for fold in cv["baseline"]["folds"]] == [
        ["ravdess-01"],
        ["ravdess-02"],
        ["ravdess-03"],
    ]
    assert "3-fold by speaker, classic 180-feature MLP" in result.stdout


def test_tune_tries_the_default_first_and_trains_with_the_best_trial(tmp_path, ravdess):
    out = tmp_path / "tuned.safetensors"
    args = ("train", str(tiny_corpus(tmp_path, ravdess)), "--out", str(out), "--epochs", "2", "--tune", "3")
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    meta = json.loads(out.with_suffix(".json").read_text())
    trials = meta["tuning"]["trials"]
    assert [t["trial"] for t in trials] == [0, 1, 2]
    assert trials[0]["lr"] == Recipe().lr and trials[0]["mixup"] == Recipe().mixup
    best = max(trials, key=lambda t: t["validation_uar"])
    assert all(meta["recipe"][name] == best[name] for name in TUNED)
    assert "best of 3 trials" in result.stdout


def test_tune_without_optuna_is_a_clear_error(monkeypatch):
    from moodplayer.voice.training.tune import tune

    monkeypatch.setitem(sys.modules, "optuna", None)  # as if not installed: importing it fails
    with pytest.raises(MoodplayerError, match="--tune needs Optuna"):
        tune([], 2, Recipe())


def test_train_on_a_folder_without_labelled_audio_is_one_line(tmp_path):
    result = run_cli("train", str(tmp_path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "no labelled audio found" in result.stderr


def test_adapt_plans_enrol_the_right_clips():
    from moodplayer.voice.training.evaluation import adapt_plan, gates_profiles, moves_batch_norms

    items = [("a", "happy", "3.wav"), ("a", "neutral", "2.wav"), ("a", "neutral", "1.wav"), ("b", "sad", "4.wav")]
    assert adapt_plan(items, "none") == ({}, [0, 1, 2, 3])
    # neutral:1 enrols a's first neutral clip by name and leaves it out; b has none and stays cold.
    assert adapt_plan(items, "neutral:1") == ({"a": [2]}, [0, 1, 3])
    enrol, scored = adapt_plan(items, "history:2", seed=1)
    assert scored == [0, 1, 2, 3] and len(enrol["a"]) == 2 and enrol["b"] == [3]
    assert adapt_plan(items, "history:2", seed=1) == (enrol, scored) == adapt_plan(items, "history:2/stats", seed=1)
    assert adapt_plan(items, "history:2/always", seed=1) == (enrol, scored)
    assert adapt_plan(items, "history:2/stats/always", seed=1) == (enrol, scored)
    assert gates_profiles("history:2/stats") and not gates_profiles("history:2/stats/always")
    assert moves_batch_norms("history:2/always") and not moves_batch_norms("history:2/stats/always")
    bad_modes = ("neutral", "history:0", "sometimes:3", "none:2", "none/stats", "history:2/everything")
    for bad in (*bad_modes, "none/always", "history:2/always/always"):
        with pytest.raises(MoodplayerError, match="--adapt"):
            adapt_plan(items, bad)


def test_the_enrolment_shift_is_what_separates_neutral_from_all_speech():
    rng = np.random.default_rng(0)

    def example(speaker, label, level):
        frames = rng.normal(level, 1.0, (200, 4)).astype(np.float32)
        return Example((frames,), (Stats.of(frames),), EMOTIONS.index(label), speaker, f"{label}.wav")

    examples = [
        example(speaker, label, base + (0.0 if label == "neutral" else 2.0))
        for speaker, base in (("a", -3.0), ("b", 5.0))
        for label in ("neutral", "angry", "happy", "sad")
    ]
    shift = enrolment_shift(examples)
    np.testing.assert_allclose(shift.mean, 1.5, atol=0.1)  # all clips sit 1.5 above the neutral one
    assert np.all(shift.log_var > 0)  # and spread wider
    assert enrolment_shift([ex for ex in examples if ex.label != 0]) is None


def test_voice_statistics_merge_exactly():
    from moodplayer.voice.features import Stats

    rng = np.random.default_rng(0)
    parts = [rng.normal(i, i + 1, size=(20 * (i + 1), 4)) for i in range(3)]
    whole = np.concatenate(parts)
    combined = Stats.combine([Stats.of(p) for p in parts])
    merged = Stats.of(parts[0]).merge(Stats.of(parts[1])).merge(Stats.of(parts[2]))
    for stats in (combined, merged):
        assert stats.count == len(whole)
        assert np.allclose(stats.mean, whole.mean(axis=0)) and np.allclose(stats.var, whole.var(axis=0))


@pytest.mark.slow
def test_evaluate_baseline_runs_the_classic_recipe_on_speaker_folds(tmp_path, ravdess):
    data = tmp_path / "data"
    for actor in ("Actor_01", "Actor_02", "Actor_03"):
        (data / actor).mkdir(parents=True)
        for clip in sorted((ravdess / actor).glob("*.flac"))[::2]:
            (data / actor / clip.name).symlink_to(clip)
    result = run_cli("evaluate", str(data), "--baseline", "--folds", "3", "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    baseline = json.loads(result.stdout)["baseline"]
    assert [f["test_speakers"] for f in baseline["folds"]] == [["ravdess-01"], ["ravdess-02"], ["ravdess-03"]]
    assert all(f["n"] == 30 and 0 <= f["accuracy"] <= 1 for f in baseline["folds"])
    assert baseline["accuracy_mean"] == pytest.approx(np.mean([f["accuracy"] for f in baseline["folds"]]), abs=1e-4)


def test_scoring_with_voices_batch_norms_judges_each_speaker_by_their_own_in_the_clips_order():
    import torch

    from moodplayer.voice.classifier import heard_norms, view_logits
    from moodplayer.voice.model import EmotionNet, ModelConfig
    from moodplayer.voice.training.evaluation import predict_logits

    torch.manual_seed(0)
    net = EmotionNet(ModelConfig(n_inputs=4, channels=8, hidden=8)).eval()
    rng = np.random.default_rng(0)

    def example(speaker: str, i: int) -> Example:
        views = tuple(rng.normal(ord(speaker[-1]) % 3, 1, size=(40 + 7 * i, 4)).astype(np.float32) for _ in range(2))
        return Example(views, tuple(Stats.of(v) for v in views), 0, speaker, f"{i}.wav", n_views=len(views))

    examples = [example(speaker, i) for i in range(5) for speaker in ("a", "b", "c")]  # speakers interleaved
    profiles = {s: Stats.combine([ex.stats[0] for ex in examples if ex.speaker == s]) for s in "abc"}
    norms = {s: heard_norms(net, [ex.views for ex in examples if ex.speaker == s], profiles[s]) for s in "ab"}
    got = predict_logits(net, examples, profiles, batch_size=4, norms=norms)
    for ex, logits in zip(examples, got):
        alone = view_logits(net, [ex.views], [profiles[ex.speaker]], norms.get(ex.speaker))[0]
        np.testing.assert_allclose(logits, alone, atol=1e-5)
    assert not np.allclose(got[0], predict_logits(net, examples[:1], profiles)[0], atol=1e-4)  # "a" was moved


# --- several corpora --------------------------------------------------------------------------


def corpus_example(corpus: str, speaker: str, label: str, frames: int = 20) -> Example:
    x = np.random.default_rng(len(speaker) + EMOTIONS.index(label)).normal(size=(frames, 3)).astype(np.float32)
    return Example((x,), (Stats.of(x),), EMOTIONS.index(label), speaker, f"{label}.wav", corpus=corpus)


def test_folds_hold_out_speakers_of_the_corpora_large_enough_and_small_corpora_always_train():
    from moodplayer.voice.training.splits import corpus_folds, corpus_validation_speakers

    clips = [corpus_example("ravdess", name, "sad") for name in ACTORS]
    clips += [corpus_example("tess", name, "sad") for name in ("tess-OAF", "tess-YAF")]
    assert corpus_folds(clips, 5) == speaker_folds(ACTORS, 5)
    assert corpus_validation_speakers(clips, 0.1) == ["ravdess-19", "ravdess-20"]  # TESS keeps both its voices
    tess_only = [ex for ex in clips if ex.corpus == "tess"]
    assert corpus_validation_speakers(tess_only, 0.1) == ["tess-YAF"]
    with pytest.raises(MoodplayerError, match="5 folds need a corpus of at least 5 speakers; the largest has 2"):
        corpus_folds(tess_only, 5)


def test_each_speaker_trains_at_most_as_many_clips_an_epoch_as_the_median_speaker():
    from moodplayer.voice.training.fit import EpochDraws

    clips = [corpus_example("ravdess", name, "sad") for name in ACTORS[:3] for _ in range(10)]
    clips += [corpus_example("tess", "tess-OAF", "sad") for _ in range(100)]
    draw = EpochDraws(clips, 1.0)
    assert draw.size == 40 and draw.draws["tess-OAF"] == 10
    rng = np.random.default_rng(0)
    first, second = draw(rng), draw(rng)
    assert list(first[:30]) == list(range(30)) and len(first) == 40 and len(set(first)) == 40
    assert set(first[30:]) != set(second[30:])  # each epoch draws the big speaker's clips afresh
    np.testing.assert_allclose(draw.weights(clips), [1.0] * 30 + [0.1] * 100)
    assert EpochDraws(clips, 0.0).size == 130
    everyone = EpochDraws(clips[:30], 1.0)
    state = rng.bit_generator.state
    assert list(everyone(rng)) == list(range(30)) and rng.bit_generator.state == state  # nothing drawn
    assert everyone.weights(clips[:30]) is None


def test_a_clip_never_teaches_the_emotions_its_corpus_lacks():
    import torch

    from moodplayer.voice.training.fit import masked_cross_entropy

    logits = torch.randn(2, len(EMOTIONS), requires_grad=True)
    labels = torch.tensor([EMOTIONS.index("sad"), EMOTIONS.index("happy")])
    every = torch.ones(2, len(EMOTIONS), dtype=torch.bool)
    plain = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    assert masked_cross_entropy(logits, labels, every, 0.1).item() == pytest.approx(plain.item(), rel=1e-6)
    held = every.clone()
    held[0, EMOTIONS.index("calm")] = False  # the first clip's corpus has no calm
    masked_cross_entropy(logits, labels, held, 0.1).backward()
    assert logits.grad[0, EMOTIONS.index("calm")] == 0 and logits.grad[1, EMOTIONS.index("calm")] > 0


def test_an_emotion_counts_among_the_corpora_that_hold_it_and_one_no_corpus_holds_is_never_predicted():
    from moodplayer.voice.classifier import view_logits
    from moodplayer.voice.model import EmotionNet, ModelConfig
    from moodplayer.voice.training.examples import class_prior

    held = [label for label in EMOTIONS if label != "surprised"]
    clips = [corpus_example("ravdess", "r", label) for label in held]  # one clip of each but surprised
    clips += [corpus_example("tess", "t", label) for label in held if label != "calm" for _ in range(3)]
    prior = class_prior(clips)
    calm, sad, surprised = (prior[EMOTIONS.index(label)] for label in ("calm", "sad", "surprised"))
    assert surprised == 0
    assert calm / sad == pytest.approx((1 / 7) / (4 / 25), rel=1e-4)  # 1 in 7 clips that can be calm, 4 in 25 sad
    net = EmotionNet(ModelConfig(n_inputs=3, channels=8, hidden=8, class_prior=prior)).eval()
    logits = view_logits(net, [ex.views for ex in clips], [None] * len(clips))
    assert np.all(np.isneginf(logits[:, EMOTIONS.index("surprised")])) and np.all(np.isfinite(np.delete(logits, 7, 1)))


def test_the_closed_set_leaves_out_clips_of_emotions_the_model_was_never_taught():
    true = ["calm", "sad", "sad", "boredom"]
    logits = [np.eye(len(EMOTIONS))[EMOTIONS.index(label)] for label in ("calm", "sad", "happy", "sad")]
    taught = [label for label in EMOTIONS if label != "calm"]
    result = closed_set(true, logits, EMOTIONS, known=taught)
    assert result == {"emotions": ["sad"], "accuracy": pytest.approx(2 / 3, abs=1e-4), "uar": 0.5, "n": 3}
    assert closed_set(list(EMOTIONS), [logits[0]] * 8, EMOTIONS, known=EMOTIONS) is None
