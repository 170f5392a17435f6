"""Recording through real PortAudio: a PulseAudio virtual microphone, and no device at all."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sounddevice
import soundfile as sf
from vmic import speech_clip, vmic  # noqa: F401  (the fixture)

from moodplayer.errors import DeviceError
from moodplayer.ui.meter import RecordingMeter
from moodplayer.voice.audio import SAMPLE_RATE, find_speech
from moodplayer.voice.capture import (
    TRAILING_SILENCE_SECONDS,
    check_input,
    device_error,
    list_input_devices,
    record_voice,
)

REPO = Path(__file__).resolve().parents[1]


def at_16k(path: Path) -> np.ndarray:
    """The clip as the microphone should hear it (scipy's polyphase resampler: no librosa import)."""
    from math import gcd

    from scipy.signal import resample_poly

    samples, rate = sf.read(path, dtype="float32")
    common = gcd(rate, SAMPLE_RATE)
    return resample_poly(samples, SAMPLE_RATE // common, rate // common).astype(np.float32)


def aligned_correlation(recorded: np.ndarray, reference: np.ndarray) -> float:
    """Correlation of the recording with the clip, at the lag where they line up best."""
    from scipy.signal import correlate, correlation_lags

    lags = correlation_lags(recorded.size, reference.size, mode="full")
    lag = int(lags[np.argmax(correlate(recorded, reference, mode="full", method="fft"))])
    rec, ref = recorded[max(lag, 0) :], reference[max(-lag, 0) :]
    n = min(rec.size, ref.size)
    return float(np.corrcoef(rec[:n], ref[:n])[0, 1])


def test_records_the_speech_played_into_the_microphone_and_stops_after_it(vmic, tmp_path):
    clip = speech_clip(tmp_path)
    reference = at_16k(clip)
    vmic.play(clip, delay=1.0)
    recorded = record_voice(15.0)

    assert recorded.dtype == np.float32 and recorded.ndim == 1
    assert aligned_correlation(recorded, reference) > 0.9
    speech = find_speech(recorded)
    assert speech is not None and speech.voiced_seconds > 0.5 * find_speech(reference).voiced_seconds
    trailing = (recorded.size - speech.end) / SAMPLE_RATE
    assert TRAILING_SILENCE_SECONDS - 0.1 <= trailing <= TRAILING_SILENCE_SECONDS + 0.5
    assert recorded.size < 10 * SAMPLE_RATE  # stopped well before the 15 s limit


def test_silence_records_to_the_limit(vmic):
    recorded = record_voice(1.0)
    assert recorded.size == SAMPLE_RATE
    assert find_speech(recorded) is None


def test_lists_the_virtual_microphone_as_default_input(vmic):
    devices = list_input_devices()
    assert {"pulse", "default"} <= {d["name"] for d in devices}
    assert [d["name"] for d in devices if d["default"]] == ["default"]


def test_an_unknown_device_name_is_a_device_error(vmic):
    with pytest.raises(DeviceError, match=r"^no audio input device 'no-such-mic'; see: moodplayer devices$"):
        record_voice(1.0, device="no-such-mic")


def test_checking_the_microphone_before_recording_finds_it_or_names_what_is_wrong(vmic):
    check_input()
    with pytest.raises(DeviceError, match=r"^no audio input device 'no-such-mic'; see: moodplayer devices$"):
        check_input("no-such-mic")


def test_the_meter_shows_what_was_heard_so_far_under_the_level():
    meter = RecordingMeter(6.0, enabled=False)
    recorded = np.full(SAMPLE_RATE, 0.3, np.float32)
    meter.update(recorded, SAMPLE_RATE)
    assert "heard so far" not in meter.render(recorded, SAMPLE_RATE).plain
    meter.show_heard("happy (72%)")
    assert meter.render(recorded, SAMPLE_RATE).plain.splitlines()[1] == "heard so far: happy (72%)"


def has_sound_card() -> bool:
    cards = Path("/proc/asound/cards")
    return cards.exists() and "no soundcards" not in cards.read_text() and cards.read_text().strip() != ""


@pytest.mark.skipif(has_sound_card(), reason="needs a machine without sound cards (as CI is)")
def test_no_input_device_is_a_one_line_device_error(tmp_path, monkeypatch):
    """No reachable sound server and no sound card: PortAudio's 'Error querying device -1'."""
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-server'}")
    assert list_input_devices() == []
    for attempt in (lambda: record_voice(1.0), check_input):
        with pytest.raises(DeviceError, match=r"^no audio input device found \(no microphone\?\)"):
            attempt()


def test_a_busy_device_is_said_plainly():
    """PortAudio's 'Device unavailable' (no busy device can be made without hardware, so its error is built here)."""
    busy = sounddevice.PortAudioError("Error opening InputStream: Device unavailable", -9985)
    message = str(device_error(busy, "hw:1,0"))
    assert message.startswith("the audio input device 'hw:1,0' is busy (another program is using it)")


def test_meter_hints():
    quiet = np.full(2 * SAMPLE_RATE, 0.001, np.float32)
    assert RecordingMeter.hint(quiet, 2.0, 0.001).startswith("too quiet")
    assert RecordingMeter.hint(quiet, 1.0, 0.001) == ""  # too early to judge
    assert RecordingMeter.hint(quiet, 2.0, 1.0).startswith("clipping")
    assert RecordingMeter.hint(np.full(SAMPLE_RATE, 0.3, np.float32), 2.0, 0.3) == ""


RECORD_UNTIL_INTERRUPTED = """
from moodplayer.cli import app, main
from moodplayer.voice.capture import record_voice

@app.command("record-test")
def record_test():
    print("recording", flush=True)
    record_voice(30.0)

main(["record-test"])
"""


@pytest.mark.parametrize(
    ("signum", "code", "message"), [(signal.SIGINT, 130, "error: interrupted\n"), (signal.SIGTERM, 143, "")]
)
def test_ctrl_c_or_kill_while_recording_ends_cleanly(vmic, signum, code, message):
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", RECORD_UNTIL_INTERRUPTED],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "recording\n"
    time.sleep(1.0)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == code
    assert stderr == message


def test_devices_command_lists_the_virtual_microphone(vmic):
    import json

    from conftest import run_cli

    result = run_cli("devices", "--json")
    assert result.returncode == 0, result.stderr
    default = [d for d in json.loads(result.stdout) if d["default"]]
    assert [d["name"] for d in default] == ["default"] and default[0]["channels"] > 0
    table = run_cli("devices")
    assert re.search(r"^\* +\d+  default  \(ALSA, \d+ ch, \d+ Hz\)$", table.stdout, re.M)


@pytest.mark.skipif(has_sound_card(), reason="needs a machine without sound cards (as CI is)")
def test_a_microphone_that_appears_after_portaudio_started_is_found(tmp_path, monkeypatch):
    from vmic import VirtualMic

    from moodplayer.voice.capture import portaudio

    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'not-yet'}")
    assert len(portaudio(rescan=True).query_devices()) == 0  # nothing to record from, yet
    if shutil.which("pulseaudio") is None:
        pytest.skip("virtual microphone needs pulseaudio")
    mic = VirtualMic(tmp_path)
    for name, value in mic.env.items():
        monkeypatch.setenv(name, value)
    mic.start()
    try:
        assert record_voice(0.5).size == SAMPLE_RATE // 2
    finally:
        mic.stop()
