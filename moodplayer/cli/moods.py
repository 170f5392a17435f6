"""``moodplayer moods``: which playlists each mood plays, and each mood's valence/arousal point."""

from __future__ import annotations

import typer

from moodplayer.cli.app import app
from moodplayer.cli.common import JSON_HELP, open_library, print_json


@app.command("moods")
def moods(
    set_: tuple[str, str] | None = typer.Option(
        None, "--set", metavar="EMOTION PLAYLIST", help="Make EMOTION play PLAYLIST (only it)."
    ),
    add_: tuple[str, str] | None = typer.Option(
        None, "--add", metavar="EMOTION PLAYLIST", help="Also play PLAYLIST for EMOTION."
    ),
    clear: str | None = typer.Option(None, "--clear", metavar="EMOTION", help="Map EMOTION to nothing."),
    point: tuple[str, float, float] | None = typer.Option(
        None, "--point", metavar="EMOTION VALENCE AROUSAL", help="Move EMOTION's point (each in -1..1)."
    ),
    reset_point: str | None = typer.Option(
        None, "--reset-point", metavar="EMOTION", help="Put EMOTION's point back at its default."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show (and with options, change) which playlists each mood plays.

    Each mood also has a point on the valence/arousal plane (by default its
    place on Russell's circumplex) that `library autoplaylists` fills its
    playlist from: the tracks whose estimated valence/arousal lie closest.
    """
    with open_library() as lib:
        if reset_point:
            lib.set_mood_point(reset_point, None)
        if point:
            lib.set_mood_point(*point)
        if clear:
            lib.unmap_mood(clear)
        if set_:
            lib.set_mood_playlists(set_[0], [set_[1]])
        if add_:
            lib.map_mood(*add_)
        mapping, points = lib.mood_map(), lib.mood_points()
    _print_moods(mapping, points, as_json)


def _print_moods(mapping: dict, points: dict, as_json: bool) -> None:
    from moodplayer.emotions import EMOTIONS
    from moodplayer.ui.console import out
    from moodplayer.ui.views import mood_table

    if as_json:
        rows = {
            e: {"playlists": mapping.get(e, []), "valence": points[e][0], "arousal": points[e][1]} for e in EMOTIONS
        }
        print_json(rows)
        return
    out.print(mood_table(mapping, points))
