"""How long the listen chain's audio ends take: recording's early stop, and VLC's first audio.

    python bench/latency_listen.py [--runs N] [--busy N]

Needs pulseaudio, pactl and paplay (a private virtual microphone, as in the
tests) and libvlc. Prints, per run and as medians (idle and, with ``--busy
N``, beside N busy-loop processes: each run measures both, in turn; see
bench/busy.py):

- stop: from the end of the speech in the clip (``paplay`` returning, less
  the clip's own trailing silence) to ``record_voice`` returning — the
  trailing-silence wait plus PortAudio's and PulseAudio's buffering;
- vlc_init: ``Player(...)`` (libvlc instance and media player);
- opened: ``play()`` until the "playing" event (libvlc has opened the file
  and knows its length);
- first_audio: ``play()`` until libvlc's playback clock moves (audio is
  being output), through the PulseAudio output (the virtual microphone's
  sink) and through ``dummy``;
- to_emotion, to_first_audio: the whole ``moodplayer listen --json`` chain,
  as its JSON reports them: from the recording's end (``stop`` after the
  speech's end) to the emotion, and to VLC playing the first track (after one
  warm-up run that renders the demo music);
- enrolment: ``moodplayer voice enroll --sentences 4`` from start to a saved
  profile, a sentence played into the microphone at each prompt, with the
  seconds of speech.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from busy import busy_loops, conditions  # noqa: E402
from test_player import write_tone  # noqa: E402
from test_voice import enroll_through_the_mic  # noqa: E402
from vmic import VirtualMic, speech_clip  # noqa: E402

from moodplayer.music.player import Player, Playing  # noqa: E402
from moodplayer.voice.capture import record_voice  # noqa: E402


def trailing_silence(clip: Path) -> float:
    """Seconds of quiet at the end of the clip, after its speech."""
    import soundfile as sf

    from moodplayer.voice.audio import find_speech

    samples, rate = sf.read(clip, dtype="float32")
    return (samples.size - find_speech(samples).end) / rate


def stop_latency(mic: VirtualMic, clip: Path) -> float:
    """Seconds from the end of the clip's speech to the recording's return."""
    finished = {}

    def play() -> None:
        mic.play(clip, delay=0.5).join()
        finished["at"] = time.monotonic()

    threading.Thread(target=play, daemon=True).start()
    record_voice(15.0)
    returned = time.monotonic()
    return returned - finished.get("at", returned) + trailing_silence(clip)


def first_audio(track, aout: str) -> tuple[float, float, float]:
    """Seconds to build the player, then from play() to the "playing" event and to a moving clock."""
    started = time.monotonic()
    player = Player([track], aout=aout)
    built = time.monotonic()
    player.play()
    while not any(isinstance(e, Playing) for e in player.poll()):
        time.sleep(0.002)
    opened = time.monotonic()
    while player.position == 0:
        time.sleep(0.002)
    moving = time.monotonic()
    player.close()
    return built - started, opened - built, moving - built


def listen_chain(mic: VirtualMic, clip: Path, home: Path) -> tuple[float, float]:
    """Seconds from the end of recording to the emotion and to VLC's first audio, per listen's JSON."""
    mic.play(clip, delay=1.0)
    env = {**os.environ, "MOODPLAYER_HOME": str(home), "MOODPLAYER_AOUT": "dummy", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "moodplayer", "listen", "--json", "--no-profile", "--seconds", "10"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"listen failed: {result.stderr.strip()}")
    timings = json.loads(result.stdout.splitlines()[0])["timings_ms"]
    return timings["to_emotion"] / 1000, timings["to_first_audio"] / 1000


def enrolment(mic: VirtualMic, root: Path) -> tuple[float, float]:
    """Wall-clock seconds of a 4-sentence `voice enroll`, and the seconds of speech it kept."""
    root.mkdir(exist_ok=True)
    os.environ["MOODPLAYER_HOME"] = str(root / "enrol-home")
    started = time.monotonic()
    result = enroll_through_the_mic(mic, root, [True] * 4)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"enrolment failed: {result.stderr.strip().splitlines()[-1]}")
    shown = subprocess.run(
        [sys.executable, "-m", "moodplayer", "voice", "show", "--json"], capture_output=True, text=True
    )
    return wall, json.loads(shown.stdout)["seconds"]


def one_run(mic: VirtualMic, clip: Path, track: Path, home: Path, rows: dict[str, list[float]]) -> None:
    """Every figure once, into ``rows`` (seconds)."""
    rows.setdefault("stop", []).append(stop_latency(mic, clip))
    for aout in ("pulse", "dummy"):
        for name, value in zip(("vlc_init", "opened", "first_audio"), first_audio(track, aout)):
            rows.setdefault(f"{name} ({aout})", []).append(value)
    for name, value in zip(("to_emotion", "to_first_audio"), listen_chain(mic, clip, home)):
        rows.setdefault(name, []).append(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="also measure beside N busy-loop processes")
    args = parser.parse_args()
    columns = conditions(args.busy)
    results: dict[str, dict[str, list[float]]] = {name: {} for name, _ in columns}
    with tempfile.TemporaryDirectory() as folder, busy_loops(args.busy) as loops:
        root = Path(folder)
        mic = VirtualMic(root)
        os.environ.update(mic.env)  # this process's PortAudio and libvlc use the private server
        mic.start()
        try:
            clip = speech_clip(root)
            track = write_tone(root / "tone.ogg", 5.0, 440, "Tone")
            listen_chain(mic, clip, root / "home")  # warm-up: the first listen renders the demo music
            for run in range(args.runs):
                for name, busy in columns:
                    rows = results[name]
                    with loops.running(busy):
                        one_run(mic, clip, track, root / "home", rows)
                    print(f"run {run + 1}, {name}: " + "  ".join(f"{k} {v[-1] * 1000:.0f} ms" for k, v in rows.items()))
            for name, busy in columns:
                with loops.running(busy):
                    wall, speech = enrolment(mic, root / name.replace(" ", "-"))
                print(f"{name}: enrolment of 4 sentences, {speech:.1f} s of speech, usable profile after {wall:.1f} s")
        finally:
            mic.stop()
    print(f"medians of {args.runs} runs:")
    print(f"{'':22}" + "".join(f"{name:>12}" for name in results))
    for row in results["idle"]:
        print(f"{row:22}" + "".join(f"{statistics.median(rows[row]) * 1000:9.0f} ms" for rows in results.values()))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine's other work included)")
    print(f"command: python bench/latency_listen.py --runs {args.runs}" + (f" --busy {args.busy}" if args.busy else ""))


if __name__ == "__main__":
    main()
