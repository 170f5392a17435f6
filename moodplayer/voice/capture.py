"""Recording the user's voice from a microphone (sounddevice / PortAudio).

:func:`record_voice` records 16 kHz mono float32 — what the rest of the chain
expects — hands what it has so far to a callback after each block (the UI
draws a level meter with it), and stops by itself shortly after the speaker
stops talking, so nobody waits out a fixed countdown. When the speaker
pauses, it can hand the speech so far to a second callback, so the emotion
can be shown before the recording has ended.
PortAudio's failures (no device, a busy one, a bad name) become one-line
:class:`DeviceError`\\s.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from moodplayer.errors import DeviceError
from moodplayer.voice.audio import MIN_SPEECH_SECONDS, SAMPLE_RATE, frame_db, voiced_frames

#: Stop this long after the last voiced frame, once speech has been heard.
TRAILING_SILENCE_SECONDS = 0.8
#: A pause this long after speech hands the speech so far to ``on_pause`` (an early verdict).
PAUSE_SECONDS = 0.2
BLOCK_SECONDS = 0.05
#: No audio at all for this long means the input device stopped.
STALL_SECONDS = 3.0
_HOP = 160  # samples between audio.frame_db's levels
_PA_DEVICE_UNAVAILABLE = -9985
_PA_INVALID_DEVICE = -9996
_NO_DEVICE = (
    "no audio input device found (no microphone?); connect one, or choose one with --device (see: moodplayer devices)"
)


def portaudio(rescan: bool = False):
    """sounddevice; with ``rescan``, PortAudio's device list made fresh.

    PortAudio lists devices once, when initialised (at ``import
    sounddevice``); re-initialising it, the way sounddevice's author
    recommends, finds a microphone plugged in — or a sound server started —
    since then. It is done only when asked: re-initialising resets ALSA's
    global configuration, which nothing else should be using at that moment.
    """
    fresh = "sounddevice" not in sys.modules
    try:
        import sounddevice
    except OSError:  # sounddevice raises OSError when the PortAudio library is missing
        raise DeviceError("PortAudio not found; install libportaudio2 (apt) or portaudio (brew)") from None
    if rescan and not fresh:
        sounddevice._terminate()
        sounddevice._initialize()
    return sounddevice


def list_input_devices() -> list[dict]:
    """Every device that can record now: index, name, host API, channels, default rate, and which is the default."""
    sd = portaudio(rescan=True)
    default_input = sd.default.device[0]
    hostapis = sd.query_hostapis()
    return [
        {
            "index": index,
            "name": info["name"],
            "hostapi": hostapis[info["hostapi"]]["name"],
            "channels": info["max_input_channels"],
            "default_samplerate": info["default_samplerate"],
            "default": index == default_input,
        }
        for index, info in enumerate(sd.query_devices())
        if info["max_input_channels"] > 0
    ]


def device_error(exc: Exception, device) -> DeviceError:
    """PortAudio's and sounddevice's errors, said the way a user can act on."""
    message = str(exc.args[0]) if exc.args else str(exc)
    code = exc.args[1] if len(exc.args) > 1 else None
    if "Error querying device -1" in message:
        return DeviceError(_NO_DEVICE)
    if code == _PA_DEVICE_UNAVAILABLE or "Device unavailable" in message or "busy" in message.lower():
        return DeviceError(
            f"the audio input device{_named(device)} is busy (another program is using it); "
            "close that program or choose another with --device"
        )
    if code == _PA_INVALID_DEVICE or "No input device matching" in message or "not an input device" in message:
        return DeviceError(f"no audio input device{_named(device)}; see: moodplayer devices")
    return DeviceError(f"cannot record from the audio input device{_named(device)}: {message}")


def _named(device) -> str:
    return "" if device is None else f" {device!r}"


def check_input(device=None) -> None:
    """:class:`DeviceError` now if ``device`` (default: the default input) cannot record.

    Commands that prompt before they record (``record``, ``voice enroll``)
    call it first, so a missing microphone is said before the first prompt,
    not after the user has read it.
    """
    try:
        _usable_rate(portaudio(), device)
    except DeviceError:  # perhaps only PortAudio's device list is out of date: look again, once
        _usable_rate(portaudio(rescan=True), device)


def record_voice(
    max_seconds: float = 6.0,
    *,
    device=None,
    on_block: Callable[[np.ndarray, int], None] | None = None,
    on_pause: Callable[[np.ndarray], bool] | None = None,
    stop_on_silence: bool = True,
) -> np.ndarray:
    """Record up to ``max_seconds`` of 16 kHz mono float32 from ``device`` (default input).

    Stops :data:`TRAILING_SILENCE_SECONDS` after speech ends when
    ``stop_on_silence``. ``on_block(recorded_so_far, rate)`` is called after
    each block, from this thread (a level meter). ``on_pause(speech_so_far)``
    (16 kHz) is called from this thread once speech has been followed by
    :data:`PAUSE_SECONDS` of quiet, and again after each block until it returns
    True; after that, only when more speech has come and paused. Ctrl-C closes
    the stream and lets the ``KeyboardInterrupt`` through.
    """
    blocks: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()

    def callback(indata, frames, time_info, status):  # PortAudio's thread: only hand the block over
        blocks.put(indata[:, 0].copy())

    try:
        stream, rate = _open(portaudio(), device, callback)
    except DeviceError:  # perhaps only PortAudio's device list is out of date: look again, once
        stream, rate = _open(portaudio(rescan=True), device, callback)
    try:
        with _unwind_on_sigterm():
            samples = _collect(blocks, rate, max_seconds, stop_on_silence, on_block, on_pause)
    finally:
        stream.close()  # also on Ctrl-C: PortAudio discards what is pending and lets the device go
    return _to_16k(samples, rate)


@contextmanager
def _unwind_on_sigterm():
    """While recording, ``kill`` unwinds like Ctrl-C: the stream is closed and the terminal restored.

    Only the main thread may set signal handlers; elsewhere the default stays.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def _open(sd, device, callback):
    """A started input stream on ``device`` and its sample rate; a busy or vanished device fails here."""
    rate = _usable_rate(sd, device)
    try:
        stream = sd.InputStream(
            samplerate=rate,
            channels=1,
            dtype="float32",
            device=device,
            blocksize=int(rate * BLOCK_SECONDS),
            latency="low",
            callback=callback,
        )
    except (sd.PortAudioError, ValueError) as exc:
        raise device_error(exc, device) from None
    try:
        stream.start()
    except sd.PortAudioError as exc:
        stream.close()
        raise device_error(exc, device) from None
    return stream, rate


def _usable_rate(sd, device) -> int:
    """16 kHz when the device takes it (PulseAudio/PipeWire always do), else its own rate, resampled after."""
    try:
        sd.check_input_settings(device=device, channels=1, dtype="float32", samplerate=SAMPLE_RATE)
        return SAMPLE_RATE
    except (sd.PortAudioError, ValueError) as exc:
        try:
            return int(sd.query_devices(device, kind="input")["default_samplerate"])
        except (sd.PortAudioError, ValueError):
            raise device_error(exc, device) from None


def _collect(
    blocks,
    rate: int,
    max_seconds: float,
    stop_on_silence: bool,
    on_block: Callable[[np.ndarray, int], None] | None,
    on_pause: Callable[[np.ndarray], bool] | None = None,
) -> np.ndarray:
    """Gather blocks until ``max_seconds``, or until speech has been followed by enough silence;
    hand the speech so far to ``on_pause`` at each pause after new speech."""
    chunks: list[np.ndarray] = []
    wanted = int(max_seconds * rate)
    received = 0
    handled = 0  # samples (at ``rate``) that on_pause has taken
    while received < wanted:
        try:
            # A device that stalls must not hang us; a slow one (a loaded machine) may lag.
            block = blocks.get(timeout=STALL_SECONDS)
        except queue.Empty:
            raise DeviceError("the audio input device stopped delivering sound") from None
        chunks.append(block)
        received += block.size
        recorded = np.concatenate(chunks)
        if on_block is not None:
            on_block(recorded, rate)
        speech_end, quiet = _speech_end(recorded, rate)
        if speech_end is None:
            continue
        if stop_on_silence and quiet >= TRAILING_SILENCE_SECONDS:
            break
        if on_pause is not None and quiet >= PAUSE_SECONDS and speech_end > handled:
            if on_pause(_to_16k(recorded, rate)):
                handled = recorded.size
    return np.concatenate(chunks)[:wanted] if chunks else np.zeros(0, np.float32)


def _speech_end(samples: np.ndarray, rate: int) -> tuple[int | None, float]:
    """Where the last voiced frame ends (samples) and the seconds of quiet since, once enough
    speech has been heard; ``(None, 0.0)`` before.

    The same energy rule as :func:`audio.find_speech` (frames well above the
    recording's own noise floor, never below absolute silence), applied to
    what has been recorded so far.
    """
    levels = frame_db(samples)
    hop_seconds = _HOP / rate  # frame_db hops 160 samples: 10 ms at 16 kHz
    voiced = voiced_frames(levels)
    if voiced.size * hop_seconds < MIN_SPEECH_SECONDS:
        return None, 0.0
    return (int(voiced[-1]) + 1) * _HOP, (levels.size - 1 - voiced[-1]) * hop_seconds


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples.astype(np.float32, copy=False)
    from moodplayer.voice.audio import to_sample_rate

    return to_sample_rate(samples, rate)
