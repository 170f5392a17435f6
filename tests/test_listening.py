"""The listen workflow in-process: the real model, SQLite and sample store, a user interface that
only remembers what it was asked to show."""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import pytest
import soundfile as sf

from moodplayer.demo import SAMPLE_VOICE
from moodplayer.emotions import EMOTIONS
from moodplayer.errors import AudioError, LibraryError, NoSpeechError
from moodplayer.listening import Listening, ListeningUI
from moodplayer.music.library import Library
from moodplayer.voice import sample_store
from moodplayer.voice.audio import find_speech, load_audio
from moodplayer.voice.classifier import Classifier
from tests.conftest import unsure_model
from tests.vmic import speech_clip, vmic  # noqa: F401  (the fixture)


class Watching(ListeningUI):
    """A user interface that keeps what it is shown and answers the mood question with ``answer``."""

    reports = True

    def __init__(self, answer: str | None = None):
        self.answer = answer
        self.verdicts: list[tuple[str, str]] = []
        self.plans: list[list[str]] = []
        self.questions: list[str] = []
        self.results: list[dict] = []

        self.recording = False
        #: Early verdicts: the prediction, and whether the microphone was still recording.
        self.early: list[tuple[object, bool]] = []
        self.final: list = []

    @contextlib.contextmanager
    def meter(self, seconds):
        self.recording = True
        try:
            yield None
        finally:
            self.recording = False

    def show_verdict(self, prediction, source):
        self.verdicts.append((prediction.emotion, source))
        self.final.append(prediction)

    def show_early_verdict(self, prediction):
        self.early.append((prediction, self.recording))

    def ask_mood(self, question, heard):
        self.questions.append(question)
        return self.answer

    def show_plan(self, plan, playing):
        self.plans.append(plan.playlists)

    def report(self, result):
        self.results.append(result)


@pytest.fixture
def warnings(caplog):
    """The workflow's warnings, also after a CLI run in this process stopped them reaching the root logger."""
    logging.getLogger("moodplayer").propagate = True
    with caplog.at_level(logging.WARNING):
        yield caplog
    logging.getLogger("moodplayer").propagate = False


def test_a_file_is_heard_as_detect_hears_it_planned_shown_and_logged():
    ui = Watching()
    Listening(ui).run(SAMPLE_VOICE, play=False)
    (result,) = ui.results
    heard = Classifier.load().predict(load_audio(SAMPLE_VOICE))
    assert result["emotion"] == heard.emotion and result["probabilities"] == heard.to_dict()["probabilities"]
    assert ui.verdicts == [(heard.emotion, str(SAMPLE_VOICE))]
    assert ui.plans == [[f"demo-{heard.emotion}"]] and result["playlists"] == ui.plans[0]
    assert len(result["tracks"]) == 2 and set(result["timings_ms"]) >= {"features", "model", "to_emotion"}
    with Library.open() as lib:
        (row,) = lib.history()
    assert row["emotion"] == heard.emotion and row["playlist"] == f"demo-{heard.emotion}" and row["feedback"] is None


def test_a_mood_given_skips_detection_and_logs_nothing():
    ui = Watching()
    Listening(ui, strategy="uplift").run(mood="sad", play=False)
    assert ui.verdicts == [] and ui.results[0]["playlists"][0] == "demo-sad"
    assert "probabilities" not in ui.results[0]
    with Library.open() as lib:
        assert lib.history() == []


def test_silence_is_no_speech_not_a_guess(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(48_000, np.float32), 16_000)
    with pytest.raises(NoSpeechError, match="^no speech heard"):
        Listening(Watching()).run(path, play=False)
    with Library.open() as lib:
        assert lib.history() == []


def test_missing_and_corrupt_files_say_which_and_why(tmp_path):
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(range(256)) * 4)
    for path, message in [(tmp_path / "nope.wav", "no such file"), (corrupt, "it is not audio, or it is damaged")]:
        with pytest.raises(AudioError, match=message):
            Listening(Watching()).run(path, play=False)


def test_a_damaged_database_is_reported_and_left_alone(isolated_home):
    db = isolated_home / "moodplayer.db"
    garbage = b"this is not a database" * 100
    db.write_bytes(garbage)
    with pytest.raises(LibraryError):
        Listening(Watching()).run(mood="sad", play=False)
    assert db.read_bytes() == garbage


def test_when_unsure_a_set_mood_is_played_and_kept_as_feedback(tmp_path, warnings):
    ui = Watching()
    Listening(ui, model=unsure_model(tmp_path), if_unsure="calm").run(SAMPLE_VOICE, play=False)
    (result,) = ui.results
    assert result["uncertain"] is True and result["playlists"] == ["demo-calm"] and ui.questions == []
    assert "not sure what I heard" in warnings.text and "playing calm (--if-unsure)" in warnings.text
    with Library.open() as lib:
        (row,) = lib.history()
    assert row["emotion"] == result["emotion"] and row["feedback"] == ("calm" if result["emotion"] != "calm" else None)


@pytest.mark.parametrize("answer", ["angry", None])
def test_when_unsure_the_user_is_asked_and_with_nobody_to_answer_what_was_heard_plays(tmp_path, warnings, answer):
    ui = Watching(answer=answer)
    Listening(ui, model=unsure_model(tmp_path)).run(SAMPLE_VOICE, play=False)
    (result,) = ui.results
    (question,) = ui.questions
    assert question.startswith(f"not sure what I heard: {result['emotion']}, ")
    assert result["playlists"] == [f"demo-{answer or result['emotion']}"]
    assert ("playing it anyway" in warnings.text) == (answer is None)


def test_wrong_mood_keeps_the_right_emotion_and_the_clip_and_plays_that_mood():
    listening = Listening(Watching(), aout="dummy")
    heard = listening.detect(SAMPLE_VOICE)
    listening.plan(heard.emotion, heard, SAMPLE_VOICE)
    right = next(e for e in EMOTIONS if e != heard.emotion)
    player, title = listening.wrong_mood(right)
    player.close()
    assert title == f"{right} · demo-{right}" and player.name == f"demo-{right}"
    with Library.open() as lib:
        (row,) = lib.history()
    assert row["feedback"] == right
    (clip,) = sample_store.all_samples()
    assert clip.emotion == right and clip.source == "feedback" and clip.extra == {"history_id": row["id"]}


def test_a_plain_listening_plays_to_the_player_it_is_given():
    shown = []

    class Player(Watching):
        reports = False

        def show_player(self, player, title, listen_again, wrong_mood):
            shown.append((title, len(player.up_next)))
            player.close()

    ui = Player()
    Listening(ui, aout="dummy", max_tracks=1).run(mood="happy")
    assert shown == [("happy · demo-happy", 0)] and ui.results == []


def spoken(folder, then: float = 0.0):
    """The test sentence at 16 kHz without its trailing silence; with ``then``, after a 0.5 s pause the
    sentence again and ``then`` seconds of a steady sound as loud (a speaker who goes on and on)."""
    speech = load_audio(speech_clip(folder))
    speech = speech[: find_speech(speech).end]
    if then:
        rms = np.sqrt(np.mean(speech**2))
        steady = (rms * np.sqrt(2) * np.sin(2 * np.pi * 180 * np.arange(int(then * 16_000)) / 16_000)).astype(
            np.float32
        )
        speech = np.concatenate([speech, np.zeros(8_000, np.float32), speech, steady])
    path = folder / "spoken.wav"
    sf.write(path, speech, 16_000)
    return path, speech.size / 16_000


def test_a_pause_shows_an_early_verdict_while_recording_which_stands_when_nothing_follows(vmic, tmp_path):
    clip, _ = spoken(tmp_path)
    vmic.play(clip, delay=2.0)  # the model loads meanwhile
    ui = Watching()
    Listening(ui, use_profile=False, seconds=15.0).run(play=False)
    assert ui.early and all(recording for _, recording in ui.early)
    (final,) = ui.final
    assert final is ui.early[-1][0]  # nothing said after it: the last early verdict is the verdict
    assert ui.results[0]["emotion"] == final.emotion


def test_a_speaker_who_goes_on_after_a_pause_gets_a_verdict_on_the_whole_recording(vmic, tmp_path):
    clip, seconds = spoken(tmp_path, then=4.0)
    vmic.play(clip, delay=2.0)
    ui = Watching()
    listening = Listening(ui, use_profile=False, seconds=2.0 + seconds - 2.0)  # stops while the sound goes on
    listening.run(play=False)
    assert ui.early and all(recording for _, recording in ui.early)
    (final,) = ui.final
    assert all(early is not final for early, _ in ui.early)
    assert final.probabilities == Classifier.load().predict(listening.samples).probabilities
