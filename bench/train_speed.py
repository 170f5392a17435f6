"""Training throughput: seconds per epoch of one net of the shipped recipe, alone and two at once.

    python bench/train_speed.py [DATA_DIR] [--epochs 6]

Trains nets of the recipe on the first actor fold's training speakers (RAVDESS
actors 05-20) through ``training.workers.train_models``, the path ``train --folds`` takes
(forked processes of one thread each; bfloat16 where the CPU computes it
natively): one net alone, then two at once as cross-validation runs them. Each
figure is a run of ``epochs + 1`` epochs less a run of one, so that the first
epoch's start-up (oneDNN compiles a kernel for each batch shape, 0.1-3 s each,
once per worker) is left out, as it nearly is from a 5-fold run, whose workers
train ten nets each. A 5-fold run trains five ensembles of the recipe's nets
and epochs, two nets at a time: the last line turns the two-at-once figure into
the minutes of training that makes (the goal is 15 min for the whole run).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def seconds_per_epoch(examples, speakers: list[str], recipe, nets: int, epochs: int) -> float:
    """Seconds an epoch takes each of ``nets`` nets trained at once on ``speakers``' clips."""
    from moodplayer.voice.training.workers import train_models

    def net_seconds(run_epochs: int) -> float:
        run = replace(recipe, epochs=run_epochs, ensemble=nets)
        [(_, info)] = train_models(examples, [speakers], run, seed=0, jobs=nets, validate=False).values()
        return info["seconds"] / nets  # the nets' seconds, summed

    return (net_seconds(epochs + 1) - net_seconds(1)) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=REPO.parent / "shared/data/ravdess-16k")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()

    from moodplayer.voice.datasets import discover, speakers
    from moodplayer.voice.features import FeatureConfig
    from moodplayer.voice.training.examples import make_examples
    from moodplayer.voice.training.fit import Recipe, native_bfloat16
    from moodplayer.voice.training.splits import speaker_folds

    recipe = Recipe()
    examples = make_examples(
        discover(args.data), FeatureConfig(), recipe.speeds, recipe.degraded_copies, recipe.speed_views
    )
    held_out = speaker_folds(speakers(examples), 5)[0]
    training = [name for name in speakers(examples) if name not in held_out]
    clips = sum(ex.speaker in training for ex in examples)
    print(f"{clips} training clips, {args.epochs} epochs, bfloat16: {native_bfloat16()}")
    alone = seconds_per_epoch(examples, training, recipe, 1, args.epochs)
    busy = seconds_per_epoch(examples, training, recipe, 2, args.epochs)
    print(f"one net alone        {alone:.2f} s/epoch")
    print(f"two nets at once     {busy:.2f} s/epoch each")
    nets = 5 * recipe.ensemble
    print(
        f"5-fold run: {nets} nets × {recipe.epochs} epochs, "
        f"two at once ≈ {nets * recipe.epochs * busy / 2 / 60:.1f} min of training"
    )


if __name__ == "__main__":
    main()
