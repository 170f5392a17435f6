"""Rich views of results: a prediction as a panel with a probability bar chart; the moods' playlists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from moodplayer.text import count as count  # the views' counts, also the CLI's
from moodplayer.text import shown
from moodplayer.ui.console import safe

if TYPE_CHECKING:
    from moodplayer.voice.classifier import Prediction

EMOTION_STYLE = {
    "neutral": "white",
    "calm": "cyan",
    "happy": "yellow",
    "sad": "blue",
    "angry": "red",
    "fearful": "magenta",
    "disgust": "green",
    "surprised": "bright_yellow",
}
BAR_WIDTH = 30


def clock(seconds: float | None) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration; ``-:--`` when unknown."""
    if seconds is None:
        return "-:--"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def probability_bars(probabilities: dict[str, float]) -> Table:
    """One row per emotion, most likely first, with a bar scaled to its probability."""
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right")
    table.add_column()
    table.add_column(justify="right")
    for emotion, p in sorted(probabilities.items(), key=lambda item: -item[1]):
        bar = "█" * round(p * BAR_WIDTH)
        table.add_row(emotion, Text(bar.ljust(BAR_WIDTH, "·"), style=EMOTION_STYLE.get(emotion, "")), f"{p:6.1%}")
    return table


def prediction_panel(prediction: Prediction, title: str = "") -> Panel:
    """The emotion heard, how sure the model is, and where it sits on the circumplex."""
    style = EMOTION_STYLE.get(prediction.emotion, "")
    headline = Text.assemble(
        ("heard: ", "bold"),
        (prediction.emotion, f"bold {style}"),
        f"  confidence {prediction.confidence:.0%}",
        ("  (uncertain)" if prediction.uncertain else "", "dim italic"),
        f"\nvalence {prediction.valence:+.2f}  arousal {prediction.arousal:+.2f}",
    )
    table = Table.grid()
    table.add_row(headline)
    table.add_row(Text(""))
    table.add_row(probability_bars(prediction.probabilities))
    return Panel(table, title=safe(title) or None, title_align="left", expand=False)


def mood_table(mapping: dict[str, list[str]], points: dict[str, tuple[float, float]]) -> Table:
    """Each mood's valence/arousal point and the playlists it plays (names escaped: they are the user's)."""
    from moodplayer.emotions import EMOTIONS

    table = Table("mood", "valence", "arousal", "playlists")
    for emotion in EMOTIONS:
        valence, arousal = points[emotion]
        playlists = ", ".join(safe(name) for name in mapping.get(emotion, [])) or "[dim]–[/]"
        table.add_row(emotion, f"{valence:+.2f}", f"{arousal:+.2f}", playlists)
    return table


def new_figure(width: float = 8.0, height: float = 3.5):
    """A matplotlib figure and axes drawn off-screen (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def save_figure(fig, target) -> None:
    """Write a figure as PNG through :func:`moodplayer.files.atomic_write` (so a full disk or an
    unwritable place is a one-line error, and a link or a device is respected); the figure is freed."""
    import io

    import matplotlib.pyplot as plt

    from moodplayer.files import atomic_write

    fig.tight_layout()
    image = io.BytesIO()
    try:
        fig.savefig(image, dpi=100, format="png")
    finally:
        plt.close(fig)
    atomic_write(target, image.getvalue(), parents=False)


def local_time(stamp: str, seconds: bool = False) -> str:
    """A stored UTC timestamp as the user's local date and time, ``2026-01-05 14:03``."""
    from datetime import datetime

    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


#: From this terminal width on, the history also shows the strategy and the seconds; from the next, the source.
HISTORY_WIDE, HISTORY_WIDER = 100, 120


def history_table(rows: list[dict], width: int) -> Table:
    """The detections, one line each, fitting ``width`` columns: dates whole, only a long playlist cut.

    80 columns hold the essentials; a wider terminal also gets the strategy,
    the seconds and where the voice came from (a file, or the microphone).
    """
    from pathlib import PurePath

    wide, wider = width >= HISTORY_WIDE, width >= HISTORY_WIDER
    table = Table(box=None, header_style="bold underline", pad_edge=False, expand=True)
    # The columns never cut (no_wrap, min_width) are as wide as their longest cell; the rest share what is left.
    table.add_column("when", min_width=19 if wide else 16, no_wrap=True)
    table.add_column("emotion", min_width=max(map(len, EMOTION_STYLE)), no_wrap=True)
    table.add_column("conf.", justify="right", min_width=5, no_wrap=True)
    table.add_column("valence", justify="right", min_width=7, no_wrap=True)
    table.add_column("arousal", justify="right", min_width=7, no_wrap=True)
    if wide:
        table.add_column("strategy", min_width=8, no_wrap=True)
    table.add_column("playlist", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("feedback", no_wrap=True)
    if wider:
        table.add_column("source", overflow="ellipsis", no_wrap=True, ratio=1)
    for row in rows:
        cells: list[str | Text] = [
            local_time(row["at"], seconds=wide),
            Text(shown(row["emotion"]), style=EMOTION_STYLE.get(row["emotion"], "")),
            f"{max(row['probabilities'].values(), default=0.0):.0%}",
            _signed(row["valence"]),
            _signed(row["arousal"]),
            *([Text(shown(row["strategy"] or ""))] if wide else []),
            Text(shown(row["playlist"] or "–")),
            Text(f"was {shown(row['feedback'])}" if row.get("feedback") else ""),
        ]
        if wider:
            source = row.get("source") or ""
            cells.append(Text(shown(source if source == "microphone" else PurePath(source).name)))
        table.add_row(*cells)
    return table


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def timeline_figure(rows: list[dict]):
    """Valence and arousal of each detection (oldest first) against the local time it was made.

    A time axis (matplotlib's concise date labels: hours within a day, days
    within a month) keeps gaps between sessions visible and never shows
    fractional tick values.
    """
    from datetime import datetime, timedelta

    import matplotlib.dates as mdates

    fig, ax = new_figure()
    times = [datetime.fromisoformat(r["at"]).astimezone() for r in rows]
    ax.plot(times, [r["valence"] for r in rows], marker="o", label="valence")
    ax.plot(times, [r["arousal"] for r in rows], marker="s", label="arousal")
    for moment, row in zip(times, rows):
        ax.annotate(
            row["emotion"], (moment, row["valence"]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8
        )
    locator = mdates.AutoDateLocator(tz=times[0].tzinfo)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=times[0].tzinfo))
    if len(times) == 1:  # an hour around a lone detection, not matplotlib's default of years
        ax.set_xlim(times[0] - timedelta(minutes=30), times[0] + timedelta(minutes=30))
    ax.set_ylim(-1.1, 1.1)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("when (local time)")
    ax.legend(loc="lower right")
    return fig
