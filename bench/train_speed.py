"""Training throughput: seconds per epoch of one net of the shipped recipe, alone and two at once.

    python bench/train_speed.py [DATA_DIR] [--epochs 6]

Trains the recipe's first net (``train.fit``: bfloat16 where the CPU computes it
natively) on the first actor fold's training speakers (RAVDESS actors 05-20),
once alone and then two at a time in forked processes of one thread each, as
``train --folds`` runs them, and prints seconds per epoch after a warm-up epoch
(in which oneDNN compiles a kernel for each batch shape, 0.1-3 s each; a 5-fold
run's workers compile them once for all their nets). A 5-fold run trains five
ensembles of the recipe's nets and epochs, two nets at a time: the last line
turns the two-at-once figure into the minutes of training that makes (the goal
is 15 min for the whole run).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: What forked workers inherit: the training clips and the recipe (see train._SHARED).
_SHARED: dict = {}


def seconds_per_epoch(member: int) -> float:
    """Train net ``member`` for the recipe's epochs after a one-epoch warm-up; its seconds per epoch."""
    import torch

    from moodplayer.train import fit

    torch.set_num_threads(1)
    clips, recipe = _SHARED["clips"], _SHARED["recipe"]
    fit(clips, [], replace(recipe, epochs=1), member=member)
    start = time.perf_counter()
    fit(clips, [], recipe, member=member)
    return (time.perf_counter() - start) / recipe.epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=REPO.parent / "shared/data/ravdess-16k")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()

    from moodplayer.datasets import discover, speakers
    from moodplayer.features import FeatureConfig
    from moodplayer.train import Recipe, make_examples, native_bfloat16, speaker_folds

    recipe = Recipe()
    examples = make_examples(discover(args.data), FeatureConfig(), recipe.speeds, recipe.degraded_copies, recipe.speed_views)
    held_out = speaker_folds(speakers(examples), 5)[0]
    _SHARED.update(clips=[ex for ex in examples if ex.speaker not in held_out], recipe=replace(recipe, epochs=args.epochs))
    print(f"{len(_SHARED['clips'])} training clips, {args.epochs} epochs, bfloat16: {native_bfloat16()}")
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        alone = pool.map(seconds_per_epoch, [0])[0]
    with context.Pool(2) as pool:
        together = pool.map(seconds_per_epoch, [0, 1])
    busy = sum(together) / 2
    print(f"one net alone        {alone:.2f} s/epoch")
    print(f"two nets at once     {busy:.2f} s/epoch ({together[0]:.2f}, {together[1]:.2f})")
    nets = 5 * recipe.ensemble
    print(f"5-fold run: {nets} nets × {recipe.epochs} epochs, two at once ≈ {nets * recipe.epochs * busy / 2 / 60:.1f} min of training")


if __name__ == "__main__":
    main()
