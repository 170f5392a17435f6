"""Inference latency as `detect` and `listen` run it, for a 3 s clip: idle and beside busy processes.

    python bench/latency.py [--model PATH] [--runs N] [--busy N]

Nothing here tunes the process or copies the product's code:

- detect: the ``moodplayer detect --json`` command itself, on the clip given
  as many files, in a fresh process per block of runs; the figures are its
  own ``timings_ms`` (features, model; decoding apart), the first file of
  each process (first-call set-up) left out;
- listen: ``Classifier.predict`` on the clip's samples with a voice profile
  (enrolled and heard speech, the model's enrolment shift, batch norms
  moved), the model loaded by ``Classifier.load`` and warmed up in a second
  thread, each call after a pause (``listen`` classifies once the recording
  ends, in a process that has been waiting for the microphone).

``Classifier.load`` sets inference's thread counts for both, as for every
command. The clip is a real 3 s RAVDESS excerpt (a synthetic voiced signal
when the data is absent). With ``--busy N`` the runs take turns, in blocks,
with runs beside N busy-loop processes (bench/busy.py), and both columns print
side by side with their ratio. Prints the median and 90th percentile, the
model's size, and the load average (the machine's other work, which "idle"
does not exclude).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLIP = REPO.parent / "shared/data/ravdess-16k/Actor_01/03-01-05-02-01-01-01.flac"
BLOCK = 50  # runs of each condition in turn
LISTEN_PAUSE_S = 0.1  # before each listen call: the process was waiting for the microphone
ROWS = ("detect: features", "detect: model", "detect: features + model", "listen: with a voice profile")


def three_seconds() -> np.ndarray:
    """A 3 s clip of speech, starting where the speech starts."""
    from moodplayer.voice.audio import SAMPLE_RATE, find_speech, load_audio

    if CLIP.exists():
        samples = load_audio(CLIP)
        start = find_speech(samples).start
        samples = samples[start : start + 3 * SAMPLE_RATE]
        return np.pad(samples, (0, 3 * SAMPLE_RATE - samples.size))
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)  # syllable-like loudness changes
    return (0.2 * envelope * np.sin(2 * np.pi * 150 * t * (1 + 0.1 * np.sin(2 * np.pi * t)))).astype(np.float32)


def loaded_as_listen_does(model: Path | None):
    """The classifier, loaded and warmed up in a second thread (``listen`` loads it while the user speaks)."""
    from moodplayer.voice.classifier import Classifier

    def load():
        classifier = Classifier.load(model)
        classifier.warm_up()
        return classifier

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(load).result()


def a_voice_profile(classifier, samples):
    """A usable profile with both enrolled and heard speech, as after `voice enroll` and some listens."""
    from moodplayer.voice import profiles

    voice = profiles.new_profile("bench", classifier.features)
    for _ in range(3):
        voice.add(samples, classifier.features, enrolment=True)
    profiles.gather_norms(voice, [samples] * 3, classifier)
    for _ in range(2):
        profiles.hear(voice, samples, classifier)
    return voice


def detect_runs(clip: Path, runs: int, model: Path | None, rows: dict[str, list[float]]) -> None:
    """``moodplayer detect --json`` on the clip ``runs`` + 1 times in one process; its timings into ``rows`` (ms)."""
    command = [sys.executable, "-m", "moodplayer", "detect", "--json", "--no-profile", *[str(clip)] * (runs + 1)]
    command += ["--model", str(model)] if model else []
    env = {**os.environ, "MOODPLAYER_HOME": str(clip.parent / "home"), "PYTHONPATH": str(REPO)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    if result.returncode != 0:
        sys.exit(f"detect failed: {result.stderr.strip()}")
    for line in result.stdout.splitlines()[1:]:
        t = json.loads(line)["timings_ms"]
        rows["detect: features"].append(t["features"])
        rows["detect: model"].append(t["model"])
        rows["detect: features + model"].append(t["features"] + t["model"])


def listen_runs(classifier, samples: np.ndarray, voice, runs: int, rows: dict[str, list[float]]) -> None:
    """``listen``'s call, each after a pause, into ``rows`` (ms)."""
    from moodplayer.voice import profiles

    for _ in range(runs):
        time.sleep(LISTEN_PAUSE_S)
        start = time.perf_counter()
        classifier.predict(samples, *profiles.judged_by(voice, classifier))
        rows["listen: with a voice profile"].append((time.perf_counter() - start) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=200, help="runs of each call in each condition")
    parser.add_argument("--busy", type=int, default=0, help="also run beside N busy-loop processes")
    args = parser.parse_args()

    import soundfile as sf
    import torch
    from busy import busy_loops, conditions

    from moodplayer.paths import default_model_path
    from moodplayer.voice.audio import SAMPLE_RATE
    from moodplayer.voice.model import count_parameters

    classifier = loaded_as_listen_does(args.model)
    samples = three_seconds()
    voice = a_voice_profile(classifier, samples)
    columns = conditions(args.busy)
    results = {name: {row: [] for row in ROWS} for name, _ in columns}
    with tempfile.TemporaryDirectory() as folder, busy_loops(args.busy) as loops:
        clip = Path(folder) / "clip.flac"
        sf.write(clip, samples, SAMPLE_RATE)
        listen_runs(classifier, samples, voice, 10, {row: [] for row in ROWS})  # warm-up
        for block in range(0, args.runs, BLOCK):
            for name, busy in columns:
                with loops.running(busy):
                    detect_runs(clip, min(BLOCK, args.runs - block), args.model, results[name])
                    listen_runs(classifier, samples, voice, min(BLOCK, args.runs - block), results[name])
    path = args.model or default_model_path()
    print(f"model      {path}")
    print(f"file size  {path.stat().st_size / 1e6:.2f} MB, {count_parameters(classifier.net):,} parameters")
    print(f"3 s clip, {args.runs} runs each, median / p90; listen's torch threads {torch.get_num_threads()}")
    print_table(results)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine's other work included)")
    command = f"python bench/latency.py --runs {args.runs}" + (f" --busy {args.busy}" if args.busy else "")
    print(f"command: {command}" + (f" --model {args.model}" if args.model else ""))


def print_table(results: dict[str, dict[str, list[float]]]) -> None:
    """One line per timed figure, a column per condition, and busy/idle of the medians."""
    names = list(results)
    print(f"{'':30}" + "".join(f"{name:>18}" for name in names) + ("    busy/idle" if len(names) > 1 else ""))
    for row in ROWS:
        cells = [results[name][row] for name in names]
        line = f"{row:30}" + "".join(f"{statistics.median(c):8.2f} /{np.percentile(c, 90):6.2f} ms" for c in cells)
        if len(cells) > 1:
            line += f"    {statistics.median(cells[1]) / statistics.median(cells[0]):9.2f}"
        print(line)


if __name__ == "__main__":
    main()
