"""``moodplayer detect``: one JSON line per good file, one error line per bad one, exit 1 if any."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from moodplayer.demo import SAMPLE_VOICE
from moodplayer.emotions import EMOTIONS
from tests.conftest import run_cli


def test_bad_files_are_reported_and_the_good_ones_still_classified(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    silent = tmp_path / "silent.flac"
    sf.write(silent, np.zeros(32_000, np.float32), 16_000)
    missing = tmp_path / "missing.ogg"
    result = run_cli("detect", "--json", str(empty), str(SAMPLE_VOICE), str(silent), str(missing))
    assert result.returncode == 1
    (line,) = result.stdout.strip().splitlines()
    report = json.loads(line)
    assert report["file"] == str(SAMPLE_VOICE) and report["emotion"] in EMOTIONS
    assert set(report["probabilities"]) == set(EMOTIONS)
    assert abs(sum(report["probabilities"].values()) - 1) < 1e-3
    assert set(report["timings_ms"]) == {"load", "features", "model"}
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("error: ") for e in errors)
    assert "empty" in errors[0] and "no speech heard" in errors[1] and "no such file" in errors[2]


def test_detect_shows_a_panel_per_file():
    result = run_cli("detect", str(SAMPLE_VOICE))
    assert result.returncode == 0, result.stderr
    assert "heard:" in result.stdout and "valence" in result.stdout


def test_paths_given_with_a_tilde_or_a_variable_are_expanded(tmp_path):
    """Quoted, or after `=`, a shell leaves `~` and `$VAR` as typed; every path option and argument expands them."""
    (tmp_path / "voice memos").mkdir()
    (tmp_path / "voice memos" / "memo.flac").write_bytes(SAMPLE_VOICE.read_bytes())
    env = {"HOME": str(tmp_path), "MEMOS": str(tmp_path / "voice memos")}
    result = run_cli("detect", "--json", "~/voice memos/memo.flac", "$MEMOS/memo.flac", env=env)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["file"] for line in result.stdout.splitlines()] == [
        str(tmp_path / "voice memos" / "memo.flac")
    ] * 2
    plotted = run_cli("history", "--plot=~/timeline.png", env=env)
    assert plotted.returncode == 0, plotted.stderr
    assert (tmp_path / "timeline.png").is_file()


def test_each_detection_is_logged_with_its_file_and_history_shows_it(tmp_path):
    memo = tmp_path / "memo.flac"
    memo.write_bytes(SAMPLE_VOICE.read_bytes())
    detected = json.loads(run_cli("detect", "--json", str(memo)).stdout)
    (row,) = json.loads(run_cli("history", "--json").stdout)
    assert row["source"] == str(memo) and row["emotion"] == detected["emotion"]
    assert row["probabilities"] == pytest.approx(detected["probabilities"], abs=1e-4)  # --json rounds to 4 places
    assert row["playlist"] is None and row["strategy"] is None
    shown = run_cli("history", env={"COLUMNS": "120"}).stdout
    assert detected["emotion"] in shown and "memo.flac" in shown
