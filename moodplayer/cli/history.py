"""``moodplayer history``: every detection, what it played, and the user's corrections."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from moodplayer.cli.app import app


@app.command()
def history(
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1_000_000, help="How many of the latest detections."),
    as_json: bool = typer.Option(False, "--json", help="Print the detections as a JSON list."),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw valence and arousal over time to this PNG."),
) -> None:
    """Show the latest detections: when, which emotion, which strategy and playlist, any feedback."""
    from moodplayer.music.library import Library
    from moodplayer.ui.console import out
    from moodplayer.ui.views import history_table

    with Library.open() as lib:
        rows = lib.history(limit)
    if plot is not None:
        draw_timeline(list(reversed(rows)), plot)
    if as_json:
        print(json.dumps(rows), flush=True)
        return
    if not rows:
        out.print("no detections yet: try `moodplayer listen`")
        return
    out.print(history_table(rows, out.width))
    if plot is not None:
        out.print(f"timeline written to {plot}")


def draw_timeline(rows: list[dict], target: Path) -> None:
    """Valence and arousal of each detection in time order, labelled with its emotion."""
    from moodplayer.errors import MoodplayerError
    from moodplayer.ui.views import save_figure, timeline_figure

    if not rows:
        raise MoodplayerError("no detections yet: nothing to plot")
    save_figure(timeline_figure(rows), target)
