"""The listen workflow: voice → emotion → mood → playlist → player, and the user's corrections.

:class:`Listening` records (or reads) a clip, classifies it, folds it into the
voice profile, settles the mood to play, plans the queue, logs the detection
and hands a player over. What only a user interface can do (draw the recording
meter, show the verdict and the plan, ask which mood it was, show the player,
print the result) it asks of a :class:`ListeningUI`; the base class does none
of it, so the workflow also runs with nobody watching.

The model and libvlc load in a background thread while the user speaks. When
the speaker pauses, the speech so far is classified at once and shown as an
early verdict (:meth:`ListeningUI.show_early_verdict`), before the recording
has waited out its trailing silence; the verdict that counts, shown by
:meth:`ListeningUI.show_verdict`, is on the whole recording: the early one
when no speech came after it, else the recording classified again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from moodplayer.mood import PlayPlan
    from moodplayer.music.player import Player
    from moodplayer.music.track import Track
    from moodplayer.voice.classifier import Classifier, Prediction
    from moodplayer.voice.profiles import VoiceProfile

log = logging.getLogger(__name__)

#: How long a reporting UI waits for the first audio before reporting without it.
FIRST_AUDIO_TIMEOUT_S = 10.0

#: A queue to switch to (a player), and the title to show over it.
Switch = tuple["Player", str]


class ListeningUI:
    """What only a user interface can do for :class:`Listening`; each method here does nothing."""

    #: Whether :meth:`report` prints the result; the time to the first audio is then measured for it.
    reports = False

    @contextlib.contextmanager
    def meter(self, seconds: float) -> Iterator[Callable[[np.ndarray, int], None] | None]:
        """While recording: a callback for each block recorded so far (a level meter), or None."""
        yield None

    def show_verdict(self, prediction: Prediction, source: str) -> None:
        """The emotion heard in the clip from ``source`` (a path, or "microphone")."""

    def show_early_verdict(self, prediction: Prediction) -> None:
        """The emotion heard so far, while the speaker pauses and the microphone still records;
        :meth:`show_verdict` follows with the verdict on the whole recording."""

    def ask_mood(self, question: str, heard: str) -> str | None:
        """The mood the user says to play when the model is unsure; None where nobody can be asked."""
        return None

    def show_plan(self, plan: PlayPlan, playing: int) -> None:
        """The mood and the playlists about to play; ``playing`` of the plan's tracks play (the demo: one)."""

    def report(self, result: dict) -> None:
        """The result (emotion, probabilities, playlists, timings) once it is complete; see :attr:`reports`."""

    def show_player(
        self,
        player: Player,
        title: str,
        listen_again: Callable[[], Switch | None],
        wrong_mood: Callable[[str], Switch],
    ) -> None:
        """Play the queue, offering "listen again" and "wrong mood"; return when it ends."""
        player.close()


class Listening:
    """One run of ``listen``: get audio, classify it, plan the music, log it, play; then corrections.

    ``if_unsure`` is what to do when the model is unsure: "ask" (the UI, else
    play what was heard), "play" (what was heard) or an emotion to play instead.
    """

    def __init__(
        self,
        ui: ListeningUI,
        *,
        model: Path | None = None,
        aout: str | None = None,
        profile: str | None = None,
        use_profile: bool = True,
        if_unsure: str = "ask",
        strategy: str = "match",
        max_tracks: int | None = None,
        device: int | str | None = None,
        seconds: float = 6.0,
    ):
        self.ui = ui
        self.model_path = model
        self.aout = aout
        self.profile_name = profile
        self.use_profile = use_profile
        self.if_unsure = if_unsure
        self.strategy = strategy
        self.max_tracks = max_tracks
        self.device = device
        self.seconds = seconds
        self.timings: dict[str, float] = {}
        self.profile_used: dict = {}
        self.samples: np.ndarray | None = None
        self.history_id: int | None = None
        self.recording_ended = time.perf_counter()
        self._voice: VoiceProfile | None = None
        self._classifier: Classifier | None = None
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._loading: Future | None = None
        #: The early verdict and how many samples of the recording it heard.
        self._early: tuple[int, Prediction] | None = None

    def run(self, source: Path | None = None, mood: str | None = None, play: bool = True) -> None:
        """Detect the emotion in ``source`` (None: the microphone), or take ``mood``; plan and play it."""
        prediction = None
        if mood is None:
            prediction = self.detect(source)
            mood = self.settle(prediction)
        plan = self.plan(mood, prediction, source)
        self.ui.show_plan(plan, len(self.playing(plan)))
        if not play:
            self.ui.report(self.result(prediction, plan, source))
            return
        player, title = self.player_for(plan)
        if self.ui.reports:
            self.time_first_audio(player)
            self.ui.report(self.result(prediction, plan, source))
        self.ui.show_player(player, title, self.listen_again, self.wrong_mood)

    def detect(self, source: Path | None) -> Prediction:
        """Record (or read) a clip and classify it, loading the model meanwhile."""
        from moodplayer.voice import profiles

        loading = self._loading = self._pool.submit(self._load_model) if self._classifier is None else None
        self._early = None
        samples, label = self._capture(source)
        ended = self.recording_ended = time.perf_counter()
        if loading is not None:
            self._classifier, self._voice = loading.result()
        classifier = self._ready_classifier()
        prediction = self._heard_early(samples)
        if prediction is None:
            prediction = classifier.predict(samples, *profiles.judged_by(self._voice, classifier))
        self.timings["to_emotion"] = (time.perf_counter() - ended) * 1000
        self.samples = samples
        self.profile_used = profiles.describe(self._voice, classifier)
        self.ui.show_verdict(prediction, label)
        if source is None and self.use_profile:
            self._learn_voice(samples, prediction.views)
        return prediction

    def settle(self, prediction: Prediction) -> str:
        """The mood to play: what was heard, unless the model is unsure and ``if_unsure`` says otherwise."""
        if not prediction.uncertain or self.if_unsure == "play":
            return prediction.emotion
        unsure = f"not sure what I heard: {prediction.emotion}, {prediction.confidence:.0%} confidence"
        if self.if_unsure != "ask":
            log.warning("%s; playing %s (--if-unsure)", unsure, self.if_unsure)
            return self.if_unsure
        answer = self.ui.ask_mood(unsure, prediction.emotion)
        if answer is None:
            log.warning("%s; playing it anyway", unsure)
            return prediction.emotion
        return answer

    def plan(self, emotion: str, prediction: Prediction | None, source: Path | None) -> PlayPlan:
        """The queue for ``emotion``; a detection is logged in the history."""
        from moodplayer import mood
        from moodplayer.demo import ensure_demo_library
        from moodplayer.music.library import Library

        with Library.open() as lib:
            ensure_demo_library(lib)
            plan = mood.plan(lib, emotion, self.strategy)
            if prediction is not None:
                self.history_id = lib.record_detection(
                    emotion=prediction.emotion,
                    probabilities=prediction.probabilities,
                    valence=prediction.valence,
                    arousal=prediction.arousal,
                    strategy=self.strategy,
                    playlist=plan.playlist,
                    source=str(source) if source else "microphone",
                )
                if emotion != prediction.emotion:  # the user answered "not that"
                    lib.set_feedback(self.history_id, emotion)
        return plan

    def listen_again(self) -> Switch:
        """Record once more and switch to the music for what is heard now."""
        prediction = self.detect(None)
        plan = self.plan(self.settle(prediction), prediction, None)
        self.ui.show_plan(plan, len(self.playing(plan)))
        return self.player_for(plan)

    def wrong_mood(self, emotion: str) -> Switch:
        """Remember the right emotion (and keep the clip for personal training); play that mood instead."""
        from moodplayer.music.library import Library
        from moodplayer.voice import sample_store

        if self.history_id is not None:
            with Library.open() as lib:
                lib.set_feedback(self.history_id, emotion)
            if self.samples is not None:
                sample_store.add(self.samples, emotion, "feedback", history_id=self.history_id)
        return self.player_for(self.plan(emotion, None, None))

    def player_for(self, plan: PlayPlan) -> Switch:
        from moodplayer.music.player import Player

        return Player(
            self.playing(plan), aout=self.aout, name=plan.playlist
        ), f"{plan.emotion} · {', '.join(plan.playlists)}"

    def playing(self, plan: PlayPlan) -> list[Track]:
        """The plan's tracks that play: all of them, or the first ``max_tracks``."""
        return plan.tracks[: self.max_tracks] if self.max_tracks else plan.tracks

    def time_first_audio(self, player: Player) -> None:
        """Start ``player`` and time its first audio from the end of the recording (``to_first_audio``)."""
        from moodplayer.music.player import Playing

        player.play()
        deadline = time.perf_counter() + FIRST_AUDIO_TIMEOUT_S
        while player.state == "playing" and not any(isinstance(e, Playing) for e in player.poll()):
            if time.perf_counter() > deadline:
                return
            time.sleep(0.005)
        if player.state == "playing":
            self.timings["to_first_audio"] = (time.perf_counter() - self.recording_ended) * 1000

    def result(self, prediction: Prediction | None, plan: PlayPlan, source: Path | None) -> dict[str, Any]:
        """What was heard and what plays, with the timings and the voice profile used."""
        result: dict[str, Any] = {
            "source": str(source) if source else "microphone",
            **(prediction.to_dict() if prediction else {"emotion": plan.emotion}),
            "strategy": plan.strategy,
            "playlists": plan.playlists,
            "tracks": [t.location for t in plan.tracks],
        }
        if prediction is not None:
            result["timings_ms"].update({k: round(v, 2) for k, v in self.timings.items()})
            result.update(self.profile_used)
        return result

    def _on_pause(self, speech_so_far: np.ndarray) -> bool:
        """An early verdict on the speech so far, shown at once; False (ask again) while the model loads.

        Runs in the recording loop, between two blocks of audio: the blocks
        that arrive meanwhile wait in the queue.
        """
        from moodplayer.errors import NoSpeechError
        from moodplayer.voice import profiles

        if self._classifier is None:
            loading = self._loading
            if loading is None or not loading.done() or loading.exception() is not None:
                return False  # a failed load is raised once the recording ends
            self._classifier, self._voice = loading.result()
        classifier = self._classifier
        try:
            prediction = classifier.predict(speech_so_far, *profiles.judged_by(self._voice, classifier))
        except NoSpeechError:
            return True
        self._early = (speech_so_far.size, prediction)
        self.ui.show_early_verdict(prediction)
        return True

    def _heard_early(self, samples: np.ndarray) -> Prediction | None:
        """The early verdict, when the recording's speech ends within what it heard (nothing was said
        after it); else None."""
        from moodplayer.voice.audio import find_speech

        if self._early is None:
            return None
        heard, prediction = self._early
        span = find_speech(samples)
        return prediction if span is not None and span.end <= heard else None

    def _ready_classifier(self) -> Classifier:
        assert self._classifier is not None, "detect() loads the classifier first"
        return self._classifier

    def _load_model(self) -> tuple[Classifier, VoiceProfile | None]:
        """The classifier (warmed up) and the voice profile for its features; libvlc imported too."""
        from moodplayer.music.player import load_vlc
        from moodplayer.voice import profiles
        from moodplayer.voice.classifier import Classifier

        classifier = Classifier.load(self.model_path)
        classifier.warm_up()
        voice = profiles.choose(self.profile_name, self.use_profile, classifier)
        load_vlc()  # import libvlc while the user speaks, not after
        return classifier, voice

    def _learn_voice(self, samples: np.ndarray, views: tuple[np.ndarray, ...]) -> None:
        """Fold a microphone clip into the voice profile (after judging it, so it never judges itself),
        from the features it was judged by (``views``)."""
        from moodplayer.voice import profiles
        from moodplayer.voice.audio import speech_only

        classifier = self._ready_classifier()
        if self._voice is None:
            self._voice = profiles.new_profile(profiles.active_name(self.profile_name), classifier.features)
        profiles.hear(self._voice, speech_only(samples), classifier, views)
        profiles.save_profile(self._voice)

    def _capture(self, source: Path | None) -> tuple[np.ndarray, str]:
        if source is not None:
            from moodplayer.voice.audio import load_audio

            return load_audio(source), str(source)
        from moodplayer.voice.capture import record_voice

        with self.ui.meter(self.seconds) as on_block:
            samples = record_voice(self.seconds, device=self.device, on_block=on_block, on_pause=self._on_pause)
            return samples, "microphone"
