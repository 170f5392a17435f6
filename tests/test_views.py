"""The rich views at a standard 80×24 terminal and wider: nothing cut that a user needs to read."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from moodplayer.emotions import EMOTIONS
from moodplayer.ui.views import history_table, timeline_figure


def rendered(renderable, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.file.getvalue().splitlines()


def detections() -> list[dict]:
    """One of each emotion, with the longest cells a row can hold."""
    return [
        {
            "at": f"2026-11-{5 + i:02d}T21:03:22+00:00",
            "emotion": emotion,
            "probabilities": {emotion: 1.0},
            "valence": -0.55,
            "arousal": 0.5,
            "strategy": "uplift",
            "playlist": f"demo-{emotion}, then my long Sunday evening mix",
            "feedback": "surprised",
            "source": "/home/someone/Music/voice memos/memo 12.m4a",
        }
        for i, emotion in enumerate(EMOTIONS)
    ]


def test_history_fits_80_columns_one_line_per_detection_with_whole_dates_and_feedback():
    lines = rendered(history_table(detections(), 80), 80)
    assert len(lines) == 1 + len(EMOTIONS) and all(len(line) <= 80 for line in lines)
    for line, emotion in zip(lines[1:], EMOTIONS):
        assert re.match(r"2026-11-\d\d \d\d:\d\d  ", line), line  # the date and time whole, not "2026-1…"
        assert f" {emotion} " in line and "100%" in line and "-0.55" in line and "+0.50" in line
        assert line.rstrip().endswith("was surprised") and "demo-" in line and "…" in line


def test_a_wider_terminal_shows_more_not_the_same_stretched():
    narrow, wide = rendered(history_table(detections(), 80), 80), rendered(history_table(detections(), 140), 140)
    assert "strategy" not in narrow[0] and "source" not in narrow[0]
    assert "strategy" in wide[0] and "source" in wide[0]
    assert re.match(r"2026-11-05 \d\d:\d\d:22  ", wide[1]) and "uplift" in wide[1] and "memo 12.m4a" in wide[1]
    assert "/home/someone" not in wide[1]  # the file's name says enough


@pytest.mark.parametrize("count", [1, 2, 8])
def test_the_timeline_runs_along_time_with_no_fractional_ticks(count):
    fig = timeline_figure(detections()[:count])
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels and all(labels)
    assert not any(re.fullmatch(r"-?\d+\.\d+", label) for label in labels), labels
    dated = [*labels, ax.xaxis.get_offset_text().get_text()]  # days as "06", with "2026-Nov" beside them
    assert any(re.search(r"\d\d:\d\d|Nov", label) for label in dated), dated
    assert ax.get_xlim()[1] - ax.get_xlim()[0] < 30  # days, not matplotlib's default span of years
