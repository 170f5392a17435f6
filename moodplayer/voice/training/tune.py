"""Search for a better training recipe (``moodplayer train --tune N``), with Optuna.

Each trial trains one net with a recipe drawn from :func:`suggest` and is
scored by its best validation UAR: the validation *speakers* that early
stopping already uses, never a test fold. Optuna's TPE sampler (seeded) draws
the next recipes from how earlier ones scored; ``jobs`` trials train at once
in forked processes, one thread each, like cross-validation's folds.

Tuning on a corpus and then cross-validating on the same corpus is optimistic
for the fold that holds the validation speakers; for an honest figure, tune on
some speakers and score others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from moodplayer.errors import MoodplayerError
from moodplayer.voice.datasets import speakers
from moodplayer.voice.training.examples import Example
from moodplayer.voice.training.fit import Recipe
from moodplayer.voice.training.workers import train_split

#: Called after each finished trial with (trial number, recipe fields drawn, validation UAR).
TrialReport = Callable[[int, dict, float], None]

#: What forked trial workers inherit (examples are large; forking shares them for free).
_SHARED: dict = {}


#: The recipe fields the search draws; the others (epochs, speeds, crop length…) stay the base recipe's.
TUNED = ("lr", "weight_decay", "label_smoothing", "speaker_norm", "mixup", "freq_mask_width", "time_mask_width")


def suggest(trial) -> dict:
    """The recipe fields one trial tries: optimiser, regularisation and augmentation strengths."""
    return {
        "lr": trial.suggest_float("lr", 5e-4, 5e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-3, 1e-1, log=True),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.2),
        "speaker_norm": trial.suggest_float("speaker_norm", 0.2, 0.8),
        "mixup": trial.suggest_categorical("mixup", [0.0, 0.2, 0.4]),
        "freq_mask_width": trial.suggest_int("freq_mask_width", 0, 16),
        "time_mask_width": trial.suggest_int("time_mask_width", 0, 40),
    }


def _trial_worker(fields: dict) -> float:
    import torch

    torch.set_num_threads(1)
    examples, base, seed = _SHARED["examples"], _SHARED["base"], _SHARED["seed"]
    _, info = train_split(examples, speakers(examples), replace(base, **fields), seed, None)
    return info["validation_uar"]


def tune(
    examples: Sequence[Example],
    trials: int,
    base: Recipe,
    seed: int = 0,
    jobs: int = 1,
    on_trial: TrialReport | None = None,
) -> tuple[Recipe, list[dict]]:
    """The best recipe found in ``trials`` trials (the base recipe is trial 0), and every trial's result."""
    import multiprocessing

    try:
        import optuna
    except ImportError:
        raise MoodplayerError("--tune needs Optuna, which is not installed: pip install optuna") from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({name: getattr(base, name) for name in TUNED})  # trial 0: what the search must beat
    _SHARED.update(examples=examples, base=base, seed=seed)
    results: list[dict] = []
    try:
        with ProcessPoolExecutor(max(1, jobs), mp_context=multiprocessing.get_context("fork")) as pool:
            while len(results) < trials:
                batch = [study.ask() for _ in range(min(max(1, jobs), trials - len(results)))]
                drawn = [suggest(trial) for trial in batch]
                for trial, fields, value in zip(batch, drawn, pool.map(_trial_worker, drawn)):
                    study.tell(trial, value)
                    results.append({"trial": trial.number, **fields, "validation_uar": value})
                    if on_trial:
                        on_trial(trial.number, fields, value)
    finally:
        _SHARED.clear()
    return replace(base, **study.best_params), results
