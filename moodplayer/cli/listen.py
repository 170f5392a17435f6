"""``moodplayer listen`` and ``moodplayer demo``: voice → emotion → mood playlist → VLC."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import AOUT_HELP, DEVICE_HELP, MODEL_HELP, device_arg


@app.command()
def listen(
    seconds: float = typer.Option(
        6.0, "--seconds", "-s", min=1.0, max=30.0, help="Longest recording; it stops early when you stop speaking."
    ),
    file: Path | None = typer.Option(None, "--file", "-f", help="Classify this audio file instead of recording."),
    no_play: bool = typer.Option(False, "--no-play", help="Only show the emotion and the playlist; play nothing."),
    strategy: str = typer.Option(
        "match",
        "--strategy",
        envvar="MOODPLAYER_STRATEGY",
        help="match: music that fits the mood; uplift: then move toward happier moods.",
    ),
    mood: str | None = typer.Option(None, "--mood", help="Skip detection and play this mood."),
    device: str | None = typer.Option(None, "--device", "-d", help=DEVICE_HELP),
    model: Path | None = typer.Option(None, "--model", help=MODEL_HELP),
    aout: str | None = typer.Option(None, "--aout", help=AOUT_HELP),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object (emotion, playlist, timings) instead of the views."
    ),
    profile: str | None = typer.Option(
        None, "--profile", "-p", help="Voice profile (default: $MOODPLAYER_PROFILE or 'default')."
    ),
    no_profile: bool = typer.Option(False, "--no-profile", help="Neither use nor update a voice profile."),
    if_unsure: str = typer.Option(
        "ask",
        "--if-unsure",
        help="When the model is unsure: ask (in a terminal; else play what it heard), play, or a mood to play instead.",
    ),
) -> None:
    """Listen to your voice, recognise the emotion, and play music that fits.

    Each recording also refines your voice profile (no labels needed), which
    the model uses once it holds enough speech; see `moodplayer voice`.
    """
    session = Session(
        model=model,
        aout=aout,
        as_json=as_json,
        profile=profile,
        use_profile=not no_profile,
        if_unsure=_unsure_policy(if_unsure),
    )
    session.run(source=file, seconds=seconds, device=device, mood=mood, strategy=strategy, play=not no_play)


def _unsure_policy(value: str) -> str:
    from moodplayer.emotions import parse_emotion

    if value in ("ask", "play"):
        return value
    try:
        return parse_emotion(value)
    except ValueError:
        raise typer.BadParameter(f"expected ask, play or an emotion, not {value!r}", param_hint="--if-unsure") from None


@app.command()
def demo(
    aout: str | None = typer.Option(None, "--aout", help="VLC audio output (default: the sound card, else silent)."),
) -> None:
    """Run the whole chain on the bundled sample voice and demo music, no microphone needed."""
    from moodplayer.demo import SAMPLE_VOICE

    session = Session(model=None, aout=aout, as_json=False, max_tracks=1, use_profile=False, if_unsure="play")
    session.run(source=SAMPLE_VOICE, seconds=0, device=None, mood=None, strategy="match", play=True)


#: How long ``--json`` waits for the first audio before reporting without it.
FIRST_AUDIO_TIMEOUT_S = 10.0


class Session:
    """One listening session: get audio, classify it, plan the music, log it, play.

    The model and libvlc load in a background thread while the user speaks, so
    the emotion appears right after the recording ends. In the live view, "w"
    (wrong mood) stores the right emotion as feedback, keeps the clip for
    personal training and switches the music; "l" listens again.
    """

    def __init__(
        self,
        model: Path | None,
        aout: str | None,
        as_json: bool,
        max_tracks: int | None = None,
        profile: str | None = None,
        use_profile: bool = True,
        if_unsure: str = "ask",
    ):
        self.model_path = model
        self.profile_name = profile
        self.use_profile = use_profile
        self.voice = None
        self.profile_used: dict = {}
        self.aout = aout
        self.as_json = as_json
        self.max_tracks = max_tracks
        self.strategy = "match"
        self.if_unsure = if_unsure
        self.device = None
        self.seconds = 6.0
        self.timings: dict[str, float] = {}
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._classifier = None
        self.samples = None
        self.history_id: int | None = None
        self.recording_ended = time.perf_counter()

    def run(self, source: Path | None, seconds: float, device, mood: str | None, strategy: str, play: bool) -> None:
        from moodplayer.emotions import parse_emotion

        self.strategy, self.device, self.seconds = strategy, device_arg(device), seconds
        if mood is not None:
            try:
                mood = parse_emotion(mood)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--mood") from None
        prediction = None if mood else self.detect(source)
        plan = self.plan(mood or self.settle(prediction), prediction, source)
        self._show_plan(plan)  # says nothing with --json
        if not play:
            if self.as_json:
                self._print_json(prediction, plan, source)
            return
        from moodplayer.ui.tui import run_now_playing

        player, title = self._player_for(plan)
        if self.as_json:
            self._report_once_audio_starts(player, prediction, plan, source)
        # With --json, stdout holds the JSON alone: the view's lines go to stderr.
        with contextlib.redirect_stdout(sys.stderr) if self.as_json else contextlib.nullcontext():
            run_now_playing(player, title=title, on_listen_again=self.listen_again, on_wrong_mood=self.wrong_mood)

    def _report_once_audio_starts(self, player, prediction, plan, source) -> None:
        """For ``--json`` with music: start it, time the first audio, then print the JSON."""
        player.play()
        deadline = time.perf_counter() + FIRST_AUDIO_TIMEOUT_S
        while player.state == "playing" and not any(e.startswith("playing ") for e in player.poll()):
            if time.perf_counter() > deadline:
                break
            time.sleep(0.005)
        else:
            if player.state == "playing":
                self.timings["to_first_audio"] = (time.perf_counter() - self.recording_ended) * 1000
        self._print_json(prediction, plan, source)

    def detect(self, source: Path | None):
        """Record (or read) a clip and classify it, loading the model meanwhile."""
        from moodplayer.voice import profiles

        loading = self._pool.submit(self._load_model) if self._classifier is None else None
        samples, label = self._capture(source)
        ended = self.recording_ended = time.perf_counter()
        if loading is not None:
            self._classifier, self.voice = loading.result()
        prediction = self._classifier.predict(samples, *profiles.judged_by(self.voice, self._classifier))
        self.timings["to_emotion"] = (time.perf_counter() - ended) * 1000
        self.samples = samples
        self.profile_used = profiles.describe(self.voice, self._classifier)
        if not self.as_json:
            from moodplayer.ui.console import out
            from moodplayer.ui.views import prediction_panel

            out.print(prediction_panel(prediction, title=label))
        if source is None and self.use_profile:
            self._learn_voice(samples, prediction.views)
        return prediction

    def settle(self, prediction) -> str:
        """The mood to play: what was heard, unless the model is unsure and ``--if-unsure`` says otherwise."""
        from moodplayer.ui.console import warn

        if not prediction.uncertain or self.if_unsure == "play":
            return prediction.emotion
        unsure = f"not sure what I heard: {prediction.emotion}, {prediction.confidence:.0%} confidence"
        if self.if_unsure != "ask":
            warn(f"{unsure}; playing {self.if_unsure} (--if-unsure)")
            return self.if_unsure
        if self.as_json or not (sys.stdin.isatty() and sys.stdout.isatty()):
            warn(f"{unsure}; playing it anyway")
            return prediction.emotion
        return ask_mood(unsure, prediction.emotion)

    def plan(self, emotion: str, prediction, source):
        """The queue for ``emotion``; a detection is logged in the history."""
        from moodplayer import mood
        from moodplayer.demo import ensure_demo_library
        from moodplayer.music.library import Library

        with Library.open() as lib:
            ensure_demo_library(lib)
            plan = mood.plan(lib, emotion, self.strategy)
            if self.max_tracks:
                plan.tracks = plan.tracks[: self.max_tracks]
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

    def listen_again(self):
        """The "l" key: record once more and switch to the music for what is heard now."""
        prediction = self.detect(None)
        plan = self.plan(self.settle(prediction), prediction, None)
        self._show_plan(plan)
        return self._player_for(plan)

    def wrong_mood(self, emotion: str):
        """The "w" key: remember the right emotion (and the clip), play that mood instead."""
        from moodplayer.music.library import Library

        if self.history_id is not None:
            with Library.open() as lib:
                lib.set_feedback(self.history_id, emotion)
            if self.samples is not None:
                save_feedback_clip(self.samples, self.history_id, emotion)
        return self._player_for(self.plan(emotion, None, None))

    def _player_for(self, plan):
        from moodplayer.music.player import Player

        return Player(plan.tracks, aout=self.aout, name=plan.playlist), f"{plan.emotion} · {', '.join(plan.playlists)}"

    def _load_model(self):
        """The classifier (warmed up) and the voice profile for its features; libvlc imported too."""
        from moodplayer.music.player import load_vlc
        from moodplayer.voice import profiles
        from moodplayer.voice.classifier import Classifier

        classifier = Classifier.load(self.model_path)
        classifier.warm_up()
        voice = profiles.choose(self.profile_name, self.use_profile, classifier)
        load_vlc()  # import libvlc while the user speaks, not after
        return classifier, voice

    def _learn_voice(self, samples, views) -> None:
        """Fold a microphone clip into the voice profile (after judging it, so it never judges itself),
        from the features it was judged by (``views``)."""
        from moodplayer.voice import profiles
        from moodplayer.voice.audio import speech_only

        if self.voice is None:
            self.voice = profiles.new_profile(profiles.active_name(self.profile_name), self._classifier.features)
        profiles.hear(self.voice, speech_only(samples), self._classifier, views)
        profiles.save_profile(self.voice)

    def _capture(self, source: Path | None):
        if source is not None:
            from moodplayer.voice.audio import load_audio

            return load_audio(source), str(source)
        from moodplayer.ui.meter import record_with_meter

        return record_with_meter(self.seconds, device=self.device, show=not self.as_json), "microphone"

    def _show_plan(self, plan) -> None:
        from moodplayer.ui.console import out

        if not self.as_json:
            out.print(
                f"mood [bold]{plan.emotion}[/] → playlist [bold]{', '.join(plan.playlists)}[/] "
                f"({len(plan.tracks)} track{'s' if len(plan.tracks) != 1 else ''}, strategy {plan.strategy})"
            )

    def _print_json(self, prediction, plan, source) -> None:
        result = {
            "source": str(source) if source else "microphone",
            **(prediction.to_dict() if prediction else {"emotion": plan.emotion}),
            "strategy": plan.strategy,
            "playlists": plan.playlists,
            "tracks": [t.location for t in plan.tracks],
        }
        if prediction is not None:
            result["timings_ms"].update({k: round(v, 2) for k, v in self.timings.items()})
            result.update(self.profile_used)
        print(json.dumps(result), flush=True)


def ask_mood(question: str, heard: str) -> str:
    """Ask the user which mood it was; Enter keeps what was heard."""
    from rich.prompt import Prompt

    from moodplayer.emotions import EMOTIONS, parse_emotion
    from moodplayer.ui.console import err

    while True:
        answer = Prompt.ask(f"{question}. Mood to play", default=heard, console=err, show_default=True)
        try:
            return parse_emotion(answer)
        except ValueError:
            err.print(f"one of: {', '.join(EMOTIONS)}")


def save_feedback_clip(samples, history_id: int, emotion: str) -> Path:
    """Keep a corrected clip in the personal sample store, for `train --personal`."""
    from moodplayer.voice import sample_store as store

    return store.add(samples, emotion, "feedback", history_id=history_id).path
