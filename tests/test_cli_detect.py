"""``moodplayer detect``: one JSON line per good file, one error line per bad one, exit 1 if any."""

from __future__ import annotations

import json

import numpy as np
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
