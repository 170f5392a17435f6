"""Benchmark the music-mood model against the hand-written formula on artist-disjoint folds.

One run scores, on the same folds of a labelled folder (``GroupKFold`` by
artist, so no artist is in both training and test): the model's recipe (955
features, logistic regression), the reference recipe (logistic regression on
librosa's usual 235 summary features) and the hand-written formula
(``scan.mood_point``, the baseline, which needs no training). Quadrants
come from the signs of valence and arousal, as the library stores them.
Also: the CPU time of the features for one 30 s excerpt on one thread, and
the shipped model's size.

    python bench/music.py [DATA] [--folds 5] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per process, as in a scan worker
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from moodplayer import paths  # noqa: E402
from moodplayer.music.mood_model import QUADRANTS  # noqa: E402
from moodplayer.music.mood_training import cross_validate, load_dataset  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "music-4q"
RECIPES = (
    ("model", "model: 955 features, LR C=0.01"),
    ("reference", "reference: 235 librosa features, LR C=0.1"),
    ("formula", "formula (scan.mood_point)"),
)


def feature_cpu_ms(folder: Path, files: list[str], count: int = 10) -> float:
    """Mean CPU milliseconds of :func:`mood_features.extract` on ``count`` decoded excerpts."""
    from moodplayer.music.mood_features import extract
    from moodplayer.music.scan import load_excerpt, read_tags

    excerpts = [load_excerpt(str(folder / f), read_tags(folder / f)["duration"]) for f in files[:count]]
    extract(excerpts[0])  # imports and first-call costs
    start = time.process_time()
    for samples in excerpts:
        extract(samples)
    return 1000 * (time.process_time() - start) / len(excerpts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DATA, help="labelled folder (labels.csv)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=None, help="feature extraction processes (default: all cores)")
    args = parser.parse_args()

    started = time.perf_counter()
    dataset = load_dataset(args.data, jobs=args.jobs)
    print(f"features of {len(dataset.clips)} clips: {time.perf_counter() - started:.0f} s (cached after the first run)")
    started = time.perf_counter()
    result = cross_validate(dataset, folds=args.folds)
    print(f"{result['folds']}; fitted in {time.perf_counter() - started:.0f} s\n")
    print(f"{'recipe':44} {'quadrant':>16} {'valence sign':>16} {'arousal sign':>16}")
    for name, label in RECIPES:
        scores = result[name]
        cells = []
        for key in ("quadrant", "valence", "arousal"):
            folds = [fold[key] for fold in scores["per_fold"]]
            cells.append(f"{100 * scores[key]:5.1f} ({100 * min(folds):.0f}-{100 * max(folds):.0f})")
        print(f"{label:44} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16}")
    print("\nmean over folds (range over folds), %; chance: quadrant 25, signs 50")
    for name, _ in RECIPES[:1] + RECIPES[2:]:
        recall = [row[i] / max(1, sum(row)) for i, row in enumerate(result[name]["confusion"])]
        print(f"{name} recall per quadrant: " + ", ".join(f"{q} {100 * r:.0f}" for q, r in zip(QUADRANTS, recall)))
    print(f"features: {feature_cpu_ms(dataset.folder, [c.file for c in dataset.clips]):.0f} ms CPU per 30 s excerpt")
    shipped = paths.shipped_asset("models/music-mood.safetensors")
    if shipped.exists():
        sizes = [shipped.stat().st_size / 1024, shipped.with_suffix(".json").stat().st_size / 1024]
        print(f"shipped model: {sizes[0]:.0f} KB of arrays, {sizes[1]:.0f} KB of metadata")
    print(
        f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; command: python bench/music.py {args.data}"
        f" --folds {args.folds}" + (f" --jobs {args.jobs}" if args.jobs else "")
    )


if __name__ == "__main__":
    main()
