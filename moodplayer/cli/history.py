"""``moodplayer history``: every detection, what it played, and the user's corrections."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from moodplayer.cli.app import app


@app.command()
def history(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many of the latest detections."),
    as_json: bool = typer.Option(False, "--json", help="Print the detections as a JSON list."),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw valence and arousal over time to this PNG."),
) -> None:
    """Show the latest detections: when, which emotion, which strategy and playlist, any feedback."""
    from moodplayer.music.library import Library
    from moodplayer.ui.console import out

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
    out.print(history_table(rows))
    if plot is not None:
        out.print(f"timeline written to {plot}")


def history_table(rows: list[dict]):
    from rich.table import Table

    from moodplayer.ui.views import EMOTION_STYLE

    table = Table(header_style="bold")
    for column in ("when", "emotion", "conf.", "valence", "arousal", "strategy", "playlist", "feedback"):
        table.add_column(column, justify="right" if column in ("conf.", "valence", "arousal") else "left")
    for row in rows:
        confidence = max(row["probabilities"].values(), default=0.0)
        table.add_row(
            row["at"].replace("T", " ")[:19],
            f"[{EMOTION_STYLE.get(row['emotion'], '')}]{row['emotion']}[/]",
            f"{confidence:.0%}",
            _signed(row["valence"]),
            _signed(row["arousal"]),
            row["strategy"] or "",
            row["playlist"] or "",
            f"was {row['feedback']}" if row.get("feedback") else "",
        )
    return table


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def draw_timeline(rows: list[dict], target: Path) -> None:
    """Valence and arousal of each detection in time order, labelled with its emotion."""
    from moodplayer.errors import MoodplayerError
    from moodplayer.ui.views import new_figure, save_figure

    if not rows:
        raise MoodplayerError("no detections yet: nothing to plot")
    steps = range(1, len(rows) + 1)
    fig, ax = new_figure()
    ax.plot(steps, [r["valence"] for r in rows], marker="o", label="valence")
    ax.plot(steps, [r["arousal"] for r in rows], marker="s", label="arousal")
    for step, row in zip(steps, rows):
        ax.annotate(
            row["emotion"], (step, row["valence"]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8
        )
    ax.set_ylim(-1.1, 1.1)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("detection (oldest → newest)")
    ax.legend(loc="lower right")
    save_figure(fig, target)
