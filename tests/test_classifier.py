"""The shipped model through the product path: real clips of speakers it was not trained on."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from moodplayer.emotions import EMOTIONS
from moodplayer.errors import ModelError, NoSpeechError
from moodplayer.voice import model_versions as versions
from moodplayer.voice.classifier import Classifier
from tests.conftest import run_cli


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.load()


def _unseen_actor_dirs(classifier, ravdess):
    """The RAVDESS actors whose clips the shipped model's weights never trained on."""
    names = classifier.metadata["split"]["validation"]
    assert names and set(names).isdisjoint(classifier.metadata["split"]["train"])
    return [ravdess / f"Actor_{name.split('-')[1]}" for name in names]


def test_shipped_model_is_small_and_documented(classifier):
    meta = classifier.metadata
    assert classifier.labels == EMOTIONS
    assert meta["parameters"] <= 1_000_000
    for key in ("features", "recipe", "data", "split", "training", "created", "weights_sha256"):
        assert key in meta


def test_prediction_is_complete_and_consistent(classifier, ravdess):
    clip = ravdess / "Actor_01" / "03-01-05-02-01-01-01.flac"
    result = classifier.predict_file(clip)
    assert set(result.probabilities) == set(EMOTIONS)
    assert math.isclose(sum(result.probabilities.values()), 1.0, abs_tol=1e-6)
    assert result.emotion == max(result.probabilities, key=result.probabilities.get)
    assert result.confidence == result.probabilities[result.emotion]
    assert -1 <= result.valence <= 1 and -1 <= result.arousal <= 1
    assert set(result.timings_ms) == {"load", "features", "model"} and result.timings_ms["load"] > 0
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"emotion", "confidence", "probabilities", "uncertain", "valence", "arousal", "timings_ms"}


def test_silence_is_no_speech(classifier):
    with pytest.raises(NoSpeechError):
        classifier.predict(np.zeros(48000, dtype=np.float32))


def test_warm_up_runs_the_whole_path_and_changes_nothing(classifier, ravdess):
    from moodplayer.voice.classifier import synthetic_vowel

    assert classifier.features_of(synthetic_vowel(16000))[0].shape[0] > 100  # heard as speech: features run too
    clip = ravdess / "Actor_01" / "03-01-05-02-01-01-01.flac"
    before = classifier.predict_file(clip).probabilities
    classifier.warm_up()
    assert classifier.predict_file(clip).probabilities == before


def test_unseen_actors_are_recognised_well_above_chance(classifier, ravdess):
    clips = [p for d in _unseen_actor_dirs(classifier, ravdess) for p in sorted(d.glob("*.flac"))]
    correct = 0
    for path in clips:
        label = EMOTIONS[int(path.name.split("-")[2]) - 1]
        try:
            correct += classifier.predict_file(path).emotion == label
        except NoSpeechError:
            pass  # a whispered clip below the VAD's floor counts as wrong
    assert correct / len(clips) > 0.35  # chance is 0.125


def test_load_of_a_missing_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError):
        Classifier.load(tmp_path / "absent.safetensors")


def test_evaluate_json_reports_every_figure_and_the_model_in_force(tmp_path, classifier, ravdess):
    versions.export("shipped", tmp_path / "copy.safetensors")
    in_force = versions.use(versions.import_file(tmp_path / "copy.safetensors"))
    for actor in _unseen_actor_dirs(classifier, ravdess):
        (tmp_path / "data" / actor.name).mkdir(parents=True)
        for clip in sorted(actor.glob("*.flac"))[::3]:
            (tmp_path / "data" / actor.name / clip.name).symlink_to(clip)
    plot = tmp_path / "confusion.png"
    result = run_cli("evaluate", str(tmp_path / "data"), "--json", "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads(result.stdout)
    assert report["model"] == str(versions.weights_path(in_force.id))
    assert report["n"] == 40 and report["speakers"] == 2
    assert 0.25 < report["accuracy"] <= 1 and 0.25 < report["uar"] <= 1
    assert set(report["per_class"]) >= set(EMOTIONS)
    assert sum(row["n"] for row in report["per_class"].values()) == 40
    assert all(set(row) == {"precision", "recall", "n"} for row in report["per_class"].values())
    matrix = np.array(report["confusion"]["matrix"])
    assert report["confusion"]["labels"][:8] == list(EMOTIONS)
    assert matrix.sum() == 40 and np.trace(matrix) / 40 == pytest.approx(report["accuracy"], abs=1e-4)
    assert "closed_set" not in report  # every emotion is there: the open set is the closed one


def test_evaluate_on_a_corpus_without_some_emotions_also_scores_among_those_it_holds(tmp_path, classifier, ravdess):
    held = {"neutral", "happy", "sad", "angry", "fearful", "disgust"}  # CREMA-D's six
    for actor in _unseen_actor_dirs(classifier, ravdess):
        (tmp_path / "data" / actor.name).mkdir(parents=True)
        for clip in sorted(actor.glob("*.flac"))[::2]:
            if EMOTIONS[int(clip.name.split("-")[2]) - 1] in held:
                (tmp_path / "data" / actor.name / clip.name).symlink_to(clip)
    result = run_cli("evaluate", str(tmp_path / "data"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["closed_set"]["emotions"] == [e for e in EMOTIONS if e in held]
    assert report["closed_set"]["accuracy"] >= report["accuracy"]
    matrix = np.array(report["confusion"]["matrix"])
    heard_as_missing = matrix[:, [EMOTIONS.index("calm"), EMOTIONS.index("surprised")]].sum()
    wrong_among_held = report["n"] * (1 - report["accuracy"]) - heard_as_missing
    assert report["closed_set"]["accuracy"] <= 1 - wrong_among_held / report["n"] + 1e-4
    table = run_cli("evaluate", str(tmp_path / "data"))
    assert "among the 6 emotions the data holds" in table.stdout


def test_evaluate_on_a_bad_folder_is_one_line(tmp_path):
    result = run_cli("evaluate", str(tmp_path / "nowhere"))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "not a folder" in result.stderr


def test_own_mel_filters_equal_librosa_s():
    import librosa

    from moodplayer.voice.features import FeatureConfig, _mel_basis

    config = FeatureConfig()
    reference = librosa.filters.mel(
        sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax
    )
    assert np.allclose(_mel_basis(config), reference.T, atol=1e-7)


def test_evaluate_with_neutral_enrolment_leaves_the_enrolment_out(tmp_path, classifier, ravdess):
    for actor in _unseen_actor_dirs(classifier, ravdess):
        (tmp_path / "data" / actor.name).mkdir(parents=True)
        for clip in sorted(actor.glob("*.flac"))[::3]:  # two neutral clips per actor among them
            (tmp_path / "data" / actor.name / clip.name).symlink_to(clip)
    result = run_cli("evaluate", str(tmp_path / "data"), "--adapt", "neutral:2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["adapt"] == "neutral:2" and report["n"] == 36 and report["speakers"] == 2
    assert report["per_class"].get("neutral", {"n": 0})["n"] == 0


def heard_as(clip, profile=None, spread=None):
    """A clip's views as view_logits hears them: each at cold start, then with a profile the view as
    recorded normalised by it."""
    from moodplayer.voice.features import normalise

    return [normalise(v, None, spread) for v in clip] + ([normalise(clip[0], profile)] if profile else [])


def test_views_and_members_are_averaged_each_member_normalising_its_way_and_a_profile_adds_the_view_as_recorded():
    import torch

    from moodplayer.voice.classifier import view_logits
    from moodplayer.voice.features import Stats, normalise
    from moodplayer.voice.model import EmotionNet, ModelConfig, ensemble_of

    torch.manual_seed(0)
    own = EmotionNet(ModelConfig(n_inputs=4, channels=8, hidden=8, typical_spread=(False,))).eval()
    typical_net = EmotionNet(ModelConfig(n_inputs=4, channels=8, hidden=8, typical_spread=(True,))).eval()
    typical = np.array([0.5, 1.0, 2.0, 4.0])
    typical_net.typical_var.copy_(torch.from_numpy(typical))
    model = ensemble_of([own, typical_net])
    rng = np.random.default_rng(0)
    views = [rng.normal(size=(n, 4)).astype(np.float32) for n in (50, 56, 45)]
    other = [rng.normal(size=(70, 4)).astype(np.float32)]
    profile = Stats.of(rng.normal(1.0, 2.0, size=(300, 4)))

    def alone(net, x):
        with torch.inference_mode():
            return net(torch.from_numpy(x[None]))[0].numpy()

    def expected(clip, profile=None):
        per_member = [
            np.mean([alone(net, v) for v in heard_as(clip, profile, spread)], axis=0)
            for net, spread in ((own, None), (typical_net, typical))
        ]
        return np.mean(per_member, axis=0)

    got = view_logits(model, [views, other, views], [None, None, profile])  # clips batched together
    assert np.allclose(got[0], expected(views), atol=1e-5)
    both_by_own_spread = np.mean(
        [np.mean([alone(net, normalise(v)) for v in views], axis=0) for net in (own, typical_net)], axis=0
    )
    assert not np.allclose(got[0], both_by_own_spread, atol=1e-3)
    assert np.allclose(got[1], expected(other), atol=1e-5)
    assert np.allclose(got[2], expected(views, profile), atol=1e-5) and not np.allclose(got[2], got[0], atol=1e-3)
    by_profile = np.mean([alone(net, normalise(views[0], profile)) for net in (own, typical_net)], axis=0)
    np.testing.assert_allclose(got[2], (3 * got[0] + by_profile) / 4, atol=1e-5)  # one view more, among four
    trusted = view_logits(model, [views] * 3, [profile] * 3, None, [0.0, 0.5, 1.0])  # how far each profile is used
    np.testing.assert_allclose(trusted[0], got[0], atol=1e-5)  # not at all: judged as without a profile
    np.testing.assert_allclose(trusted[1], (3 * got[0] + 0.5 * by_profile) / 3.5, atol=1e-5)
    np.testing.assert_allclose(trusted[2], got[2], atol=1e-5)


def test_a_profile_is_trusted_as_far_as_its_two_hearings_agree():
    from moodplayer.voice.classifier import trust_of

    assert trust_of(8, 20) == 0.0 and trust_of(3, 20) == 0.0  # 40 % agreement or less: not used
    assert trust_of(14, 20) == 1.0 and trust_of(20, 20) == 1.0  # 70 % or more: used fully
    assert trust_of(11, 20) == pytest.approx(0.5) and trust_of(0, 0) == 1.0


def test_the_log_of_the_training_prior_is_taken_off_the_logits():
    """A class the corpus held half as often is not judged half as likely for it (logit adjustment)."""
    from dataclasses import replace

    import torch

    from moodplayer.voice.classifier import view_logits
    from moodplayer.voice.model import EmotionNet, ModelConfig

    torch.manual_seed(0)
    plain = EmotionNet(ModelConfig(n_inputs=4, n_classes=3, channels=8, hidden=8)).eval()
    adjusted = EmotionNet(replace(plain.config, class_prior=(0.2, 0.4, 0.4))).eval()
    adjusted.load_state_dict(plain.state_dict())
    clips = [[np.random.default_rng(i).normal(size=(40, 4)).astype(np.float32)] for i in range(3)]
    difference = view_logits(adjusted, clips, [None] * 3) - view_logits(plain, clips, [None] * 3)
    np.testing.assert_allclose(difference, np.tile(-np.log([0.2, 0.4, 0.4]), (3, 1)), rtol=1e-5)


def test_classifying_a_clip_at_every_speed_does_not_import_librosa(ravdess):
    """librosa's import takes seconds; the speed views must not pull it onto the path of every clip."""
    import subprocess
    import sys

    clip = ravdess / "Actor_01" / "03-01-05-02-01-01-01.flac"
    probe = (
        "import sys; from moodplayer.voice.audio import load_audio; "
        "from moodplayer.voice.classifier import Classifier; "
        "c = Classifier.load(); c.speeds = (0.9, 1.1); "  # as models trained with speed views hear clips
        f"c.predict(load_audio({str(clip)!r})); print('librosa' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False"], result.stderr


def _tiny_net_with_trained_norms(seed: int):
    """A small net whose batch norms hold statistics other than the 0/1 a new layer starts with."""
    import torch

    from moodplayer.voice.model import EmotionNet, ModelConfig

    torch.manual_seed(seed)
    net = EmotionNet(ModelConfig(n_inputs=4, channels=8, hidden=8)).eval()
    for block in net.front:
        block[1].running_mean.uniform_(-1, 1)
        block[1].running_var.uniform_(0.5, 2)
    return net


def _voice(net, shift: float):
    """Voice norms whose means sit ``shift`` above the net's training ones, with the same variances."""
    from moodplayer.voice.features import Stats

    norms = []
    for block in net.front:
        mean, var = block[1].running_mean.numpy().astype(np.float64), block[1].running_var.numpy().astype(np.float64)
        norms.append(Stats(100, mean + shift, var * 100))
    return tuple(norms)


def test_batch_norms_moved_to_a_voice_normalise_its_profiled_view_by_its_statistics_blended_with_the_training_ones():
    import copy

    from moodplayer.voice.classifier import SPEAKER_NORM_WEIGHT, view_logits
    from moodplayer.voice.features import Stats

    net = _tiny_net_with_trained_norms(0)
    rng = np.random.default_rng(0)
    clips = [
        [rng.normal(size=(n, 4)).astype(np.float32) for n in (60, 52)],
        [rng.normal(size=(75, 4)).astype(np.float32)],
    ]
    profile = Stats.of(np.concatenate([clip[0] for clip in clips]) + 0.5)
    plain = view_logits(net, clips, [profile, profile])
    np.testing.assert_allclose(view_logits(net, clips, [profile, profile], _voice(net, 0.0)), plain, atol=1e-5)
    moved = copy.deepcopy(net)
    for block in moved.front:
        block[1].running_mean += SPEAKER_NORM_WEIGHT * 1.0
    adapted = view_logits(net, clips, [profile, profile], _voice(net, 1.0))
    for clip, logits in zip(clips, adapted):  # the views at cold start as trained, the profiled one moved
        cold = view_logits(net, [clip], [None])[0] * len(clip)
        profiled = view_logits(moved, [clip[:1]], [profile])[0] * 2 - view_logits(moved, [clip[:1]], [None])[0]
        np.testing.assert_allclose(logits, (cold + profiled) / (len(clip) + 1), atol=1e-5)
    assert not np.allclose(adapted, plain, atol=1e-3)


def test_a_voice_is_heard_block_by_block_and_clip_by_clip_as_all_at_once():
    import torch

    from moodplayer.voice.classifier import heard_norms, merge_norms
    from moodplayer.voice.features import Stats, normalise
    from moodplayer.voice.model import batch_norm_inputs, pad_batch

    net = _tiny_net_with_trained_norms(1)
    rng = np.random.default_rng(1)
    clips = [[rng.normal(i, 1 + i, size=(n, 4)).astype(np.float32) for n in (64, 50, 41)] for i in range(3)]
    profile = Stats.of(np.concatenate([clip[0] for clip in clips]))
    views = [normalise(clip[0], profile) for clip in clips]  # the views a profile normalises
    at_once = heard_norms(net, clips, profile)

    with torch.inference_mode():  # the first block's batch norm hears each view's convolution, alone
        first = np.concatenate([net.front[0][0](torch.from_numpy(v.T[None]))[0].T.numpy() for v in views])
    np.testing.assert_allclose(at_once[0].mean, first.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(at_once[0].var, first.var(axis=0), rtol=1e-4)
    unmoved = Stats.of(batch_norm_inputs(net, *pad_batch(views))[1])
    assert at_once[1].count == unmoved.count and not np.allclose(at_once[1].mean, unmoved.mean, atol=1e-3)

    one_by_one = None
    for clip in clips:
        one_by_one = merge_norms(one_by_one, heard_norms(net, [clip], profile, one_by_one))
    np.testing.assert_allclose(one_by_one[0].mean, at_once[0].mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one_by_one[0].var, at_once[0].var, rtol=1e-5)
    assert [s.count for s in one_by_one] == [s.count for s in at_once]


def test_evaluate_with_profiles_reports_how_far_they_were_trusted(tmp_path, classifier, ravdess):
    for actor in _unseen_actor_dirs(classifier, ravdess):
        (tmp_path / "data" / actor.name).mkdir(parents=True)
        for clip in sorted(actor.glob("*.flac"))[::2]:
            (tmp_path / "data" / actor.name / clip.name).symlink_to(clip)
    reports = {}
    for mode in ("history:20", "history:20/always"):
        result = run_cli("evaluate", str(tmp_path / "data"), "--adapt", mode, "--json")
        assert result.returncode == 0, result.stderr
        reports[mode] = json.loads(result.stdout)
    gated, always = reports["history:20"]["profile_trust"], reports["history:20/always"]["profile_trust"]
    assert gated["applied"] and not always["applied"] and gated["speakers"] == always["speakers"]
    trusts = [row["trust"] for row in gated["speakers"].values()]
    assert len(trusts) == 2 and all(0.0 <= t <= 1.0 for t in trusts)
    assert all(0.0 <= row["agreement"] <= 1.0 for row in gated["speakers"].values())
    assert gated["trusted"] == pytest.approx(np.mean(trusts), abs=1e-3)  # 30 clips each
    assert gated["full"] + gated["partial"] + gated["none"] == 2
    if all(t == 1.0 for t in trusts):  # every profile trusted fully: the gate changes nothing
        assert reports["history:20"]["accuracy"] == reports["history:20/always"]["accuracy"]
    assert "profile_trust" not in json.loads(run_cli("evaluate", str(tmp_path / "data"), "--json").stdout)
    shown = run_cli("evaluate", str(tmp_path / "data"), "--adapt", "history:20").stdout
    assert "voice profiles trusted" in shown
