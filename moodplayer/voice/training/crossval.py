"""Scoring on voices a model never heard: speaker folds, and corpora left out.

Cross-validation holds out groups of speakers in turn (:func:`splits.corpus_folds`);
:func:`corpus_out` holds out each corpus in turn, trains on the others and scores
the one left out (among the emotions both hold: closed-set), for how the model
carries to another recording set-up, task and set of voices. Either way a
held-out model trains on every other speaker, with no validation speakers:
nothing of it needs calibrating to be scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from moodplayer.errors import MoodplayerError
from moodplayer.voice.datasets import speakers
from moodplayer.voice.training.evaluation import adapt_plan, score
from moodplayer.voice.training.examples import Example, enrolment_shift
from moodplayer.voice.training.fit import Recipe
from moodplayer.voice.training.metrics import summarise
from moodplayer.voice.training.splits import corpus_folds
from moodplayer.voice.training.workers import PoolReport, train_models

#: Called as each held-out part is scored, with (its number from 1, its result, the model).
OnHeldOut = Callable[[int, dict, object], None]


def held_out_result(
    examples: Sequence[Example], test_names: Sequence[str], model, info: dict, adapt: Sequence[str], seed: int
) -> dict:
    """The scores of held-out speakers under each ``adapt`` mode (the first is the headline), with
    the closed-set figures where they lack some emotions."""
    train = [ex for ex in examples if ex.speaker not in test_names]
    test = [ex for ex in examples if ex.speaker in test_names]
    modes = {mode: score(model, test, mode, seed, enrolment_shift(train)) for mode in adapt}
    first = modes[adapt[0]]
    kept = ("accuracy", "uar", "n", "closed_set")
    return {
        "test_speakers": list(test_names),
        "accuracy": first["accuracy"],
        "uar": first["uar"],
        "n": first["n"],
        "adapt": {mode: {k: r[k] for k in kept if k in r} for mode, r in modes.items()},
        **info,
    }


def _held_out(
    examples: Sequence[Example],
    held: Sequence[Sequence[str]],
    recipe: Recipe,
    seed: int,
    jobs: int,
    report: PoolReport | None,
    on_result: OnHeldOut | None,
    adapt: Sequence[str],
) -> list[dict]:
    """Train a model without each list of ``held`` speakers and score those speakers with it."""
    for mode in adapt:
        adapt_plan([], mode)  # a bad mode fails now, not after an hour of training
    results: dict[int, dict] = {}

    def scored(i: int, model, info: dict) -> None:
        results[i + 1] = held_out_result(examples, held[i], model, info, adapt, seed)
        if on_result:
            on_result(i + 1, results[i + 1], model)

    def numbered(i: int, *args) -> None:
        if report:
            report(i + 1, *args)

    splits = [[s for s in speakers(examples) if s not in names] for names in held]
    train_models(examples, splits, recipe, seed, jobs, numbered, scored, validate=False)
    return [results[i] for i in sorted(results)]


def cross_validate(
    examples: Sequence[Example],
    k: int,
    recipe: Recipe,
    seed: int = 0,
    jobs: int = 1,
    report: PoolReport | None = None,
    on_fold: OnHeldOut | None = None,
    adapt: Sequence[str] = ("none",),
) -> dict:
    """Speaker k-fold cross-validation (:func:`splits.corpus_folds`), mean ± std over the folds.

    The members of all folds' models train ``jobs`` at a time (workers.train_models).
    ``report`` gets (fold, epochs done, epochs, loss, validation UAR);
    ``on_fold`` each fold's result, and its model, as it completes.
    """
    folds = corpus_folds(examples, k)
    results = _held_out(examples, folds, recipe, seed, jobs, report, on_fold, adapt)
    return summarise([{"fold": i, **result} for i, result in enumerate(results, 1)])


def corpus_out(
    examples: Sequence[Example],
    recipe: Recipe,
    seed: int = 0,
    jobs: int = 1,
    report: PoolReport | None = None,
    on_corpus: OnHeldOut | None = None,
    adapt: Sequence[str] = ("none",),
) -> dict[str, dict]:
    """Each corpus scored by a model trained on all the others: corpus → its result (as
    :func:`held_out_result`, with the corpus's ``closed_set`` figures per adapt mode where it
    lacks emotions the others hold)."""
    corpora = sorted({ex.corpus for ex in examples})
    if len(corpora) < 2:
        raise MoodplayerError("leaving a corpus out needs at least two corpora")
    held = [speakers(ex for ex in examples if ex.corpus == corpus) for corpus in corpora]
    results = _held_out(examples, held, recipe, seed, jobs, report, on_corpus, adapt)
    return dict(zip(corpora, results))
