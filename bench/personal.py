"""Personal fine-tuning, measured: one RAVDESS actor plays the user.

    python bench/personal.py [--data DIR] [--users 17 18 19 20] [--base-epochs 20] [--seed 0]

A base model is trained (training.workers.train_split) on the actors 01-20 not named
by --users (01-16 by default), and cached under the moodplayer cache folder so
reruns skip it (keyed by the settings and by the code that trains and runs
it). Each actor named by --users then plays the user: half their
clips (stratified by emotion) are the personal samples the model is adapted
to with personal.fine_tune (rehearsing the base corpus), the other half
measure it. The remaining --users actors, which neither model ever heard,
measure what the adaptation costs everyone else. Clips are heard as the
recipe's model hears them (its test-time speed views, if any), as `train
--personal` tunes on them and `listen` classifies.

Prints, per user and on average: accuracy on the user's held-out half before
and after, accuracy on the other held-out actors before and after, and the
time `adapt` (3-fold before/after report plus the final tuning) takes for 50
personal clips.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "ravdess-16k"


def base_model(examples, data: Path, actors: list[str], epochs: int, seed: int):
    """Train the base model on ``actors`` with `train`'s recipe (fewer epochs), or load it from the cache."""
    from dataclasses import replace

    from moodplayer.paths import cache_dir
    from moodplayer.voice.features import FeatureConfig
    from moodplayer.voice.model import ModelMetadata, load_model, save_model
    from moodplayer.voice.training.fit import Recipe
    from moodplayer.voice.training.workers import train_split

    recipe = replace(Recipe(), epochs=epochs)
    # The code that trains and runs the net is part of the key: a change there retrains the base.
    voice = REPO / "moodplayer" / "voice"
    sources = sorted((voice / "training").glob("*.py")) + [voice / "model.py", voice / "classifier.py"]
    code = b"".join(source.read_bytes() for source in sources)
    settings = json.dumps([actors, recipe.to_dict(), seed, FeatureConfig().key()]).encode()
    key = hashlib.sha256(settings + code).hexdigest()[:12]
    path = cache_dir() / "bench-personal" / f"base-{key}.safetensors"
    if path.is_file():
        net, document = load_model(path)
        return net, ModelMetadata.from_dict(document)
    start = time.perf_counter()
    net, info = train_split(examples, actors, recipe, seed, None)
    print(f"base model trained in {time.perf_counter() - start:.0f} s (epoch kept {info['kept_epoch']})", flush=True)
    metadata = {
        "labels": [],
        "features": FeatureConfig().to_dict(),
        "model": net.config.to_dict(),
        "speaker_normalisation": recipe.speaker_norm > 0,
        "data": {"root": str(data)},
        "split": {"train": [s for s in actors if s not in info["validation_speakers"]]},
    }
    save_model(path, net.state_dict(), metadata)
    return net, ModelMetadata.from_dict(metadata)


def accuracy(net, examples, profiles: dict | None) -> float:
    from moodplayer.voice.training.evaluation import predict_logits

    predicted = predict_logits(net, examples, profiles).argmax(axis=1)
    return float(np.mean(predicted == np.array([ex.label for ex in examples])))


def main() -> None:
    import torch

    from moodplayer.voice import finetune as personal
    from moodplayer.voice.datasets import discover
    from moodplayer.voice.features import FeatureConfig
    from moodplayer.voice.training.examples import make_examples
    from moodplayer.voice.training.fit import Recipe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--users", nargs="+", type=int, default=[17, 18, 19, 20])
    parser.add_argument("--base-epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    base_recipe = Recipe()
    examples = make_examples(
        discover(args.data), FeatureConfig(), base_recipe.speeds, speed_views=base_recipe.speed_views
    )
    held_out = [f"ravdess-{u:02d}" for u in args.users]
    actors = [f"ravdess-{i:02d}" for i in range(1, 21) if f"ravdess-{i:02d}" not in held_out]
    base, metadata = base_model(examples, args.data, actors, args.base_epochs, args.seed)
    recipe = personal.TuneRecipe()
    rows = {"per clip": [], "voice profile": []}
    for user in held_out:
        mine = [ex for ex in examples if ex.speaker == user]
        tune_idx, test_idx = personal.stratified_folds([ex.label for ex in mine], 2, args.seed)
        tune, test = [mine[i] for i in tune_idx], [mine[i] for i in test_idx]
        others = [ex for ex in examples if ex.speaker in held_out and ex.speaker != user]
        rehearsal = personal.rehearsal_examples(metadata, round(recipe.rehearsal * len(tune) * 2), args.seed)
        tuned = personal.fine_tune(base, tune, rehearsal, recipe, args.seed, metadata.trained_for_profiles)
        own_profile = {user: personal.profile_of(tune)}  # the user's profile: their tuning clips
        other_profiles = {
            s: personal.profile_of([ex for ex in others if ex.speaker == s]) for s in held_out if s != user
        }
        for mode, (mine_p, others_p) in {
            "per clip": (None, None),
            "voice profile": (own_profile, other_profiles),
        }.items():
            row = {
                "user_before": accuracy(base, test, mine_p),
                "user_after": accuracy(tuned, test, mine_p),
                "others_before": accuracy(base, others, others_p),
                "others_after": accuracy(tuned, others, others_p),
            }
            rows[mode].append(row)
            print(
                f"{user} ({mode}): own held-out {row['user_before']:.1%} → {row['user_after']:.1%}; "
                f"other held-out actors {row['others_before']:.1%} → {row['others_after']:.1%}",
                flush=True,
            )
    for mode, mode_rows in rows.items():
        mean = {k: float(np.mean([r[k] for r in mode_rows])) for k in mode_rows[0]}
        print(
            f"mean over {len(mode_rows)} users, normalised {mode}: own held-out {mean['user_before']:.1%} → "
            f"{mean['user_after']:.1%} ({100 * (mean['user_after'] - mean['user_before']):+.1f} points); "
            f"other held-out actors {mean['others_before']:.1%} → {mean['others_after']:.1%} "
            f"({100 * (mean['others_after'] - mean['others_before']):+.1f} points)"
        )
    fifty = [ex for ex in examples if ex.speaker == held_out[0]][:50]
    start, cpu = time.perf_counter(), time.process_time()
    _, report = personal.adapt(base, metadata, fifty, recipe, args.seed)
    print(
        f"adapt on 50 clips ({report['folds']}-fold before/after {report['before']:.1%} → {report['after']:.1%}, "
        f"then final tuning): {time.perf_counter() - start:.1f} s wall, "
        f"{time.process_time() - cpu:.1f} s CPU, one thread"
    )
    print("command: python bench/personal.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
