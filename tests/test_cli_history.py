"""``moodplayer history``: detections logged by listen, shown as a table, JSON and a plot."""

from __future__ import annotations

import json

from moodplayer.music.library import Library
from tests.conftest import run_cli


def log_detections(*emotions: str) -> list[int]:
    ids = []
    with Library.open() as lib:
        for i, emotion in enumerate(emotions):
            probabilities = {emotion: 0.7, "neutral": 0.3}
            ids.append(
                lib.record_detection(emotion, probabilities, 0.1 * i, -0.1 * i, "match", f"demo-{emotion}", "test")
            )
    return ids


def test_empty_history_says_so():
    result = run_cli("history")
    assert result.returncode == 0
    assert "no detections yet" in result.stdout


def test_history_lists_newest_first_with_feedback():
    first, _ = log_detections("sad", "happy")
    with Library.open() as lib:
        lib.set_feedback(first, "calm")
    result = run_cli("history", "--json")
    rows = json.loads(result.stdout)
    assert [r["emotion"] for r in rows] == ["happy", "sad"]
    assert rows[1]["feedback"] == "calm"
    table = run_cli("history").stdout
    assert "was calm" in table and "demo-happy" in table


def test_history_plot_writes_a_png(tmp_path):
    log_detections("sad", "neutral", "happy")
    target = tmp_path / "timeline.png"
    result = run_cli("history", "--plot", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_to_an_unwritable_place_is_one_line(tmp_path):
    log_detections("sad")
    result = run_cli("history", "--plot", str(tmp_path / "no" / "such" / "dir" / "t.png"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: cannot write")
    assert "Traceback" not in result.stderr
