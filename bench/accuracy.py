"""Accuracy by speaker folds: the training recipe against the classic 180-feature baseline.

    python bench/accuracy.py [DATA_DIR] [--folds 5] [--seed 0] [--jobs 2] [--adapt MODE ...]

Runs the accuracy protocol on the same folds for both (RAVDESS
actors 01-04, 05-08, ... held out in turn; each fold's model trains on all
the other actors) and prints one table: per fold and mean ± std
of accuracy and UAR, with the wall-clock time of each. Each fold's net is also
scored with voice profiles: ``neutral:4`` (each held-out speaker's
first four neutral clips enrol and are not scored) and ``history:20`` (20 of
the speaker's clips, labels unused), side by side with the cold start, each
also as ``…/stats`` (the profile's feature statistics alone, the nets' batch
norms not moved to the voice: what that adds, on the same nets).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=REPO.parent / "shared/data/ravdess-16k")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--adapt", nargs="+", default=["none", "neutral:4", "neutral:4/stats", "history:20", "history:20/stats"]
    )
    args = parser.parse_args()

    import torch

    from moodplayer.voice.datasets import discover
    from moodplayer.voice.features import FeatureConfig
    from moodplayer.voice.training.baseline import baseline_cross_validate
    from moodplayer.voice.training.crossval import cross_validate
    from moodplayer.voice.training.examples import make_examples
    from moodplayer.voice.training.fit import Recipe

    torch.set_num_threads(1)
    recipe = Recipe()
    clips = discover(args.data)
    start = time.perf_counter()
    examples = make_examples(clips, FeatureConfig(), recipe.speeds, recipe.degraded_copies, recipe.speed_views)
    features_s = time.perf_counter() - start
    progress = lambda i, r, _model: print(f"  fold {i}: {r['accuracy']:.1%} ({r['seconds']:.0f} s)", file=sys.stderr)  # noqa: E731
    start = time.perf_counter()
    modes = list(dict.fromkeys(["none", *args.adapt]))
    ours = cross_validate(examples, args.folds, recipe, args.seed, args.jobs, None, progress, modes)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    classic = baseline_cross_validate(clips, args.folds, args.seed)
    classic_s = time.perf_counter() - start

    print(f"{args.data}: {len(examples)} clips, {args.folds} speaker folds, seed {args.seed}")
    print(f"{'fold':<6}{'test speakers':<26}{'LSTM acc':>10}{'LSTM UAR':>10}{'180-MLP acc':>13}{'180-MLP UAR':>13}")
    for a, b in zip(ours["folds"], classic["folds"]):
        names = f"{a['test_speakers'][0]}..{a['test_speakers'][-1]}"
        print(
            f"{a['fold']:<6}{names:<26}{a['accuracy']:>10.1%}{a['uar']:>10.1%}{b['accuracy']:>13.1%}{b['uar']:>13.1%}"
        )
    pm = lambda cv, m: f"{cv[m + '_mean']:.1%}±{cv[m + '_std']:.1%}"  # noqa: E731
    print(
        f"{'mean':<32}{pm(ours, 'accuracy'):>14}{pm(ours, 'uar'):>14}"
        f"{pm(classic, 'accuracy'):>14}{pm(classic, 'uar'):>14}"
    )
    print(f"\nvoice profiles, same nets (mean ± std over {args.folds} folds)")
    print(f"{'adapt':<18}{'accuracy':>14}{'UAR':>14}{'Δ accuracy':>12}   per fold")
    for mode in modes:
        figures = ours["adapt"][mode]
        gain = figures["accuracy_mean"] - ours["adapt"]["none"]["accuracy_mean"]
        per_fold = " ".join(f"{f['adapt'][mode]['accuracy']:.1%}" for f in ours["folds"])
        print(f"{mode:<18}{pm(figures, 'accuracy'):>14}{pm(figures, 'uar'):>14}{gain * 100:>+11.1f}   {per_fold}")
    print(
        f"time: features {features_s:.0f} s, LSTM folds {ours_s:.0f} s ({args.jobs} jobs), baseline {classic_s:.0f} s"
    )


if __name__ == "__main__":
    main()
