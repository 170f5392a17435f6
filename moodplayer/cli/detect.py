"""``moodplayer detect``: the emotion in each of some audio files."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import MODEL_HELP


@app.command()
def detect(
    files: list[Path] = typer.Argument(..., help="Audio files (wav, flac, ogg, mp3, m4a, …)."),
    model: Path | None = typer.Option(None, "--model", help=MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file, one per line."),
    profile: str | None = typer.Option(
        None, "--profile", "-p", help="Voice profile to normalise with (default: $MOODPLAYER_PROFILE or 'default')."
    ),
    no_profile: bool = typer.Option(
        False, "--no-profile", help="Judge every file against the average voice (cold start)."
    ),
) -> None:
    """Recognise the emotion in each FILE.

    A file that cannot be read, or holds no speech, is reported on stderr and
    makes the exit status 1; the other files are still classified. With a
    voice profile (see `moodplayer voice`), each file is judged against that
    voice's usual sound. Each detection is logged (see `moodplayer history`).
    """
    from moodplayer.errors import AudioError
    from moodplayer.ui.console import err, fail, out
    from moodplayer.ui.views import prediction_panel
    from moodplayer.voice import profiles
    from moodplayer.voice.classifier import Classifier, read_clip

    classifier = voice = None
    used: dict = {}
    failures = 0
    for path in files:
        try:
            clip = read_clip(path)  # before the model loads (seconds): a file that is not audio is refused at once
            if classifier is None:
                classifier = Classifier.load(model)
                voice = profiles.choose(profile, not no_profile, classifier)
                used = profiles.describe(voice, classifier)
                if used["profile"] and not as_json:
                    err.print(
                        f"using voice profile '{used['profile']}' ({used['profile_seconds']:.1f} s of speech, "
                        f"trusted {used['profile_trust']:.0%})"
                    )
            result = classifier.predict_clip(clip, *profiles.judged_by(voice, classifier))
        except AudioError as exc:
            fail(str(exc))
            failures += 1
            continue
        log_detection(result, path)
        if as_json:
            print(json.dumps({"file": str(path), **result.to_dict(), **used}), flush=True)
        else:
            out.print(prediction_panel(result, title=str(path)))
    if failures:
        raise typer.Exit(1)


def log_detection(prediction, path: Path) -> None:
    """Add a detection to the history, under the file it came from.

    A library that cannot take it (locked, damaged) costs a warning, not the
    result: the emotion is still shown.
    """
    from moodplayer.errors import LibraryError
    from moodplayer.music.library import Library
    from moodplayer.ui.console import warn

    try:
        with Library.open() as lib:
            lib.record_detection(
                emotion=prediction.emotion,
                probabilities=prediction.probabilities,
                valence=prediction.valence,
                arousal=prediction.arousal,
                strategy=None,
                playlist=None,
                source=str(path.resolve()),
            )
    except LibraryError as exc:
        warn(f"not kept in the history: {exc}")
