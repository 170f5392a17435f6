"""A virtual microphone for tests: a private PulseAudio daemon whose default source hears what we play.

The daemon runs in the foreground as our own child (so it is stopped by its
pid, never by name), on a socket in a temporary folder that ``PULSE_SERVER``
points every client at — the test process's PortAudio (through ALSA's
``pulse``/``default`` devices from libasound2-plugins), ``pactl`` and
``paplay`` — so a user's own sound server is never touched. A null sink takes
what ``paplay`` plays; a virtual source fed by that sink's monitor is the
default source, i.e. the microphone ``record_voice`` opens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from moodplayer.paths import BUNDLED_DATA_DIR

SINK, SOURCE = "vmic_sink", "vmic"
SPEECH = "I am so happy today. The sun is shining."


class VirtualMic:
    """A running private PulseAudio with ``vmic`` as the default source."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "native"
        self.env = {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_RUNTIME_PATH": str(root / "runtime"),
            "PULSE_STATE_PATH": str(root / "state"),
        }
        self.daemon: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, **self.env}
        self.log = open(self.root / "pulseaudio.log", "w")
        self.daemon = subprocess.Popen(
            [
                "pulseaudio",
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--disable-shm=yes",
                f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
                f"--load=module-null-sink sink_name={SINK}",
                f"--load=module-virtual-source source_name={SOURCE} master={SINK}.monitor",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(env)
        self.pactl("set-default-source", SOURCE)

    def _wait_ready(self, env: dict, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pulseaudio did not start: {(self.root / 'pulseaudio.log').read_text()}")
            time.sleep(0.1)

    def pactl(self, *args: str) -> str:
        return subprocess.run(
            ["pactl", *args], env={**os.environ, **self.env}, capture_output=True, text=True, check=True
        ).stdout

    def play(self, clip: Path, delay: float = 0.0) -> threading.Thread:
        """Play ``clip`` into the microphone, in the background, ``delay`` seconds after a program opens it.

        Waiting for the recording stream (not a fixed time from now) keeps the
        tests right on a loaded machine, where a command may take seconds to start.
        """

        def run() -> None:
            self._wait_for_recording()
            time.sleep(delay)
            # Not checked: when a test fails early, the daemon may be gone before the clip starts.
            subprocess.run(
                ["paplay", f"--device={SINK}", str(clip)], env={**os.environ, **self.env}, capture_output=True
            )

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def _wait_for_recording(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                streams = self.pactl("list", "short", "source-outputs").splitlines()
                if any("protocol-native" in stream for stream in streams):  # a client's, not the virtual source's own
                    return
            except subprocess.CalledProcessError:
                return  # the daemon is gone: the test has ended
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the daemon we started, by its pid."""
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.log.close()


def speech_clip(folder: Path) -> Path:
    """A spoken sentence: synthesised by espeak-ng when installed, else the bundled sample voice."""
    if shutil.which("espeak-ng") is None:
        return BUNDLED_DATA_DIR / "sample-voice.flac"
    clip = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(clip), SPEECH], check=True, capture_output=True)
    return clip


@pytest.fixture
def vmic(tmp_path_factory, monkeypatch):
    """A virtual microphone; this process's PortAudio clients see it as the default input."""
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"virtual microphone needs {', '.join(missing)} (packages pulseaudio, pulseaudio-utils)")
    mic = VirtualMic(tmp_path_factory.mktemp("pulse"))
    for name, value in mic.env.items():
        monkeypatch.setenv(name, value)
    mic.start()
    yield mic
    mic.stop()
