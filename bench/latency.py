"""Inference latency of the shipped model: features + forward pass for a 3 s clip, one CPU core.

    python bench/latency.py [--model PATH] [--runs N]

Prints the median and 90th percentile (warm) of the classifier's own timings
on a real 3 s RAVDESS excerpt (or a synthetic voiced signal when the data is
absent), the same with a voice profile (enrolled and heard speech, the
model's enrolment shift applied on every clip as ``listen`` does, batch norms
moved to the voice), and the model's file size and parameter count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CLIP = REPO.parent / "shared/data/ravdess-16k/Actor_01/03-01-05-02-01-01-01.flac"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    import torch

    from moodplayer.paths import default_model_path
    from moodplayer.voice import profiles
    from moodplayer.voice.classifier import Classifier
    from moodplayer.voice.model import count_parameters

    torch.set_num_threads(1)
    classifier = Classifier.load(args.model)
    samples = three_seconds()
    for _ in range(10):
        classifier.predict(samples)
    totals, features, model, with_profile = [], [], [], []
    voice = a_voice_profile(classifier, samples)
    for _ in range(args.runs):
        t = classifier.predict(samples).timings_ms
        features.append(t["features"])
        model.append(t["model"])
        totals.append(t["features"] + t["model"])
        start = time.perf_counter()
        classifier.predict(samples, *profiles.judged_by(voice, classifier))
        with_profile.append((time.perf_counter() - start) * 1000)
    path = args.model or default_model_path()
    q90 = lambda xs: float(np.percentile(xs, 90))  # noqa: E731
    print(f"model           {path}")
    print(f"file size       {path.stat().st_size / 1e6:.2f} MB, {count_parameters(classifier.net):,} parameters")
    print(f"3 s clip, 1 thread, {args.runs} warm runs (median / p90):")
    print(f"  features      {statistics.median(features):6.2f} / {q90(features):6.2f} ms")
    print(f"  forward       {statistics.median(model):6.2f} / {q90(model):6.2f} ms")
    print(f"  total         {statistics.median(totals):6.2f} / {q90(totals):6.2f} ms")
    stats, norms = profiles.judged_by(voice, classifier)
    used = (
        "not used: the model was not trained for profiles"
        if stats is None
        else "used" + (", batch norms moved" if norms else "")
    )
    added = statistics.median(with_profile) - statistics.median(totals)
    print(
        f"  with profile  {statistics.median(with_profile):6.2f} / {q90(with_profile):6.2f} ms "
        f"({used}; {added:+.2f} ms)"
    )


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


if __name__ == "__main__":
    main()
