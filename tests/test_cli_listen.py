"""``listen`` and ``demo`` as a user runs them: the whole chain in a subprocess with the real model, SQLite
and libvlc. The workflow's cases are tested in-process in test_listening.py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from moodplayer.demo import SAMPLE_VOICE
from moodplayer.emotions import EMOTIONS
from moodplayer.music.library import Library
from moodplayer.music.scan import describe
from tests.conftest import REPO, run_cli, unsure_model

SILENT_VLC = {"MOODPLAYER_AOUT": "dummy"}


def short_playlist(tmp_path, name="short", seconds=1.0, count=2) -> list[str]:
    """A playlist of ``count`` short tones, mapped to every mood."""
    files = []
    for i in range(count):
        path = tmp_path / f"tone-{i}.wav"
        t = np.arange(int(seconds * 22_050)) / 22_050
        sf.write(path, 0.3 * np.sin(2 * np.pi * (330 + 110 * i) * t), 22_050)
        files.append(str(path))
    with Library.open() as lib:
        lib.create_playlist(name)
        lib.add_tracks(name, describe(files))
        for emotion in EMOTIONS:
            lib.set_mood_playlists(emotion, [name])
    return files


def test_listen_file_json_detects_plans_and_logs():
    result = run_cli("listen", "--file", str(SAMPLE_VOICE), "--no-play", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["emotion"] in EMOTIONS
    assert data["playlists"] == [f"demo-{data['emotion']}"]
    assert len(data["tracks"]) == 2
    assert set(data["timings_ms"]) >= {"features", "model", "to_emotion"}
    with Library.open() as lib:
        (row,) = lib.history()
    assert row["emotion"] == data["emotion"] and row["playlist"] == data["playlists"][0]


def test_the_default_strategy_can_be_set_in_the_environment():
    set_up = {"MOODPLAYER_STRATEGY": "uplift"}
    data = json.loads(run_cli("listen", "--mood", "sad", "--no-play", "--json", env=set_up).stdout)
    assert data["strategy"] == "uplift" and data["playlists"][-1] == "demo-happy"


def test_listen_plays_the_queue_to_the_end_when_piped(tmp_path):
    files = short_playlist(tmp_path)
    result = run_cli("listen", "--file", str(SAMPLE_VOICE), env=SILENT_VLC)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("▶") == len(files)


def test_listen_json_while_playing_reports_time_to_first_audio_and_keeps_stdout_json(tmp_path):
    short_playlist(tmp_path)
    result = run_cli("listen", "--file", str(SAMPLE_VOICE), "--json", env=SILENT_VLC)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.strip().splitlines()
    timings = json.loads(line)["timings_ms"]
    assert 0 < timings["to_emotion"] < timings["to_first_audio"]
    assert "▶" in result.stderr


def test_unknown_mood_is_a_usage_error():
    result = run_cli("listen", "--mood", "grumpy", "--no-play")
    assert result.returncode == 2
    assert "unknown emotion 'grumpy'" in result.stderr


def test_ctrl_c_during_playback_exits_130_and_keeps_history(tmp_path, isolated_home):
    short_playlist(tmp_path, seconds=20.0, count=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "moodplayer", "listen", "--file", str(SAMPLE_VOICE)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **SILENT_VLC, "MOODPLAYER_HOME": str(isolated_home)},
    )
    deadline = time.time() + 60
    line = ""
    while "▶" not in line and time.time() < deadline:
        line = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    with Library.open() as lib:
        assert len(lib.history()) == 1


def test_demo_runs_the_whole_chain():
    result = run_cli("demo", env=SILENT_VLC, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "heard:" in result.stdout
    assert re.search(r"→ playlist demo-\w+ \(1 track of its 2, strategy match\)", result.stdout), result.stdout
    assert len(re.findall("▶ The moodplayer Synths –", result.stdout)) == 1


def test_if_unsure_takes_ask_play_or_an_emotion():
    result = run_cli("listen", "--file", str(SAMPLE_VOICE), "--if-unsure", "maybe", "--no-play")
    assert result.returncode == 2 and "expected ask, play or an emotion" in result.stderr


def test_when_unsure_and_nobody_to_ask_what_was_heard_is_played(tmp_path):
    model = str(unsure_model(tmp_path))
    result = run_cli("listen", "--file", str(SAMPLE_VOICE), "--model", model, "--no-play", "--json")
    data = json.loads(result.stdout)
    assert data["playlists"] == [f"demo-{data['emotion']}"]
    assert "warning: not sure what I heard" in result.stderr and "playing it anyway" in result.stderr


@pytest.mark.parametrize("how", [("--strategy", "bogus"), ("--strategy=bogus",), ("--mood", "grumpy")])
def test_a_wrong_option_is_refused_before_anything_is_recorded_or_logged(how, tmp_path):
    """From the microphone (none here, or a silent one): the option is refused first, never the recording."""
    env = {"PULSE_SERVER": f"unix:{tmp_path / 'no-server'}"}
    result = run_cli("listen", *how, "--no-play", env=env)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and line.endswith("(see: moodplayer listen --help)")
    assert ("'match', 'uplift'" in line) if "bogus" in "".join(how) else ("unknown emotion 'grumpy'" in line)
    assert "microphone" not in line and "input device" not in line
    with Library.open() as lib:
        assert lib.history() == []
