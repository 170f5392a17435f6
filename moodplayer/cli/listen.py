"""``moodplayer listen`` and ``moodplayer demo``: voice → emotion → mood playlist → VLC, shown in the terminal.

The workflow is :class:`moodplayer.listening.Listening`; :class:`ListenView` is what it shows and asks.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import AOUT_HELP, DEVICE_HELP, MODEL_HELP, device_arg, emotion_option
from moodplayer.listening import Listening, ListeningUI, Switch
from moodplayer.mood import STRATEGIES

if TYPE_CHECKING:
    import numpy as np

    from moodplayer.mood import PlayPlan
    from moodplayer.music.player import Player
    from moodplayer.ui.meter import RecordingMeter
    from moodplayer.voice.classifier import Prediction

#: What --strategy takes, checked before anything is recorded.
Strategy = Enum("Strategy", {name: name for name in STRATEGIES}, type=str)  # type: ignore[misc]


@app.command()
def listen(
    seconds: float = typer.Option(
        6.0, "--seconds", "-s", min=1.0, max=30.0, help="Longest recording; it stops early when you stop speaking."
    ),
    file: Path | None = typer.Option(None, "--file", "-f", help="Classify this audio file instead of recording."),
    no_play: bool = typer.Option(False, "--no-play", help="Only show the emotion and the playlist; play nothing."),
    strategy: Strategy = typer.Option(
        Strategy("match"),
        "--strategy",
        envvar="MOODPLAYER_STRATEGY",
        case_sensitive=False,
        help="match: music that fits the mood; uplift: then move toward happier moods.",
    ),
    mood: str | None = typer.Option(None, "--mood", callback=emotion_option, help="Skip detection and play this mood."),
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
    listening = Listening(
        ListenView(as_json),
        model=model,
        aout=aout,
        profile=profile,
        use_profile=not no_profile,
        if_unsure=_unsure_policy(if_unsure),
        strategy=strategy.value,
        device=device_arg(device),
        seconds=seconds,
    )
    listening.run(source=file, mood=mood, play=not no_play)


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

    listening = Listening(ListenView(as_json=False), aout=aout, use_profile=False, if_unsure="play", max_tracks=1)
    listening.run(source=SAMPLE_VOICE)


class ListenView(ListeningUI):
    """The terminal's side of listening: the recording meter, the verdict panel, the mood question,
    the player view; with ``--json``, one JSON object on stdout and the rest on stderr.

    In the player view, "w" (wrong mood) stores the right emotion as feedback,
    keeps the clip for personal training and switches the music; "l" listens again.
    """

    def __init__(self, as_json: bool):
        self.as_json = as_json
        self.reports = as_json
        self.recording: RecordingMeter | None = None

    @contextlib.contextmanager
    def meter(self, seconds: float) -> Iterator[Callable[[np.ndarray, int], None] | None]:
        from moodplayer.ui.meter import RecordingMeter

        with RecordingMeter(seconds, enabled=not self.as_json) as meter:
            self.recording = meter
            try:
                yield meter.update
            finally:
                self.recording = None

    def show_early_verdict(self, prediction: Prediction) -> None:
        """The emotion heard so far, in the recording meter (while it shows)."""
        if self.recording is not None:
            self.recording.show_heard(f"{prediction.emotion} ({prediction.confidence:.0%})")

    def show_verdict(self, prediction: Prediction, source: str) -> None:
        from moodplayer.ui.console import out
        from moodplayer.ui.views import prediction_panel

        if not self.as_json:
            out.print(prediction_panel(prediction, title=source))

    def ask_mood(self, question: str, heard: str) -> str | None:
        """Which mood it was, asked at a terminal (Enter keeps what was heard); None with --json or piped."""
        from rich.prompt import Prompt

        from moodplayer.emotions import EMOTIONS, parse_emotion
        from moodplayer.ui.console import err

        if self.as_json or not (sys.stdin.isatty() and sys.stdout.isatty()):
            return None
        while True:
            answer = Prompt.ask(f"{question}. Mood to play", default=heard, console=err, show_default=True)
            try:
                return parse_emotion(answer)
            except ValueError:
                err.print(f"one of: {', '.join(EMOTIONS)}")

    def show_plan(self, plan: PlayPlan, playing: int) -> None:
        from moodplayer.ui.console import out
        from moodplayer.ui.views import count

        tracks = count(playing, "track") + (f" of its {len(plan.tracks)}" if playing < len(plan.tracks) else "")
        if not self.as_json:
            out.print(
                f"mood [bold]{plan.emotion}[/] → playlist [bold]{', '.join(plan.playlists)}[/] "
                f"({tracks}, strategy {plan.strategy})"
            )

    def report(self, result: dict) -> None:
        if self.as_json:
            print(json.dumps(result), flush=True)

    def show_player(
        self,
        player: Player,
        title: str,
        listen_again: Callable[[], Switch | None],
        wrong_mood: Callable[[str], Switch],
    ) -> None:
        from moodplayer.ui.tui import run_now_playing

        # With --json, stdout holds the JSON alone: the view's lines go to stderr.
        with contextlib.redirect_stdout(sys.stderr) if self.as_json else contextlib.nullcontext():
            run_now_playing(player, title=title, on_listen_again=listen_again, on_wrong_mood=wrong_mood)
