"""``moodplayer listen`` and ``moodplayer demo``: voice → emotion → mood playlist → VLC."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import typer

from moodplayer.cli.app import app


@app.command()
def listen(
    seconds: float = typer.Option(6.0, "--seconds", "-s", min=1.0, max=30.0, help="Longest recording; it stops early when you stop speaking."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Classify this audio file instead of recording."),
    no_play: bool = typer.Option(False, "--no-play", help="Only show the emotion and the playlist; play nothing."),
    strategy: str = typer.Option("match", "--strategy", help="match: music that fits the mood; uplift: then move toward happier moods."),
    mood: Optional[str] = typer.Option(None, "--mood", help="Skip detection and play this mood."),
    device: Optional[str] = typer.Option(None, "--device", "-d", help="Input device (index or name; see `moodplayer devices`)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model file (default: the shipped one)."),
    aout: Optional[str] = typer.Option(None, "--aout", help="VLC audio output (e.g. pulse, alsa, dummy)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (emotion, playlist, timings) instead of the views."),
) -> None:
    """Listen to your voice, recognise the emotion, and play music that fits."""
    Session(model=model, aout=aout, as_json=as_json).run(
        source=file, seconds=seconds, device=device, mood=mood, strategy=strategy, play=not no_play
    )


@app.command()
def demo(
    aout: Optional[str] = typer.Option(None, "--aout", help="VLC audio output (default: the sound card, else silent)."),
) -> None:
    """Run the whole chain on the bundled sample voice and demo music, no microphone needed."""
    from moodplayer.demo import SAMPLE_VOICE

    Session(model=None, aout=aout, as_json=False, max_tracks=1).run(
        source=SAMPLE_VOICE, seconds=0, device=None, mood=None, strategy="match", play=True
    )


class Session:
    """One listen: get audio, classify it, plan the music, record it in history, play.

    The model and libvlc load in a background thread while the user speaks, so
    the emotion appears right after the recording ends.
    """

    def __init__(self, model: Optional[Path], aout: Optional[str], as_json: bool, max_tracks: int | None = None):
        self.model_path = model
        self.aout = aout
        self.as_json = as_json
        self.max_tracks = max_tracks
        self.timings: dict[str, float] = {}

    def run(self, source: Optional[Path], seconds: float, device, mood: Optional[str], strategy: str, play: bool) -> None:
        from moodplayer.emotions import parse_emotion

        if mood is not None:
            try:
                mood = parse_emotion(mood)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--mood") from None
        with ThreadPoolExecutor(max_workers=1) as pool:
            loading = pool.submit(self._load_model) if mood is None else None
            prediction = None
            if loading is not None:
                samples, label = self._capture(source, seconds, device)
                ended = time.perf_counter()
                prediction = loading.result().predict(samples)
                self.timings["to_emotion"] = (time.perf_counter() - ended) * 1000
                self._show_prediction(prediction, label)
            emotion = mood or prediction.emotion
            plan, history_id = self._plan(emotion, strategy, prediction, source)
            if self.as_json:
                self._print_json(prediction, plan, source)
            else:
                self._show_plan(plan)
            if play:
                self._play(plan, history_id)

    def _load_model(self):
        from moodplayer.classifier import Classifier

        classifier = Classifier.load(self.model_path)
        import vlc  # noqa: F401  (warm the libvlc import while the user speaks)

        return classifier

    def _capture(self, source: Optional[Path], seconds: float, device):
        if source is not None:
            from moodplayer.audio import load_audio

            return load_audio(source), str(source)
        from moodplayer.record import record_voice

        return record_voice(seconds, device=_device_arg(device), show_meter=not self.as_json), "microphone"

    def _show_prediction(self, prediction, label: str) -> None:
        if not self.as_json:
            from moodplayer.console import out
            from moodplayer.ui import prediction_panel

            out.print(prediction_panel(prediction, title=label))

    def _plan(self, emotion: str, strategy: str, prediction, source):
        from moodplayer import mood
        from moodplayer.demo import ensure_demo_library
        from moodplayer.library import Library

        with Library.open() as lib:
            ensure_demo_library(lib)
            plan = mood.plan(lib, emotion, strategy)
            if self.max_tracks:
                plan.tracks = plan.tracks[: self.max_tracks]
            history_id = None
            if prediction is not None:
                history_id = lib.record_detection(
                    emotion=prediction.emotion,
                    probabilities=prediction.probabilities,
                    valence=prediction.valence,
                    arousal=prediction.arousal,
                    strategy=strategy,
                    playlist=plan.playlist,
                    source=str(source) if source else "microphone",
                )
        return plan, history_id

    def _show_plan(self, plan) -> None:
        from moodplayer.console import out

        out.print(
            f"mood [bold]{plan.emotion}[/] → playlist [bold]{', '.join(plan.playlists)}[/] "
            f"({len(plan.tracks)} tracks, strategy {plan.strategy})"
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
            result["timings_ms"] = {**prediction.timings_ms, **{k: round(v, 2) for k, v in self.timings.items()}}
        print(json.dumps(result), flush=True)

    def _play(self, plan, history_id) -> None:
        from moodplayer.player import Player
        from moodplayer.tui import run_now_playing

        player = Player(plan.tracks, aout=self.aout)
        run_now_playing(player, title=f"{plan.emotion} · {plan.playlist}")


def _device_arg(device: Optional[str]):
    """sounddevice takes an index as int, a name as str."""
    if device is None:
        return None
    return int(device) if device.isdigit() else device
