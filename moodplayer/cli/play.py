"""``moodplayer play`` (a mood's or a playlist's music) and ``moodplayer devices`` (microphones)."""

from __future__ import annotations

import json

import typer

from moodplayer.cli.app import app


@app.command()
def play(
    name: str = typer.Argument(..., metavar="MOOD_OR_PLAYLIST", help="A mood (happy, sad, …) or a playlist name."),
    aout: str | None = typer.Option(
        None, "--aout", help="VLC audio output (pulse, alsa, dummy…; default: the sound card, else silent)."
    ),
    volume: int = typer.Option(80, "--volume", min=0, max=100, help="Starting volume, 0–100."),
) -> None:
    """Play a mood's playlist or a named playlist.

    In a terminal: space pause, n/b next/previous, +/- volume, ←/→ seek 5 s,
    s shuffle, r repeat, q quit. Piped: one line per track, until the end.
    """
    from moodplayer.demo import ensure_demo_library
    from moodplayer.music.library import Library
    from moodplayer.music.player import Player
    from moodplayer.ui.tui import run_now_playing

    with Library.open() as lib:
        if not lib.playlists():
            ensure_demo_library(lib)  # a fresh install plays the demo music for each mood
        playlist = lib.resolve(name)
        tracks = lib.tracks(playlist)
    player = Player(tracks, aout=aout, volume=volume, name=str(playlist))
    run_now_playing(player, title=f"playlist {playlist}" if playlist == name else f"{name} · {playlist}")


@app.command()
def devices(
    as_json: bool = typer.Option(False, "--json", help="Print the devices as a JSON list."),
) -> None:
    """List the audio input devices (microphones); use the index or name with `listen --device`."""
    from moodplayer.ui.console import out
    from moodplayer.voice.capture import list_input_devices

    found = list_input_devices()
    if as_json:
        print(json.dumps(found), flush=True)
        return
    if not found:
        out.print("no input devices found")
        return
    for device in found:
        mark = "*" if device["default"] else " "
        out.print(
            f"{mark} {device['index']:>2}  {device['name']}  ({device['hostapi']}, "
            f"{device['channels']} ch, {device['default_samplerate']:.0f} Hz)",
            markup=False,
        )
