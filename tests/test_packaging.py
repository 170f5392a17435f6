"""Building the wheel: no warnings from setuptools, the wheel carries what an installed moodplayer
reads, and moodplayer installed from it (not from this tree) runs the demo."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from moodplayer import __version__
from tests.conftest import REPO


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The wheel, built from a copy of the tracked files (the build writes build/ and *.egg-info
    beside them), and what pip said while building it."""
    source = tmp_path_factory.mktemp("source")
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
    (wheel,) = (source / "dist").glob(f"moodplayer-{__version__}-*.whl")  # the version --version prints
    return wheel, result


def test_the_wheel_builds_without_a_warning_and_carries_the_models(build):
    wheel, result = build
    said = (result.stdout + result.stderr).splitlines()
    assert [line for line in said if "warning" in line.lower() or "deprecat" in line.lower()] == []
    names = zipfile.ZipFile(wheel).namelist()
    assert "moodplayer/data/emotion-lstm.safetensors" in names and "moodplayer/data/demo.json" in names
    assert {"moodplayer/data/music-mood.safetensors", "moodplayer/data/music-mood.json"} <= set(names)


@pytest.mark.slow
def test_moodplayer_installed_from_the_wheel_runs_the_demo(build, tmp_path, isolated_home):
    wheel, _ = build
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # The dependencies (torch and the rest) come from this interpreter's site-packages, added after the
    # fresh environment's own; moodplayer's editable-install hook there is not run, so the wheel's wins.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # Without PYTHONPATH, so that pip sees only the fresh environment (and this interpreter's packages).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, capture_output=True, check=True, timeout=240, env=env)

    env.update({"MOODPLAYER_HOME": str(isolated_home), "MOODPLAYER_AOUT": "dummy", "NO_COLOR": "1"})
    show = "from moodplayer import demo, paths; print(paths.__file__, paths.default_model_path(), demo.DEFINITIONS)"
    where = subprocess.run(
        [str(python), "-c", show],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(path).is_relative_to(venv) for path in where), where  # the package, model and playlist: the wheel's
    demo = subprocess.run(
        [str(venv / "bin" / "moodplayer"), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert demo.returncode == 0, demo.stderr
    assert "heard:" in demo.stdout and "▶ The moodplayer Synths –" in demo.stdout
