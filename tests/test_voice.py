"""Voice profiles: enrolment through the virtual microphone, checks, storage, and use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from vmic import speech_clip, vmic  # noqa: F401  (the fixture)

from moodplayer.demo import SAMPLE_VOICE
from moodplayer.paths import default_model_path
from moodplayer.voice import profiles
from moodplayer.voice.audio import SAMPLE_RATE, load_audio, speech_only
from moodplayer.voice.features import EnrolmentShift, FeatureConfig, Stats, frame_features
from moodplayer.voice.model import read_metadata
from tests.conftest import RAVDESS, REPO, run_cli

CONFIG = FeatureConfig.from_dict(read_metadata(default_model_path())["features"])  # the shipped model's
ANGRY = "Actor_20/03-01-05-02-01-01-20.flac"  # a clip the shipped model hears as angry, confidently


@pytest.fixture(scope="module")
def voice() -> np.ndarray:
    return load_audio(SAMPLE_VOICE)


def test_a_clean_sentence_passes(voice):
    assert profiles.enrolment_problem(voice) is None


def test_silence_is_refused():
    assert profiles.enrolment_problem(np.zeros(3 * SAMPLE_RATE, np.float32)) == "no speech heard"


def test_a_clipped_take_is_refused(voice):
    assert "clips" in profiles.enrolment_problem(np.clip(voice * 40, -1, 1))


def test_a_short_take_is_refused(voice):
    span = speech_only(voice)[: int(0.6 * SAMPLE_RATE)]
    padded = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), span, np.zeros(SAMPLE_RATE, np.float32)])
    assert profiles.enrolment_problem(padded).startswith("too short")


@pytest.mark.parametrize("noise_level", [0.05, 0.5])
def test_a_noisy_take_is_refused(voice, noise_level):
    noise = np.random.default_rng(0).normal(0, noise_level * np.abs(voice).max(), voice.size).astype(np.float32)
    assert profiles.enrolment_problem(voice + noise).startswith("too noisy")


def test_running_statistics_are_exactly_those_of_all_the_speech(voice):
    first, second = speech_only(voice), speech_only(voice)[::2].copy()
    profile = profiles.new_profile("alice", CONFIG)
    profile.add(first, CONFIG)
    profile.add(second, CONFIG)
    frames = np.concatenate([frame_features(first, CONFIG), frame_features(second, CONFIG)])
    np.testing.assert_allclose(profile.stats.mean, frames.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(profile.stats.var, frames.var(axis=0), rtol=1e-5)


def test_only_the_enrolment_is_moved_by_the_models_shift(voice):
    speech = speech_only(voice)
    profile = profiles.new_profile("alice", CONFIG)
    profile.add(speech, CONFIG, enrolment=True)
    profile.add(speech[::2].copy(), CONFIG)
    up = EnrolmentShift(np.full(CONFIG.dims, 1.0), np.zeros(CONFIG.dims))
    enrolled, heard = Stats.of(frame_features(speech, CONFIG)), Stats.of(frame_features(speech[::2].copy(), CONFIG))
    moved = profile.normaliser(up)
    np.testing.assert_allclose(moved.mean, Stats.combine([up.apply(enrolled), heard]).mean, rtol=1e-6)
    assert moved.count == profile.stats.count and np.all(moved.mean > profile.stats.mean)
    np.testing.assert_allclose(profile.normaliser(None).mean, profile.stats.mean)
    profiles.save_profile(profile)
    loaded = profiles.load_profile("alice", CONFIG)
    assert loaded.enrolled.count == enrolled.count and loaded.heard.count == heard.count


def test_a_first_format_profile_is_read_as_listening_history(voice):
    profile = profiles.new_profile("old", CONFIG)
    profile.add(speech_only(voice), CONFIG)
    stats = {"count": profile.heard.count, "mean": profile.heard.mean.tolist(), "m2": profile.heard.m2.tolist()}
    document = {**json.loads(profiles._encode(profile)), "format": profiles.OLD_FORMAT, "stats": stats}
    for key in ("sha256", "enrolled", "heard"):
        document.pop(key)
    profiles.profile_path("old").write_text(json.dumps({**document, "sha256": profiles._checksum(document)}))
    loaded = profiles.load_profile("old", CONFIG)
    assert loaded.enrolled.count == 0
    np.testing.assert_allclose(loaded.heard.mean, profile.heard.mean)


def test_a_second_format_profile_keeps_its_statistics_and_gathers_its_batch_norms_again(voice, shipped):
    speech = speech_only(voice)
    profile = profiles.new_profile("pooled", CONFIG)
    for number in range(1, 4):
        profile.add(speech, CONFIG, enrolment=True)
        profiles.save_clip("pooled", speech, number)
    profiles.gather_norms(profile, [speech] * 3, shipped)
    document = {**json.loads(profiles._encode(profile)), "format": profiles.POOLED_NORMS_FORMAT}
    document.pop("sha256")
    profiles.profile_path("pooled").write_text(json.dumps({**document, "sha256": profiles._checksum(document)}))
    loaded = profiles.load_profile("pooled", CONFIG)
    assert loaded.norms is None and loaded.enrolled.count == profile.enrolled.count  # pooled both views: dropped
    chosen = profiles.choose("pooled", True, shipped)
    assert chosen.norms_model == shipped.model_id and len(chosen.norms) == len(profile.norms)


@pytest.mark.parametrize("name", ["../etc/passwd", "a b", ""])
def test_profile_names_must_be_safe_file_names(name, monkeypatch):
    monkeypatch.setenv("MOODPLAYER_PROFILE", name)
    result = run_cli("voice", "show")
    assert result.returncode == 1 and (
        "invalid profile name" in result.stderr or "no voice profile 'default'" in result.stderr
    )


def test_profile_round_trip_and_running_statistics(voice):
    profile = profiles.new_profile("alice", CONFIG)
    profile.add(speech_only(voice), CONFIG)
    profile.add(speech_only(voice), CONFIG)
    profiles.save_profile(profile)
    loaded = profiles.load_profile("alice", CONFIG)
    assert loaded.clips == 2 and loaded.seconds == pytest.approx(profile.seconds)
    np.testing.assert_allclose(loaded.stats.mean, profile.stats.mean)
    assert profiles.list_profiles() == ["alice"]


def test_a_damaged_profile_is_set_aside_and_cold_start_used(voice):
    profile = profiles.new_profile("default", CONFIG)
    for _ in range(3):
        profile.add(speech_only(voice), CONFIG)
    profiles.save_profile(profile)
    path = profiles.profile_path("default")
    document = json.loads(path.read_text())
    document["seconds"] = 999.0  # edited or corrupted: the checksum no longer matches
    path.write_text(json.dumps(document))
    result = run_cli("detect", "--json", str(SAMPLE_VOICE))
    assert result.returncode == 0, result.stderr
    assert "voice profile 'default' is damaged (checksum mismatch)" in result.stderr
    assert json.loads(result.stdout)["profile"] is None
    assert not path.exists() and len(list(path.parent.glob("default.json.damaged-*"))) == 1


def test_a_profile_made_for_other_features_is_rebuilt_from_its_clips(voice):
    old = FeatureConfig(n_mels=40)
    profile = profiles.new_profile("bob", old)
    profile.add(speech_only(voice), old)
    profiles.save_profile(profile)
    profiles.save_clip("bob", speech_only(voice), 1)
    rebuilt = profiles.load_profile("bob", CONFIG)
    assert rebuilt.feature_key == CONFIG.key() and rebuilt.stats.mean.size == CONFIG.dims


@pytest.fixture(scope="module")
def shipped():
    from moodplayer.voice.classifier import Classifier

    return Classifier.load()


def test_listening_gathers_batch_norms_once_the_profile_normalises_and_uses_them_after_enough_speech(voice, shipped):
    speech = speech_only(voice)
    profile = profiles.new_profile("alice", CONFIG)
    while not profile.usable:
        assert profile.norms is None
        profiles.hear(profile, speech, shipped)
    assert profile.norms_model == shipped.model_id and profile.norms_seconds == pytest.approx(speech.size / SAMPLE_RATE)
    assert profiles.judged_by(profile, shipped)[1] is None  # too little speech heard through the model yet
    while profile.norms_seconds < profiles.MIN_SECONDS:
        profiles.hear(profile, speech, shipped)
    stats, norms, trust = profiles.judged_by(profile, shipped)
    assert trust == profile.trust_for(shipped.model_id)
    assert stats is not None and norms is profile.norms
    profiles.save_profile(profile)
    loaded = profiles.load_profile("alice", CONFIG)
    assert loaded.norms_seconds == profile.norms_seconds and loaded.norms_model == shipped.model_id
    for before, after in zip(profile.norms, loaded.norms):
        assert (
            after.count == before.count and np.allclose(after.mean, before.mean) and np.allclose(after.var, before.var)
        )
    moved, cold = shipped.predict(voice, stats, norms), shipped.predict(voice, stats)
    assert moved.probabilities != cold.probabilities


def test_listening_learns_from_the_features_the_clip_was_judged_by_without_computing_them_again(
    voice, shipped, monkeypatch
):
    prediction = shipped.predict(voice)
    speech = speech_only(voice)
    expected = profiles.new_profile("expected", CONFIG)
    expected.add(speech, CONFIG)

    def computed_again(*_):
        raise AssertionError("features computed again")

    monkeypatch.setattr(shipped, "features_of", computed_again)
    monkeypatch.setattr(profiles, "frame_features", computed_again)
    learnt = profiles.new_profile("learnt", CONFIG)
    profiles.hear(learnt, speech, shipped, prediction.views)
    assert np.array_equal(learnt.heard.mean, expected.heard.mean) and learnt.seconds == expected.seconds
    while learnt.norms_seconds < profiles.MIN_SECONDS:  # the batch norms' statistics too, once the profile is usable
        profiles.hear(learnt, speech, shipped, prediction.views)
    assert profiles.judged_by(learnt, shipped)[1] is learnt.norms


def test_batch_norms_another_model_heard_are_gathered_again_from_the_enrolment_clips(voice, shipped):
    speech = speech_only(voice)
    for name, keep_clips in (("kept", True), ("lost", False)):
        profile = profiles.new_profile(name, CONFIG)
        for number in range(1, 4):
            profile.add(speech, CONFIG, enrolment=True)
            if keep_clips:
                profiles.save_clip(name, speech, number)
        profiles.gather_norms(profile, [speech] * 3, shipped)
        profile.norms_model = "an earlier model"
        profiles.save_profile(profile)
    kept = profiles.choose("kept", True, shipped)
    assert kept.norms_model == shipped.model_id and kept.norms_seconds == pytest.approx(profile.seconds)
    assert profiles.load_profile("kept", CONFIG).norms_model == shipped.model_id  # and saved
    lost = profiles.choose("lost", True, shipped)
    assert lost.norms_model == "an earlier model" and profiles.judged_by(lost, shipped)[1] is None


def profile_of_actor(ravdess, actor: str) -> profiles.VoiceProfile:
    """A profile from an actor's neutral and calm clips (no emotion labels needed)."""
    profile = profiles.new_profile("default", CONFIG)
    for clip in sorted((ravdess / f"Actor_{actor}").glob("03-01-0[12]-*.flac")):
        profile.add(speech_only(load_audio(clip)), CONFIG)
    profiles.save_profile(profile)
    return profile


def speaker_normalised_copy(tmp_path):
    """The shipped model, its metadata saying it was trained on speaker-normalised features."""
    from moodplayer.paths import default_model_path

    source = default_model_path()
    target = tmp_path / source.name
    target.write_bytes(source.read_bytes())
    metadata = json.loads(source.with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**metadata, "speaker_normalisation": True}))
    return target


def test_detect_uses_a_profile_with_a_model_trained_for_it(ravdess, tmp_path):
    profile = profile_of_actor(ravdess, "20")
    assert profile.usable
    clip, model = str(ravdess / ANGRY), str(speaker_normalised_copy(tmp_path))
    with_profile = json.loads(run_cli("detect", "--json", "--model", model, clip).stdout)
    cold = json.loads(run_cli("detect", "--json", "--model", model, "--no-profile", clip).stdout)
    assert with_profile["profile"] == "default" and with_profile["profile_seconds"] == profile.seconds
    assert cold["profile"] is None and cold["profile_seconds"] == 0.0
    assert with_profile["probabilities"] != cold["probabilities"]


def test_the_shipped_model_uses_a_profile_only_if_trained_for_it(ravdess):
    from moodplayer.voice.classifier import Classifier

    profile_of_actor(ravdess, "20")
    used = json.loads(run_cli("detect", "--json", str(ravdess / ANGRY)).stdout)["profile"]
    assert used == ("default" if Classifier.load().accepts_profiles else None)


def test_voice_show_places_the_voice_among_the_training_speakers(ravdess, tmp_path):
    profile_of_actor(ravdess, "20")
    shown = run_cli("voice", "show", "--json", "--plot", str(tmp_path / "voice.png"))
    assert shown.returncode == 0, shown.stderr
    pitch_hz = json.loads(shown.stdout)["pitch_hz"]
    assert 150 < pitch_hz < 300  # actor 20 is a woman
    assert json.loads(shown.stdout)["adapts_model"] is False  # built without the model: no batch-norm statistics
    assert (tmp_path / "voice.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = run_cli("voice", "show").stdout
    assert f"typical pitch {pitch_hz:.0f} Hz; the model's 20 training speakers:" in text


def test_reset_forgets_the_profile_and_its_clips(voice):
    profile = profiles.new_profile("default", CONFIG)
    profile.add(speech_only(voice), CONFIG)
    profiles.save_profile(profile)
    profiles.save_clip("default", speech_only(voice), 1)
    result = run_cli("voice", "reset")
    assert result.returncode == 0 and "deleted" in result.stdout
    assert profiles.list_profiles() == [] and not profiles.clips_dir("default").exists()
    assert "no voice profile 'default'" in run_cli("voice", "show").stderr


def enroll_through_the_mic(vmic, tmp_path, takes: list[bool]) -> subprocess.CompletedProcess:
    """Run `voice enroll` and, at each prompt for a take, play a sentence (True) or stay silent (False)."""
    clip = speech_clip(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodplayer", "voice", "enroll", "--sentences", "4", "--seconds", "4"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    stderr_lines = []
    pending = list(takes)
    for line in proc.stderr:
        stderr_lines.append(line)
        if ("read in your usual voice" in line or "please read it again" in line) and pending:
            if pending.pop(0):
                vmic.play(clip, delay=0.5)
    stdout, _ = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, "".join(stderr_lines))


def test_enroll_through_the_virtual_microphone(vmic, tmp_path):
    # The second sentence's first take is silent: refused, then read again.
    result = enroll_through_the_mic(vmic, tmp_path, [True, False, True, True, True])
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("no speech heard; please read it again") == 1
    profile = profiles.load_profile("default", CONFIG)
    assert profile.clips == 4 and profile.usable
    assert profile.enrolled.count > 0 and profile.heard.count == 0  # the model's enrolment shift applies to all of it
    assert "voice profile 'default': 4 sentences" in result.stdout
    assert len(list(profiles.clips_dir("default").glob("enrol-*.flac"))) == 4
    from moodplayer.voice.classifier import Classifier  # what the model's batch norms hear was gathered too

    assert profile.norms_model == Classifier.load().model_id and profile.norms_seconds == pytest.approx(profile.seconds)
    shown = json.loads(run_cli("voice", "show", "--json").stdout)
    assert shown["clips"] == 4 and shown["in_use"] is True and shown["adapts_model"] is True


def test_listen_hears_through_the_microphone_what_detect_reads_from_the_file(vmic, ravdess):
    clip = ravdess / ANGRY
    vmic.play(clip, delay=0.8)
    listened = run_cli("listen", "--no-play", "--json", "--seconds", "8", timeout=120)
    assert listened.returncode == 0, listened.stderr
    detected = json.loads(run_cli("detect", "--json", "--no-profile", str(clip)).stdout)
    heard = json.loads(listened.stdout)
    assert heard["source"] == "microphone"
    assert heard["emotion"] == detected["emotion"] == "angry"
    # That listen started the voice profile: one clip, not yet enough to use.
    started = profiles.load_profile("default", CONFIG)
    assert started.clips == 1 and started.heard.count > 0 and started.enrolled.count == 0


TESS = RAVDESS.parent / "tess-16k"


def twenty_clips(folder, pattern: str) -> list[np.ndarray]:
    """Every third clip of a folder's matches, 20 in all, as speech only."""
    return [speech_only(load_audio(clip)) for clip in sorted(folder.glob(pattern))[::3][:20]]


def test_a_profile_that_does_not_fit_the_voice_is_not_trusted_and_the_verdict_falls_back_to_cold_start(
    ravdess, shipped
):
    """Actor 20 (whom the shipped model never trained on) heard through her own profile: the cold and the
    profiled hearings agree on most clips, so the profile is used fully. Heard through the profile of
    another corpus's speaker (an enrolment of TESS's younger actress's neutral words), they agree on
    few, the profile is not used, and every verdict is the cold-start one."""
    from moodplayer.voice.classifier import trust_of

    if not (TESS / "neutral").is_dir():
        pytest.skip(f"TESS not found at {TESS}")
    own = twenty_clips(ravdess / "Actor_20", "*.flac")
    other = [speech_only(load_audio(clip)) for clip in sorted(TESS.glob("neutral/YAF_*.flac"))[::10][:20]]
    heard = [shipped.features_of(clip) for clip in own]
    for voice, clips, fits in (("actor 20", own, True), ("TESS YAF", other, False)):
        profile = profiles.new_profile(voice.replace(" ", "-"), CONFIG)
        for clip in clips:
            profile.add(clip, CONFIG)
        stats = profiles.stats_for(profile, shipped)
        profiles.gather_norms(profile, clips, shipped)
        norms = profile.norms_for(shipped.model_id)
        assert stats is not None and norms is not None
        agreed = shipped.agreement(heard, stats, norms)  # actor 20's clips, heard through this profile
        trust = trust_of(agreed, len(heard))
        if fits:
            assert trust == 1.0, f"{agreed} of {len(heard)} agreed"
        else:
            assert trust == 0.0, f"{agreed} of {len(heard)} agreed"
            for clip in own[:5]:
                gated, cold = shipped.predict(clip, stats, norms, trust), shipped.predict(clip)
                assert gated.probabilities == pytest.approx(cold.probabilities, abs=1e-5)
                assert shipped.predict(clip, stats, norms).probabilities != pytest.approx(cold.probabilities, abs=1e-5)


def test_a_profile_counts_the_clips_its_two_hearings_agree_on_and_keeps_them(voice, shipped):
    speech = speech_only(voice)
    profile = profiles.new_profile("bob", CONFIG)
    profiles.gather_norms(profile, [speech], shipped)
    assert profile.compared == 0  # not usable yet: nothing heard through it
    while not profile.usable:
        profile.add(speech, CONFIG, enrolment=True)
    profiles.gather_norms(profile, [speech] * profile.clips, shipped)
    assert profile.compared == profile.clips < profiles.MIN_COMPARED and profile.agreed in (0, profile.clips)
    assert profiles.judged_by(profile, shipped)[2] == 1.0  # fewer than MIN_COMPARED clips compared: used fully
    while profile.compared < profiles.MIN_COMPARED:
        profiles.hear(profile, speech, shipped)
    expected = profiles.trust_of(profile.agreed, profile.compared)
    assert profiles.judged_by(profile, shipped)[2] == expected == profile.trust_for(shipped.model_id)
    assert profiles.describe(profile, shipped)["profile_trust"] == pytest.approx(expected)
    profiles.save_profile(profile)
    loaded = profiles.load_profile("bob", CONFIG)
    assert (loaded.agreed, loaded.compared) == (profile.agreed, profile.compared)
    assert loaded.trust_for("another model") == 1.0
    shown = json.loads(run_cli("voice", "show", "--profile", "bob", "--json").stdout)
    assert (shown["trust"], shown["agreed"], shown["compared"]) == (expected, profile.agreed, profile.compared)
    said = {0.0: "set aside (both hearings agree on", 1.0: "trusted 100% (both hearings agree on"}
    text = " ".join(run_cli("voice", "show", "--profile", "bob").stdout.split())
    assert said.get(expected, f"trusted {expected:.0%}") in text, text
