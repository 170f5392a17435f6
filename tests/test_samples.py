"""The personal sample store, and `record` / `samples` through the real CLI, microphone and libvlc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, run_cli
from test_record import has_sound_card
from vmic import speech_clip, vmic  # noqa: F401  (the fixture)

from moodplayer.errors import NoSpeechError
from moodplayer.paths import BUNDLED_DATA_DIR
from moodplayer.voice import sample_store as store
from moodplayer.voice.audio import SAMPLE_RATE, find_speech, load_audio

VOICE = BUNDLED_DATA_DIR / "sample-voice.flac"


def padded_voice() -> np.ndarray:
    """The bundled voice with a second of near-silence either side, as a microphone would hear it."""
    hiss = np.random.default_rng(0).normal(0, 1e-4, SAMPLE_RATE).astype(np.float32)
    return np.concatenate([hiss, load_audio(VOICE), hiss])


def test_a_clip_is_stored_trimmed_as_flac_with_its_metadata():
    recorded = padded_voice()
    sample = store.add(recorded, "Happy", "recorded", prompt="Kids are talking by the door.")
    audio, rate = sf.read(sample.path, dtype="float32")
    assert rate == SAMPLE_RATE and sample.path.suffix == ".flac"
    assert audio.size < recorded.size - SAMPLE_RATE  # the silence around the speech is gone
    assert find_speech(audio).voiced_seconds > 0.8 * find_speech(recorded).voiced_seconds
    meta = json.loads(sample.path.with_suffix(".json").read_text())
    assert meta["emotion"] == "happy" and meta["source"] == "recorded"
    assert meta["duration"] == pytest.approx(audio.size / SAMPLE_RATE, abs=0.01)
    assert meta["created"].endswith("+00:00") and meta["prompt"] == "Kids are talking by the door."
    assert store.all_samples() == [sample]


def test_ids_grow_delete_removes_both_files_and_unknown_ids_are_one_line_errors():
    first, second = (store.add(padded_voice(), e, "recorded") for e in ("sad", "calm"))
    assert (first.id, second.id) == (1, 2)
    store.delete(1)
    assert [s.id for s in store.all_samples()] == [2]
    assert not first.path.exists() and not first.path.with_suffix(".json").exists()
    assert store.add(padded_voice(), "angry", "recorded").id == 3  # the highest ID is never reused
    with pytest.raises(store.SampleError, match=r"^no personal sample 1 \(see: moodplayer samples list\)$"):
        store.get(1)


def test_silence_and_unknown_emotions_store_nothing():
    with pytest.raises(NoSpeechError):
        store.add(np.zeros(2 * SAMPLE_RATE, np.float32), "sad", "recorded")
    with pytest.raises(store.SampleError, match="unknown emotion 'bored'"):
        store.add(padded_voice(), "bored", "recorded")
    assert store.all_samples() == [] and not any(store.samples_dir().iterdir())


def test_a_recording_the_user_has_joins_the_store_checked_as_a_recorded_one(tmp_path):
    memo = tmp_path / "memo.ogg"
    sf.write(memo, padded_voice(), SAMPLE_RATE, format="OGG")
    sample = store.add_file(memo, "happy")
    assert (sample.emotion, sample.source, sample.extra) == ("happy", "imported", {"file": "memo.ogg"})
    assert sample.duration < 6 and store.all_samples() == [sample]
    sf.write(tmp_path / "quiet.wav", np.zeros(3 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    with pytest.raises(NoSpeechError, match=f"no speech heard in {tmp_path / 'quiet.wav'}"):
        store.add_file(tmp_path / "quiet.wav", "sad")
    sf.write(tmp_path / "lecture.flac", np.tile(load_audio(VOICE), 10), SAMPLE_RATE)
    with pytest.raises(store.SampleError, match=r"lecture.flac holds \d+ s of speech; .* cut it into shorter clips"):
        store.add_file(tmp_path / "lecture.flac", "calm")
    assert store.all_samples() == [sample]  # the refused ones left nothing behind


def test_a_half_written_or_damaged_clip_is_never_listed():
    kept = store.add(padded_voice(), "sad", "recorded")
    folder = store.samples_dir()
    (folder / "0002-happy.flac").write_bytes(kept.path.read_bytes())  # crash before its sidecar
    (folder / "0003-angry.flac").write_bytes(kept.path.read_bytes())
    (folder / "0003-angry.json").write_text('{"id": 3, "emot')  # a torn sidecar
    assert store.all_samples() == [kept]
    assert store.add(padded_voice(), "calm", "recorded").id == 4


def test_feedback_from_listen_lands_in_the_same_store():
    store.add(padded_voice(), "sad", "recorded")
    path = store.add(padded_voice(), "calm", "feedback", history_id=42).path  # as listen's "wrong mood" keeps it
    feedback = store.all_samples()[-1]
    assert feedback.path == path and feedback.source == "feedback" and feedback.emotion == "calm"
    assert feedback.extra == {"history_id": 42}
    assert [c.label for c in store.clips()] == ["sad", "calm"] and {c.speaker for c in store.clips()} == {"user"}


def test_samples_list_and_play_through_the_cli():
    sample = store.add(padded_voice(), "happy", "recorded")
    listed = run_cli("samples", "list", "--json")
    assert listed.returncode == 0 and [s["id"] for s in json.loads(listed.stdout)] == [sample.id]
    played = run_cli("samples", "play", "1", "--aout", "dummy", timeout=60)
    assert played.returncode == 0, played.stderr
    assert "sample 1 (happy)" in played.stdout + played.stderr
    missing = run_cli("samples", "delete", "9")
    assert (
        missing.returncode == 1
        and missing.stderr.strip() == "error: no personal sample 9 (see: moodplayer samples list)"
    )


def test_samples_add_keeps_the_good_recordings_and_says_which_were_refused(tmp_path):
    memo = tmp_path / "voice memo.ogg"
    sf.write(memo, padded_voice(), SAMPLE_RATE, format="OGG")
    (tmp_path / "notes.m4a").write_text("not a recording\n")
    sf.write(tmp_path / "silence.wav", np.zeros(3 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    files = [str(memo), str(tmp_path / "notes.m4a"), str(tmp_path / "silence.wav")]
    result = run_cli("samples", "add", *files, "--emotion", "Calm")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"added sample 1 (calm, {store.get(1).duration:.1f} s of speech) from {memo}"
    assert lines[1].startswith(f"error: cannot read {tmp_path / 'notes.m4a'}: it is not audio")
    assert lines[2].startswith(f"error: no speech heard in {tmp_path / 'silence.wav'}") and len(lines) == 3
    [sample] = store.all_samples()
    assert (sample.emotion, sample.source, sample.extra) == ("calm", "imported", {"file": "voice memo.ogg"})
    listed = run_cli("samples", "list", env={"COLUMNS": "80"}).stdout
    assert "imported" in listed and listed.rstrip().endswith("1 clip: calm 1")


def test_a_wrong_emotion_is_refused_before_anything_is_asked_or_stored(tmp_path):
    for command in (["record"], ["samples", "add", str(VOICE)]):
        result = run_cli(*command, "--emotion", "grumpy")
        assert result.returncode == 2
        (line,) = result.stderr.splitlines()
        assert "unknown emotion 'grumpy'" in line and line.endswith(f"(see: moodplayer {' '.join(command[:2])} --help)")
    assert store.all_samples() == []


@pytest.mark.skipif(has_sound_card(), reason="needs a machine without sound cards (as CI is)")
@pytest.mark.parametrize("command", [["record", "--emotion", "happy"], ["voice", "enroll"]])
def test_without_a_microphone_record_and_enroll_say_so_before_the_first_sentence(tmp_path, command):
    result = run_cli(*command, env={"PULSE_SERVER": f"unix:{tmp_path / 'no-server'}"})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: no audio input device found (no microphone?)")


def test_record_stores_the_speech_heard_by_the_microphone(vmic, tmp_path):
    clip = speech_clip(tmp_path)
    vmic.play(clip, delay=3.0)  # after the command has started and opened the microphone
    result = run_cli("record", "--emotion", "happy", "--count", "1", "--seconds", "15")
    assert result.returncode == 0, result.stderr
    assert "say, sounding happy:" in result.stderr and "saved sample 1 (happy" in result.stderr
    [sample] = store.all_samples()
    assert sample.source == "recorded" and sample.extra["prompt"]
    heard = find_speech(load_audio(clip)).voiced_seconds
    assert find_speech(load_audio(sample.path)).voiced_seconds > 0.5 * heard


def test_record_asks_again_when_it_hears_nothing_and_gives_up_with_one_line(vmic):
    result = run_cli("record", "--emotion", "sad", "--count", "1", "--seconds", "2")
    assert result.returncode == 1
    assert result.stderr.count("no speech heard; let's try that one again") == 3
    assert (
        result.stderr.splitlines()[-1]
        == "error: no speech heard in 3 recordings in a row; check the microphone (moodplayer devices)"
    )
    assert store.all_samples() == []


def test_ctrl_c_keeps_the_clips_already_saved(vmic, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodplayer", "record", "-e", "angry", "-n", "3", "-s", "15"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    vmic.play(speech_clip(tmp_path), delay=3.0)
    lines = []
    while not any(line.startswith("saved sample 1") for line in lines):
        lines.append(proc.stderr.readline())
        assert lines[-1], f"record ended early: {lines}"
    time.sleep(0.5)  # recording the second clip
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=20)[1]
    assert proc.returncode == 130
    assert "kept the 1 clip recorded before stopping" in rest and "Traceback" not in rest
    assert [s.emotion for s in store.all_samples()] == ["angry"]
