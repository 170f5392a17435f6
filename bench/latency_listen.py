"""How long the listen chain's audio ends take: recording's early stop, and VLC's first audio.

    python bench/latency_listen.py [--runs N] [--busy N]

Targets on 2 cores beside two busy processes: end of speech to the emotion
shown <= 0.3 s, to the first audio <= 1.0 s.

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
- speech_end_to_emotion, speech_end_to_audio: ``listen`` (the Listening
  workflow and the terminal's view, in a fresh process as the command runs,
  without a voice profile) from the end of the speech played into the
  microphone (``paplay`` returning, less the clip's trailing silence) to the
  emotion shown (the early verdict at the speaker's pause, or the verdict if
  none came first) and to VLC playing the first track (after one warm-up
  run that renders the demo music); and to_emotion, listen's own figure:
  from the recording's end to the verdict;
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


def listen_chain(mic: VirtualMic, clip: Path, home: Path) -> tuple[float, float, float]:
    """Seconds from the end of the clip's speech to the emotion shown and to VLC's first audio, and
    from the recording's end to the verdict; ``listen`` runs in a fresh process (:func:`timed_listen`)."""
    played: dict[str, float] = {}

    def play() -> None:
        mic.play(clip, delay=1.0).join()
        played["at"] = time.monotonic()

    player = threading.Thread(target=play, daemon=True)
    player.start()
    env = {**os.environ, "MOODPLAYER_HOME": str(home), "MOODPLAYER_AOUT": "dummy", "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(Path(__file__).resolve()), "--listen"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"listen failed: {result.stderr.strip()}")
    player.join()
    speech_end = played["at"] - trailing_silence(clip)
    times = json.loads(result.stdout.splitlines()[-1])
    shown = min(t for t in times["shown"] if t > speech_end)  # an early verdict at a pause within the clip is not it
    return shown - speech_end, times["first_audio"] - speech_end, times["to_emotion"]


def timed_listen() -> None:
    """One ``listen`` from the microphone with the terminal's view, printing (JSON) when each verdict,
    early or not, was shown and when the first audio played (``time.monotonic``, which other processes
    share)."""
    from moodplayer.cli.listen import ListenView
    from moodplayer.listening import Listening

    class Timed(ListenView):
        shown: list[float] = []
        result: dict = {}

        def show_early_verdict(self, prediction) -> None:
            self.shown.append(time.monotonic())
            super().show_early_verdict(prediction)

        def show_verdict(self, prediction, source) -> None:
            self.shown.append(time.monotonic())
            super().show_verdict(prediction, source)

        def report(self, result: dict) -> None:
            self.result = result

        def show_player(self, player, title, listen_again, wrong_mood) -> None:
            player.close()

    ui = Timed(as_json=True)
    listening = Listening(ui, use_profile=False, if_unsure="play", seconds=10.0)
    listening.run()
    clocks = time.monotonic() - time.perf_counter()
    timings = ui.result["timings_ms"]
    first_audio = listening.recording_ended + timings["to_first_audio"] / 1000 + clocks
    print(json.dumps({"shown": ui.shown, "first_audio": first_audio, "to_emotion": timings["to_emotion"] / 1000}))


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
    for name, value in zip(
        ("speech_end_to_emotion", "speech_end_to_audio", "to_emotion"), listen_chain(mic, clip, home)
    ):
        rows.setdefault(name, []).append(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=0, help="also measure beside N busy-loop processes")
    parser.add_argument("--listen", action="store_true", help=argparse.SUPPRESS)  # the timed listen, in a child
    args = parser.parse_args()
    if args.listen:
        timed_listen()
        return
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
    print(f"{'':24}" + "".join(f"{name:>12}" for name in results))
    for row in results["idle"]:
        print(f"{row:24}" + "".join(f"{statistics.median(rows[row]) * 1000:9.0f} ms" for rows in results.values()))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine's other work included)")
    print("targets beside 2 busy: speech_end_to_emotion <= 300 ms, speech_end_to_audio <= 1000 ms")
    print(f"command: python bench/latency_listen.py --runs {args.runs}" + (f" --busy {args.busy}" if args.busy else ""))


if __name__ == "__main__":
    main()
