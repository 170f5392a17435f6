"""Building the wheel: no warnings from setuptools, and the wheel carries what an installed moodplayer reads."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from moodplayer import __version__
from tests.conftest import REPO


def test_the_wheel_builds_without_a_warning_and_carries_the_models(tmp_path):
    source = tmp_path / "source"  # a copy of the tracked files: the build writes build/ and *.egg-info beside them
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / name).read_bytes())
    # Byte-compiling switched off in the environment is the caller's choice, and setuptools says so.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    command = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-v", "-w", "dist"]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr
    said = (result.stdout + result.stderr).splitlines()
    assert [line for line in said if "warning" in line.lower() or "deprecat" in line.lower()] == []
    (wheel,) = (source / "dist").glob(f"moodplayer-{__version__}-*.whl")  # the version --version prints
    names = zipfile.ZipFile(wheel).namelist()
    assert "moodplayer/data/emotion-lstm.safetensors" in names and "moodplayer/data/demo.json" in names
    assert {"moodplayer/data/music-mood.safetensors", "moodplayer/data/music-mood.json"} <= set(names)
