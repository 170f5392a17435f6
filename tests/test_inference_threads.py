"""Every inference command runs on the product's thread counts, whatever the caller's environment asks for."""

from __future__ import annotations

import re

import pytest

from moodplayer.demo import SAMPLE_VOICE
from moodplayer.voice.threads import INFERENCE_THREADS
from tests.conftest import run_cli

#: What a shell tuned for some other program might export.
MANY = {"OMP_NUM_THREADS": "8", "OPENBLAS_NUM_THREADS": "8", "MKL_NUM_THREADS": "8"}


def inference_threads(*args: str, env: dict[str, str]) -> dict[str, int]:
    """Run a command; the thread counts inference runs with, per library, as its debug log (MOODPLAYER_DEBUG) says."""
    result = run_cli(*args, env={**env, "MOODPLAYER_DEBUG": "1"})
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "inference threads:" in line]
    counts: dict[str, int] = {}
    for name, count in re.findall(r"(\w+) (\d+)", line.split("inference threads:")[1]):
        counts[name] = max(counts.get(name, 0), int(count))
    return counts


def labelled_folder(tmp_path):
    """The sample voice filed under two emotions: enough for `evaluate` to score."""
    for emotion in ("happy", "sad"):
        (tmp_path / "data" / emotion).mkdir(parents=True)
        (tmp_path / "data" / emotion / "voice.flac").symlink_to(SAMPLE_VOICE)
    return str(tmp_path / "data")


@pytest.mark.parametrize(
    "command",
    [
        ("detect", "--json", str(SAMPLE_VOICE)),
        ("listen", "--file", str(SAMPLE_VOICE), "--no-play", "--json"),
        ("evaluate", "DATA", "--json"),
    ],
    ids=["detect", "listen", "evaluate"],
)
@pytest.mark.parametrize("env", [{}, MANY], ids=["default", "eight-threads-asked"])
def test_inference_sets_its_own_thread_counts(command, env, tmp_path):
    args = [labelled_folder(tmp_path) if arg == "DATA" else arg for arg in command]
    counts = inference_threads(*args, env=env)
    assert {"torch", "openblas", "openmp"} <= set(counts)
    assert set(counts.values()) == {INFERENCE_THREADS}
