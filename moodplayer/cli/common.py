"""What several command modules share: option help texts, argument conversions and the
stderr messages every command prints the same way."""

from __future__ import annotations

JSON_HELP = "Print JSON only."
DEVICE_HELP = "Input device (index or name; see `moodplayer devices`)."
MODEL_HELP = "Model file (default: the version in force; see `moodplayer model list`)."
AOUT_HELP = "VLC audio output (e.g. pulse, alsa, dummy)."
SPEAKER_PATTERN_HELP = "Regex on file names whose first group is the speaker (folder-per-label trees)."
SAMPLE_ID_HELP = "The sample's ID (see `moodplayer samples list`)."
EMOTIONS_HELP = "neutral, calm, happy, sad, angry, fearful, disgust or surprised"


def emotion_option(value: str | None) -> str | None:
    """An ``--emotion`` as one of the eight labels, checked as the command line is read, before any work."""
    import typer

    from moodplayer.emotions import parse_emotion

    if value is None:
        return None
    try:
        return parse_emotion(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def device_arg(device: str | None) -> int | str | None:
    """sounddevice takes an index as int, a name as str."""
    if device is None:
        return None
    return int(device) if device.isdigit() else device


def say(message: str) -> None:
    """A message on stderr, with rich markup."""
    from moodplayer.ui.console import err

    err.print(message)


def say_verbatim(message: str) -> None:
    """A message on stderr, printed as is (names and paths may hold ``[brackets]``), control characters escaped."""
    from moodplayer.text import shown
    from moodplayer.ui.console import err

    err.print(shown(message), markup=False, soft_wrap=True)


def markup_safe(value: object) -> str:
    """User data (tags, names, paths) made safe to put in rich markup (``console.safe``)."""
    from moodplayer.ui.console import safe

    return safe(value) if value else ""


def print_json(value: object) -> None:
    """One JSON document on stdout in UTF-8; the bytes of a file name that is not UTF-8 kept as
    ``\\udcXX`` escapes, which Python reads back (``surrogateescape``) as the same name."""
    import json
    import re

    text = json.dumps(value, ensure_ascii=False)
    print(re.sub("[\udc80-\udcff]", lambda m: f"\\u{ord(m.group()):04x}", text), flush=True)


def open_library():
    """The music library, opened for a ``with`` block."""
    from moodplayer.music.library import Library

    return Library.open()
