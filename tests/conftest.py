"""Shared fixtures: an isolated moodplayer home, the shared RAVDESS data, the real CLI."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
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
    """Slow tests (training on RAVDESS) are bounded too, more loosely than the default per-test timeout,
    and run first, then those that speak into the virtual microphone in real time: pytest-xdist's
    workers then finish the short tests side by side instead of one worker ending on a long one."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(900))

    def length(item: pytest.Item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        return 1 if "vmic" in getattr(item, "fixturenames", ()) else 2

    items.sort(key=length)  # stable: file order within each group


@pytest.fixture(scope="session")
def demo_music(request, tmp_path_factory) -> Path:
    """The demo music, rendered once (seconds of synthesis) and kept in pytest's cache until
    :mod:`moodplayer.demo` or its definitions change."""
    from moodplayer import demo

    digest = hashlib.sha256(Path(demo.__file__).read_bytes() + demo.DEFINITIONS.read_bytes()).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("demo-music") if cache is not None else tmp_path_factory.mktemp("demo-music")
    rendered = root / digest
    # pytest-xdist's workers share the cache: the first renders, the others wait for it.
    with open(root.parent / "demo-music.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not rendered.is_dir():
            for old in root.iterdir():  # renders of earlier definitions, or one interrupted
                shutil.rmtree(old)
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("MOODPLAYER_HOME", str(root / "rendering"))
                demo.render_missing()
            (root / "rendering" / "demo-music").rename(rendered)  # complete or absent
            shutil.rmtree(root / "rendering")
    return rendered


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch, demo_music) -> Path:
    """Every test gets its own MOODPLAYER_HOME (its own database, profiles and cache) holding the
    demo music already rendered; ``tmp_path`` stays the test's own, empty."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MOODPLAYER_HOME", str(home))
    shutil.copytree(demo_music, home / "demo-music", copy_function=_link_or_copy)
    return home


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


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


def unsure_model(tmp_path):
    """The shipped model, told to call every prediction below 99 % confidence uncertain."""
    from moodplayer.paths import default_model_path

    source = default_model_path()
    target = tmp_path / source.name
    target.write_bytes(source.read_bytes())
    metadata = json.loads(source.with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**metadata, "uncertain_below": 0.99}))
    return target
