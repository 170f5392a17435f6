"""``moodplayer doctor``: is everything moodplayer needs here, and how to fix what is not."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

import typer

from moodplayer.cli.app import app


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@app.command()
def doctor(as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON.")) -> None:
    """Check libvlc, PortAudio and microphones, the model, the database and ffmpeg."""
    checks = [run_check(name, probe) for name, probe in PROBES]
    if as_json:
        print(json.dumps([asdict(c) for c in checks]), flush=True)
    else:
        show(checks)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def run_check(name: str, probe: Callable[[], Check]) -> Check:
    """Run one probe; a failure it raised is a failed check with that part's fix, never a crash."""
    import logging

    from moodplayer.errors import MoodplayerError

    try:
        return probe()
    except MoodplayerError as exc:
        return Check(name, False, str(exc), FIXES[name])
    except Exception as exc:  # a probe must never take the whole report down
        logging.getLogger(__name__).debug("the %s check failed", name, exc_info=True)
        return Check(name, False, f"the check itself failed ({exc})", FIXES[name])


def check_vlc() -> Check:
    from moodplayer.music.player import audio_output_available, load_vlc

    vlc = load_vlc()
    version = vlc.libvlc_get_version().decode()
    if audio_output_available():
        return Check("libvlc", True, f"libvlc {version}; sound output found")
    return Check("libvlc", True, f"libvlc {version}; no sound server or card, so music plays silently")


def check_microphone() -> Check:
    from moodplayer.ui.views import count
    from moodplayer.voice.capture import list_input_devices

    devices = list_input_devices()
    if not devices:
        return Check("microphone", False, "PortAudio works but sees no input device", NO_INPUT_FIX)
    default = next((d["name"] for d in devices if d["default"]), devices[0]["name"])
    return Check("microphone", True, f"{count(len(devices), 'input device')}; default: {default}")


def check_model() -> Check:
    from moodplayer.voice.classifier import Classifier

    classifier = Classifier.load()
    cv = classifier.metadata.get("cross_validation") or {}
    score = (
        f"{cv['accuracy_mean']:.1%} accuracy in speaker cross-validation"
        if "accuracy_mean" in cv
        else "no scores recorded"
    )
    return Check("model", True, f"{classifier.metadata.get('parameters', '?'):,} parameters; {score}")


def check_database() -> Check:
    from moodplayer.music.library import Library
    from moodplayer.paths import database_path
    from moodplayer.ui.views import count

    with Library.open() as lib:
        return Check("database", True, f"{database_path()} ({count(len(lib.playlists()), 'playlist')})")


def check_ffmpeg() -> Check:
    if shutil.which("ffmpeg"):
        return Check("ffmpeg", True, "found: m4a, wma, ape and other formats decode")
    return Check("ffmpeg", False, "not found: only wav, flac, ogg, opus, aiff and mp3 can be read", FIXES["ffmpeg"])


PROBES: list[tuple[str, Callable[[], Check]]] = [
    ("libvlc", check_vlc),
    ("microphone", check_microphone),
    ("model", check_model),
    ("database", check_database),
    ("ffmpeg", check_ffmpeg),
]

_INSTALL = "brew install" if sys.platform == "darwin" else "sudo apt-get install"
#: What to do when a check fails: the package to install or the setting to change.
FIXES = {
    "libvlc": f"install VLC's library: {_INSTALL} "
    + ("--cask vlc" if sys.platform == "darwin" else "libvlc5 vlc-plugin-base")
    + "; or set PYTHON_VLC_LIB_PATH to the libvlc file",
    "microphone": f"install PortAudio: {_INSTALL} " + ("portaudio" if sys.platform == "darwin" else "libportaudio2"),
    "model": "put the shipped model back in force: moodplayer model use shipped (or reinstall moodplayer)",
    "database": "close any other moodplayer; if the file is damaged, move it aside and a new one is made",
    "ffmpeg": f"install ffmpeg: {_INSTALL} ffmpeg",
}
NO_INPUT_FIX = (
    "plug in a microphone; if one is in, check the sound settings (pactl list sources) "
    "and that your user may record (the audio group)"
)


def show(checks: list[Check]) -> None:
    """One line per check, and under a failed one what to do about it; fits 80 columns."""
    from rich.table import Table
    from rich.text import Text

    from moodplayer.ui.console import out

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # a long path folds onto the next line, never cut
    for c in checks:
        said = Text(c.detail)
        if not c.ok:
            said.append_text(Text.assemble("\n", ("fix: ", "bold"), c.fix))
        table.add_row(Text("✓", "green") if c.ok else Text("✗", "red"), c.name, said)
    out.print(table)
