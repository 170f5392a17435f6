"""Shared fixtures: an isolated moodplayer home, the shared RAVDESS data, the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# A shell that starts pytest in the background (`pytest &` without job control) has it ignore
# SIGINT, and an ignored signal stays ignored across exec: the Ctrl-C tests' moodplayer processes
# would never see their Ctrl-C. A handler (unlike SIG_IGN) is reset to the default at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parents[1]
RAVDESS = Path(os.environ.get("MOODPLAYER_RAVDESS", REPO.parent / "shared" / "data" / "ravdess-16k"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests (training on RAVDESS) are bounded too, more loosely than the default per-test timeout."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(900))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own MOODPLAYER_HOME: its own database, profiles and cache."""
    home = tmp_path / "home"
    monkeypatch.setenv("MOODPLAYER_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def ravdess() -> Path:
    """The shared RAVDESS tree; tests that need it skip cleanly where it is absent."""
    if not (RAVDESS / "Actor_01").is_dir():
        pytest.skip(f"RAVDESS not found at {RAVDESS}")
    return RAVDESS


def run_cli(*args: str, input: str | None = None, timeout: float = 120, env: dict | None = None):
    """Run the real ``moodplayer`` console entry point in a subprocess, as a user would."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "moodplayer", *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
    )
