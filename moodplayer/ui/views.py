"""Rich views of results: a prediction as a panel with a probability bar chart; the moods' playlists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

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
    return Panel(table, title=title or None, title_align="left", expand=False)


def mood_table(mapping: dict[str, list[str]], points: dict[str, tuple[float, float]]) -> Table:
    """Each mood's valence/arousal point and the playlists it plays (names escaped: they are the user's)."""
    from moodplayer.emotions import EMOTIONS

    table = Table("mood", "valence", "arousal", "playlists")
    for emotion in EMOTIONS:
        valence, arousal = points[emotion]
        playlists = ", ".join(escape(name) for name in mapping.get(emotion, [])) or "[dim]–[/]"
        table.add_row(emotion, f"{valence:+.2f}", f"{arousal:+.2f}", playlists)
    return table


def new_figure(width: float = 8.0, height: float = 3.5):
    """A matplotlib figure and axes drawn off-screen (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def save_figure(fig, target) -> None:
    """Write a figure as PNG; an unwritable place is a one-line error, and the figure is freed."""
    import matplotlib.pyplot as plt

    from moodplayer.errors import MoodplayerError

    fig.tight_layout()
    try:
        fig.savefig(target, dpi=100)
    except OSError as exc:
        raise MoodplayerError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        plt.close(fig)
