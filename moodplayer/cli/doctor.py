"""``moodplayer doctor``: is everything moodplayer needs here, and how to fix what is not."""

from __future__ import annotations

import json
import shutil
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
    """Run one probe; any failure it did not foresee is still a failed check, not a crash."""
    from moodplayer.errors import MoodplayerError

    try:
        return probe()
    except MoodplayerError as exc:
        return Check(name, False, str(exc), FIXES.get(name, ""))
    except Exception as exc:  # a probe must never take the whole report down
        return Check(name, False, f"{type(exc).__name__}: {exc}", FIXES.get(name, ""))


def check_vlc() -> Check:
    from moodplayer.music.player import audio_output_available, load_vlc

    vlc = load_vlc()
    version = vlc.libvlc_get_version().decode()
    output = "sound output found" if audio_output_available() else "no sound output: music plays silently"
    return Check("libvlc", True, f"libvlc {version}; {output}")


def check_microphone() -> Check:
    from moodplayer.voice.capture import list_input_devices

    devices = list_input_devices()
    if not devices:
        return Check("microphone", False, "PortAudio works but sees no input device", FIXES["microphone"])
    default = next((d["name"] for d in devices if d["default"]), devices[0]["name"])
    return Check("microphone", True, f"{len(devices)} input device(s); default: {default}")


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

    with Library.open() as lib:
        count = len(lib.playlists())
    return Check("database", True, f"{database_path()} ({count} playlists)")


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

FIXES = {
    "libvlc": "sudo apt-get install libvlc5 vlc-plugin-base",
    "microphone": "sudo apt-get install libportaudio2; plug in a microphone or check `pactl list sources`",
    "model": "reinstall the shipped model (git checkout models/) or train one: moodplayer train DATA_DIR",
    "database": "another moodplayer may hold it; a damaged file can be moved aside and a new one is created",
    "ffmpeg": "sudo apt-get install ffmpeg",
}


def show(checks: list[Check]) -> None:
    from rich.table import Table

    from moodplayer.ui.console import out

    table = Table(show_header=True, header_style="bold", box=None)
    for column in ("", "check", "status", "how to fix"):
        table.add_column(column)
    for c in checks:
        table.add_row("[green]✓[/]" if c.ok else "[red]✗[/]", c.name, c.detail, "" if c.ok else c.fix)
    out.print(table)
