"""``moodplayer record`` and ``moodplayer samples …``: the user's own voice clips.

Recording and the feedback of ``listen`` fill one sample store
(:mod:`moodplayer.voice.sample_store`), which ``train --personal`` adapts the
model in force to.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import (
    AOUT_HELP,
    DEVICE_HELP,
    EMOTIONS_HELP,
    JSON_HELP,
    SAMPLE_ID_HELP,
    device_arg,
    emotion_option,
    markup_safe,
    say,
    say_verbatim,
)

samples_app = typer.Typer(help="Add, list, play and delete your voice samples.", no_args_is_help=True)
app.add_typer(samples_app, name="samples")

#: Short, emotionally neutral sentences (RAVDESS's two, and more like them) to read in the asked emotion.
PROMPTS = (
    "Kids are talking by the door.",
    "Dogs are sitting by the door.",
    "The train leaves at seven tonight.",
    "I put the keys on the table.",
    "The meeting moved to Thursday.",
    "There is a letter in the box.",
    "We walked along the river.",
    "The shop closes at six.",
    "She painted the fence blue.",
    "My phone is in the other room.",
)
#: Recordings in a row with no speech before ``record`` gives up.
MAX_SILENT_TRIES = 3


@app.command()
def record(
    emotion: str = typer.Option(
        ..., "--emotion", "-e", callback=emotion_option, help=f"The emotion to speak in: {EMOTIONS_HELP}."
    ),
    count: int = typer.Option(5, "--count", "-n", min=1, max=100, help="How many clips to record."),
    seconds: float = typer.Option(
        6.0, "--seconds", "-s", min=1.0, max=30.0, help="Longest clip; it stops early when you stop speaking."
    ),
    device: str | None = typer.Option(None, "--device", "-d", help=DEVICE_HELP),
) -> None:
    """Record your voice reading short sentences in one emotion, for `train --personal`.

    Each clip is kept as soon as it is recorded: Ctrl-C stops, keeping the clips
    already saved. A recording with no speech in it is asked for again. The
    microphone is checked before the first sentence is shown.
    """
    from moodplayer.ui.views import count as counted
    from moodplayer.voice import sample_store as store
    from moodplayer.voice.capture import check_input

    check_input(device_arg(device))
    first = len(store.all_samples())  # vary the sentences from one run of `record` to the next
    saved = 0
    try:
        while saved < count:
            sentence = PROMPTS[(first + saved) % len(PROMPTS)]
            sample = _record_one(emotion, sentence, f"{saved + 1}/{count}", seconds, device)
            saved += 1
            say(f"saved sample {sample.id} ({sample.emotion}, {sample.duration:.1f} s)")
    finally:
        if saved < count:
            say(f"kept the {counted(saved, 'clip')} recorded before stopping")
    say(f"{counted(count, emotion + ' clip')} saved; see them with: moodplayer samples list")


def _record_one(emotion: str, sentence: str, progress: str, seconds: float, device: str | None):
    """Prompt, record and store one clip, asking again while no speech is heard."""
    from moodplayer.errors import NoSpeechError
    from moodplayer.ui.meter import record_with_meter
    from moodplayer.voice import sample_store as store

    for _ in range(MAX_SILENT_TRIES):
        say(f"[{progress}] say, sounding [bold]{emotion}[/]:  “{sentence}”")
        _wait_until_ready()
        clip = record_with_meter(seconds, device=device_arg(device))
        try:
            return store.add(clip, emotion, "recorded", prompt=sentence)
        except NoSpeechError:
            say("no speech heard; let's try that one again (speak up, or move closer to the microphone)")
    raise NoSpeechError(
        f"no speech heard in {MAX_SILENT_TRIES} recordings in a row; check the microphone (moodplayer devices)"
    )


def _wait_until_ready() -> None:
    """At a terminal, recording starts when the user presses Enter; piped, it starts at once."""
    import sys

    from moodplayer.ui.console import err

    if sys.stdin.isatty():
        err.input("  press Enter, then speak… ")


@samples_app.command("add")
def samples_add(
    files: list[Path] = typer.Argument(
        ...,
        metavar="FILE",
        help="Recordings you already have: voice memos, a phone's clips (any format detect reads).",
    ),
    emotion: str = typer.Option(
        ..., "--emotion", "-e", callback=emotion_option, help=f"The emotion spoken in them: {EMOTIONS_HELP}."
    ),
) -> None:
    """Add recordings you already have to your voice samples, for `train --personal`.

    Each is checked as a recorded clip is: readable audio with speech in it,
    at most 30 s of speech, kept trimmed to it. A file that fails is reported
    and the others are still added; the exit status is then 1.
    """
    from moodplayer.errors import MoodplayerError
    from moodplayer.ui.console import fail
    from moodplayer.voice import sample_store as store

    failures = 0
    for path in files:
        try:
            sample = store.add_file(path, emotion)
        except MoodplayerError as exc:
            fail(str(exc))
            failures += 1
            continue
        say_verbatim(f"added sample {sample.id} ({sample.emotion}, {sample.duration:.1f} s of speech) from {path}")
    if failures:
        raise typer.Exit(1)


@samples_app.command("list")
def samples_list(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Your voice samples: ID, emotion, where each came from, length and date."""
    from collections import Counter

    from rich.table import Table

    from moodplayer.ui.console import out
    from moodplayer.ui.views import count, local_time
    from moodplayer.voice import sample_store as store

    found = store.all_samples()
    if as_json:
        print(json.dumps([s.to_dict() for s in found]))
        return
    if not found:
        say(
            "no voice samples yet: record some with `moodplayer record --emotion happy`, "
            "or add recordings you have with `moodplayer samples add FILE... --emotion happy`"
        )
        return
    table = Table("id", "emotion", "source", "seconds", "recorded")
    for s in found:
        emotion, source = markup_safe(s.emotion), markup_safe(s.source)
        table.add_row(str(s.id), emotion, source, f"{s.duration:.1f}", local_time(s.created))
    out.print(table)
    counts = Counter(s.emotion for s in found)
    out.print(f"{count(len(found), 'clip')}: " + ", ".join(f"{e} {n}" for e, n in sorted(counts.items())))


@samples_app.command("play")
def samples_play(
    sample_id: int = typer.Argument(..., help=SAMPLE_ID_HELP),
    aout: str | None = typer.Option(None, "--aout", help=AOUT_HELP),
) -> None:
    """Play one of your voice samples."""
    from moodplayer.music.player import Player
    from moodplayer.music.track import Track
    from moodplayer.ui.tui import run_now_playing
    from moodplayer.voice import sample_store as store

    sample = store.get(sample_id)
    title = f"sample {sample.id} ({sample.emotion})"
    player = Player([Track(str(sample.path), title=title, duration=sample.duration)], aout=aout, name=title)
    run_now_playing(player, title=title)


@samples_app.command("delete")
def samples_delete(
    sample_id: int = typer.Argument(..., help=SAMPLE_ID_HELP),
) -> None:
    """Delete one of your voice samples."""
    from moodplayer.voice import sample_store as store

    sample = store.delete(sample_id)
    say(f"deleted sample {sample.id} ({sample.emotion})")
